"""The watcher's memory between batches: what to look at again and when, and what has been missing since when."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


class Rechecks:
    """Paths to look at again at a given time: files still being written, rows kept while their file is missing,
    batches that failed. A path asked for twice is looked at the earlier time."""

    def __init__(self) -> None:
        self._due: dict[str, float] = {}

    def add(self, paths: Iterable[str], at: float) -> None:
        for path in paths:
            self._due[path] = min(at, self._due.get(path, at))

    def due(self, now: float) -> set[str]:
        ready = {path for path, at in self._due.items() if at <= now}
        for path in ready:
            del self._due[path]
        return ready

    def __len__(self) -> int:
        return len(self._due)


class MissingClock:
    """Since when each missing file has been missing. A run asks `keep(path)` before removing a missing file's row:
    within `grace` seconds of the first time it was asked, the row is kept, so that a move whose arrival reaches
    the watcher after its departure still finds the row and keeps its id and vector."""

    def __init__(self, grace: float, clock: Callable[[], float]) -> None:
        self.grace = grace
        self.clock = clock
        self._since: dict[str, float] = {}

    def keep(self, path: str) -> bool:
        now = self.clock()
        since = self._since.setdefault(path, now)
        if now - since < self.grace:
            return True
        del self._since[path]
        return False

    def expires(self, path: str) -> float:
        return self._since.get(path, self.clock()) + self.grace

    def forget_expired(self, paths: Iterable[str]) -> None:
        """Drop paths whose grace is over but that no run asked about again (their row moved away meanwhile)."""
        now = self.clock()
        for path in paths:
            if path in self._since and now - self._since[path] >= self.grace:
                del self._since[path]


@dataclass
class Retries:
    """Paths of failed batches, tried again with a growing delay, and given up on after `max_attempts`."""

    first_delay: float
    max_attempts: int = 5
    max_delay: float = 300.0
    _attempts: dict[str, int] = field(default_factory=dict)

    def failed(self, paths: Iterable[str]) -> tuple[list[str], list[str], float]:
        """(paths to try again, paths given up on, delay before the next try)."""
        again, given_up = [], []
        attempt = 0
        for path in paths:
            self._attempts[path] = self._attempts.get(path, 0) + 1
            attempt = max(attempt, self._attempts[path])
            if self._attempts[path] < self.max_attempts:
                again.append(path)
            else:
                given_up.append(path)
                del self._attempts[path]
        delay = min(self.max_delay, self.first_delay * 2 ** (attempt - 1))
        return again, given_up, delay

    def succeeded(self, paths: Iterable[str]) -> None:
        for path in paths:
            self._attempts.pop(path, None)
