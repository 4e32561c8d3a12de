"""Private parts of :mod:`streaming_umap.client`; import from there."""
