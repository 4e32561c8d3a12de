"""Epoch-level checkpoints inside umap-learn, without editing the installed library.

umap-learn's layout loop is ``for n in tqdm(range(n_epochs), **tqdm_kwds)`` in
``umap.layouts`` (0.5.x), and it updates the embedding in place each epoch. While a
fit runs inside :func:`epoch_checkpoints`, that module's ``tqdm`` name points to a
generator that reports each epoch to the checkpoint, which may block (pause) or raise
JobCancelled (cancel): the loop is plain Python, so the exception unwinds the fit
cleanly. For live layouts the generator reads the embedding being optimised from the
loop's frame (``head_embedding``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from .checkpoint import Checkpoint


def _epochs(iterable: Iterable[int], cp: Checkpoint, total_points: int) -> Iterator[int]:
    epochs = list(iterable)
    total = len(epochs)
    cp.stage("layout", total)
    for n in epochs:
        yield n
        done = n + 1
        if cp.wants_layout(done):
            caller = sys._getframe(1)
            embedding = caller.f_locals.get("head_embedding")
            if embedding is not None:
                cp.layout(done, embedding)
        cp.advance(done, epoch=done, total_epochs=total, processed_points=total_points)


@contextmanager
def epoch_checkpoints(cp: Checkpoint, total_points: int) -> Iterator[None]:
    from umap import layouts

    original = layouts.tqdm

    def patched(iterable: Iterable[int], *args: Any, **kwargs: Any) -> Iterator[int]:
        return _epochs(iterable, cp, total_points)

    layouts.tqdm = patched
    try:
        yield
    finally:
        layouts.tqdm = original
