"""What an indexing run did: counts a person reads, and seconds per stage to see where the time went."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Literal

Stage = Literal["scan", "plan", "read_decode", "read_wait", "encode", "write", "checkpoint", "sidecars"]


@dataclass
class StageTimes:
    """Seconds spent per stage. Decoding runs in worker threads, overlapped with encoding: `read_decode` sums
    the workers' time (it can exceed the run's wall time), `read_wait` is how long the run stood waiting for
    them (when it is large, decoding, not encoding, is the bottleneck)."""

    scan: float = 0.0  # walking folders
    plan: float = 0.0  # comparing what was found with the catalog
    read_decode: float = 0.0  # reading, hashing and decoding files (summed over worker threads)
    read_wait: float = 0.0  # waiting for a decoded file
    encode: float = 0.0  # the model
    write: float = 0.0  # catalog transactions: rows, vectors, moves, removals
    checkpoint: float = 0.0  # writing ANN index generations
    sidecars: float = 0.0  # caption files next to pictures

    @contextmanager
    def measure(self, stage: Stage) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - started)

    def add(self, stage: Stage, seconds: float) -> None:
        setattr(self, stage, getattr(self, stage) + seconds)

    def describe(self) -> str:
        return ", ".join(f"{item.name} {getattr(self, item.name):.3f}s" for item in fields(self))


@dataclass
class IndexReport:
    scanned: int = 0
    unchanged: int = 0
    added: int = 0
    updated: int = 0
    moved: int = 0
    duplicates: int = 0
    removed: int = 0
    failed: int = 0
    texts: int = 0
    companions: int = 0  # RAW files found beside their JPEG or HEIC: one photo each, indexed from the JPEG
    skipped: int = 0  # picture-looking files not indexed (`xmodal stats` says why)
    videos: int = 0  # of the added and updated: videos, sampled into `frames` frames and `moments` moments
    frames: int = 0
    moments: int = 0
    encode_batches: int = 0
    image_runtime: str = "torch"  # what encoded the pictures: torch, onnx or onnx-int8
    # On the run that first encodes pictures through a runtime the library's earlier vectors did not come from:
    # those runtimes (the library now mixes them; `xmodal stats` says so from then on).
    mixes_with: list[str] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False
    unreadable_dirs: list[str] = field(default_factory=list)
    stages: StageTimes = field(default_factory=StageTimes)
    # Left for a later run (the watcher's): files still being written, paths named to the run that no longer
    # existed, and missing files whose rows are kept a while because their content may show up elsewhere.
    settling: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    kept_missing: list[str] = field(default_factory=list)

    @property
    def encoded(self) -> int:
        return self.added + self.updated

    @property
    def changed_anything(self) -> bool:
        return bool(self.added or self.updated or self.moved or self.removed or self.failed or self.duplicates)
