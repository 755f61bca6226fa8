"""Where an indexing run's read outcomes come from, in plan order: decode threads of this process (here), or a Ray
cluster's read tasks and encoder actors (indexer.cluster.reads). The run takes them one at a time either way."""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from indexer.ingest.plan import PlannedFile
from indexer.ingest.read import FileReader, ReadOutcome


class ReadSource(Protocol):
    def outcomes(self, todo: Sequence[PlannedFile]) -> Generator[ReadOutcome, None, None]:
        """One outcome per planned file, in the plan's order; closing the generator stops the reads ahead."""
        ...

    def upcoming(self) -> ReadOutcome | None:
        """The next outcome if it is ready now (a video read ahead can start sampling early), else None."""
        ...


class ThreadedReads:
    """Reads run in a thread pool ahead of the encoder by a bounded window: enough to keep it busy, not the whole
    run in memory."""

    def __init__(self, reader: FileReader, workers: int, window: int) -> None:
        self.reader = reader
        self.workers = workers
        self.window = window
        self._pending: deque[Future[ReadOutcome]] = deque()

    def outcomes(self, todo: Sequence[PlannedFile]) -> Generator[ReadOutcome, None, None]:
        with ThreadPoolExecutor(self.workers, thread_name_prefix="decode") as pool:
            pending = self._pending
            try:
                for item in todo:
                    pending.append(pool.submit(self.reader.read, item))
                    if len(pending) >= self.window:
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
            finally:  # the run stopped early (Ctrl-C, an error): reads not started yet never start
                for future in pending:
                    future.cancel()
                pending.clear()

    def upcoming(self) -> ReadOutcome | None:
        if not self._pending or not self._pending[0].done() or self._pending[0].exception() is not None:
            return None
        return self._pending[0].result()
