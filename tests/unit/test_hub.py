from __future__ import annotations

import asyncio

from streaming_umap.jobs.hub import Hub


def frame(seq: int, kind: str = "progress") -> dict[str, object]:
    return {"type": kind, "seq": seq}


def test_progress_frames_coalesce_but_important_ones_queue() -> None:
    async def main() -> None:
        hub = Hub()
        box = hub.subscribe("j")
        for seq in range(1, 50):
            hub.publish("j", frame(seq))
        hub.publish("j", frame(50, "paused"), important=True)
        hub.publish("j", frame(51))
        await asyncio.wait_for(box.wait(), 1)
        frames, layout = box.take()
        assert [f["seq"] for f in frames] == [50, 51] and layout is None
    asyncio.run(main())


def test_an_important_frame_supersedes_older_progress() -> None:
    hub = Hub()
    box = hub.subscribe("j")
    hub.publish("j", frame(1))
    hub.publish("j", frame(2, "completed"), important=True)
    assert [f["type"] for f in box.take()[0]] == ["completed"]


def test_overflow_marks_the_subscriber_and_spares_the_others() -> None:
    hub = Hub()
    slow, fast = hub.subscribe("j"), hub.subscribe("j")
    slow.max_important = 5
    for seq in range(10):
        hub.publish("j", frame(seq, "paused"), important=True)
        fast.take()
    assert slow.overflowed and not fast.overflowed


def test_layouts_go_to_live_subscribers_only() -> None:
    hub = Hub()
    plain, live = hub.subscribe("j"), hub.subscribe("j", live_every=5)
    assert hub.live_every("j") == 5
    hub.publish_layout("j", {"type": "layout"}, b"\x00" * 8)
    assert plain.take()[1] is None and live.take()[1] is not None
    hub.unsubscribe(live)
    assert hub.live_every("j") == 0 and hub.subscribers("j") == 1
