"""Progress bars for long work, with a rate in frames per second."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


@contextmanager
def frame_progress(
    console: Console, description: str, total: int | None, *, transient: bool = False
) -> Iterator[Callable[..., None]]:
    """Show a bar of ``total`` frames (unknown: None); yields ``advance(frames=1)`` to count."""
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
    )
    with progress:
        task = progress.add_task(description, total=total, rate="")

        def advance(frames: int = 1) -> None:
            progress.advance(task, frames)
            speed = progress.tasks[task].speed
            progress.update(task, rate=f"{speed:6.1f} frames/s" if speed else "")

        yield advance
