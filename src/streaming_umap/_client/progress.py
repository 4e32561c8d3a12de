"""A tqdm progress bar fed by frames: percent done, the stage, and the server's ETA.

``tqdm.auto`` picks a widget in notebooks and text in terminals. The ETA shown is
the server's (its cost model knows the stages to come), not tqdm's rate guess.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from .models import Frame

BAR_FORMAT = "{desc}: {percentage:5.1f}%|{bar}| {elapsed}{postfix}"


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class ProgressBar:
    """Context manager; ``update(frame)`` moves the bar. Closed on exit."""

    def __init__(self, label: str, **tqdm_kwargs: Any) -> None:
        from tqdm.auto import tqdm

        options: dict[str, Any] = {"total": 100.0, "bar_format": BAR_FORMAT, "desc": label,
                                   "mininterval": 0.1, "dynamic_ncols": True}
        options.update(tqdm_kwargs)
        self.label = label
        self._bar = tqdm(**options)

    def update(self, frame: Frame) -> None:
        bar = self._bar
        bar.n = 100.0 if frame.status == "completed" else min(100.0, frame.progress_percentage)
        bar.set_description_str(f"{self.label} [{frame.stage}]", refresh=False)
        if frame.status == "paused":
            postfix = "paused"
        elif frame.terminal:
            postfix = frame.status
        else:
            postfix = f"ETA {format_eta(frame.eta_seconds)}"
        bar.set_postfix_str(postfix, refresh=False)
        bar.refresh()

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
