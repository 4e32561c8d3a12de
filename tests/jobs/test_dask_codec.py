from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("distributed")

from streaming_umap.jobs import protocol as msg  # noqa: E402
from streaming_umap.jobs.executors._dask_worker import decode, encode  # noqa: E402


def test_events_survive_msgpack_with_their_arrays() -> None:
    import msgpack

    layout = msg.Layout("j", 40, np.arange(12, dtype=np.float32).reshape(6, 2))
    done = msg.Done("j", {"n_rows": 6, "n_components": 2}, ["n_neighbors clamped"])
    immediate = msg.ImmediateDone(3, {"labels": np.array([0, 1, -1], dtype=np.int32), "n_clusters": 2})
    for message in (layout, done, immediate, msg.Progress("j", 3, {"epoch": 3}, 1.5)):
        wire = msgpack.unpackb(msgpack.packb(encode(message)))
        back = decode(wire)
        assert type(back) is type(message)
    back_layout = decode(msgpack.unpackb(msgpack.packb(encode(layout))))
    assert isinstance(back_layout, msg.Layout) and np.array_equal(back_layout.embedding, layout.embedding)
    back_labels = decode(msgpack.unpackb(msgpack.packb(encode(immediate))))
    assert isinstance(back_labels, msg.ImmediateDone)
    assert back_labels.payload["labels"].dtype == np.int32
