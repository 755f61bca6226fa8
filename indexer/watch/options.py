"""How a watcher runs: what `xmodal watch` remembers in the library and reuses when started without paths."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class WatchOptions:
    roots: list[str]
    poll: bool = False
    debounce: float = 2.0  # seconds without events before the changes are indexed
    full_scan_every: float = 0.0  # minutes; 0 = never
    poll_interval: float = 1.0
    settle: float | None = None  # a file modified more recently than this is still being written; None: 2 × debounce

    @property
    def settle_seconds(self) -> float:
        return 2 * self.debounce if self.settle is None else self.settle

    @property
    def grace(self) -> float:
        """How long a vanished file's row waits for its content to appear elsewhere before it is removed.

        A move can reach the watcher as a deletion first and a creation later (a polling observer that walked
        the folders mid-move; a destination still settling). The creation follows within a poll interval plus
        a debounce, or once the destination has settled: the grace covers both, with a debounce to spare."""
        return self.settle_seconds + 2 * self.debounce + (self.poll_interval if self.poll else 0.0)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
