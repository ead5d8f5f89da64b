"""Progress bars for long work: frames with a rate in frames per second, and training epochs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

if TYPE_CHECKING:
    from robotops.train.loop import EpochMetrics


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


class TrainBars:
    """A training run's bars: decoding frames, then one bar per epoch with loss and accuracy.

    Implements :class:`robotops.train.run.RunProgress`. Finished epochs stay on screen with their
    validation figures, a star marking each new best.
    """

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self._frames: TaskID | None = None
        self._task: TaskID | None = None
        self._samples = 0
        self._epochs = 0

    def __enter__(self) -> TrainBars:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def frames(self, count: int) -> None:
        """Frames decoded and preprocessed (only when the input cache is cold)."""
        if self._frames is None:
            self._frames = self._progress.add_task("decoding frames", total=None, stats="")
        self._progress.advance(self._frames, count)

    def start(self, samples: int, first_epoch: int, epochs: int) -> None:
        """Training begins at ``first_epoch`` of ``epochs``, ``samples`` per epoch."""
        if self._frames is not None:
            self._progress.update(self._frames, total=self._progress.tasks[self._frames].completed)
        self._samples, self._epochs = samples, epochs
        self._new_epoch(first_epoch)

    def batch(self, samples: int, loss: float, accuracy: float) -> None:
        """A batch is done; ``loss`` and ``accuracy`` are the epoch's running figures."""
        if self._task is not None:
            stats = f"loss {loss:.3f} acc {accuracy:.3f}"
            self._progress.update(self._task, advance=samples, stats=stats)

    def epoch(self, metrics: EpochMetrics, improved: bool) -> None:
        """An epoch is done: show its figures and open the next epoch's bar."""
        if self._task is not None:
            stats = (
                f"loss {metrics.train_loss:.3f} acc {metrics.train_acc:.3f} | "
                f"val loss {metrics.val_loss:.3f} acc {metrics.val_acc:.3f}"
                + (" [green]*best[/]" if improved else "")
            )
            self._progress.update(self._task, completed=self._samples, stats=stats)
        if metrics.epoch < self._epochs:
            self._new_epoch(metrics.epoch + 1)

    def _new_epoch(self, epoch: int) -> None:
        self._task = self._progress.add_task(
            f"epoch {epoch}/{self._epochs}", total=self._samples, stats=""
        )
