"""Private parts of :mod:`streaming_umap.cli`."""
