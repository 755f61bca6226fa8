"""Progress for long work: files done, rate and ETA on a terminal; nothing with --quiet."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class FilesPerSecond(TextColumn):
    def __init__(self) -> None:
        super().__init__("")

    def render(self, task):  # type: ignore[no-untyped-def]
        speed = task.finished_speed or task.speed
        return f"{speed:,.1f} files/s" if speed else "… files/s"


class ProgressReporter:
    """A thin wrapper so the pipeline does not care whether anyone is watching."""

    def __init__(self, quiet: bool = False, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            FilesPerSecond(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            disable=quiet,
            transient=False,
        )
        self._task: TaskID | None = None

    def start(self, description: str, total: int) -> None:
        self._task = self._progress.add_task(description, total=total, name=description)

    def status(self, detail: str | None) -> None:
        """What the current file is at, beside the task's name (a long video's position); None clears it."""
        if self._task is not None:
            description = self._progress.tasks[self._task].fields.get("name", "")
            self._progress.update(self._task, description=f"{description} · {detail}" if detail else description)

    def advance(self, count: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, count)

    def __enter__(self) -> ProgressReporter:
        self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()
