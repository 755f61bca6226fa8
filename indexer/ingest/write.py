"""Writing to the library: catalog transactions for each batch and for removals, and index checkpoints.

Each batch is committed on its own, so a run killed at any moment leaves a catalog that opens and a next
run that resumes; the ANN index is brought up to the catalog every `checkpoint_seconds` and at the end. Ctrl-C
and SIGTERM wait for the write in hand (core/interrupts.py).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from core.interrupts import interrupts_held
from indexer.catalog import Catalog
from indexer.ingest.batch import EncodedBatch
from indexer.vector_index import IndexPolicy, VectorIndex


class LibraryWriter:
    def __init__(
        self, catalog: Catalog, indexes: Sequence[VectorIndex], policy: IndexPolicy, checkpoint_seconds: float
    ) -> None:
        self.catalog = catalog
        self.indexes = indexes
        self.policy = policy
        self.checkpoint_seconds = checkpoint_seconds
        self._last_checkpoint = time.monotonic()

    def write(self, batch: EncodedBatch) -> None:
        with interrupts_held():
            self._write(batch)

    def _write(self, batch: EncodedBatch) -> None:
        self.catalog.move_media([(m.row_id, m.path, m.size, m.mtime_ns) for m in batch.moves])
        self.catalog.touch_media([(t.row_id, t.size, t.mtime_ns) for t in batch.touches])
        if batch.records:
            self.catalog.write_media(batch.records, batch.vectors)
        for video in batch.videos:
            self.catalog.write_video(video.record, video.frames, video.moments)

    def remove(self, ids: Sequence[int]) -> None:
        with interrupts_held():
            self.catalog.delete_media(ids)

    def checkpoint_due(self) -> bool:
        return time.monotonic() - self._last_checkpoint >= self.checkpoint_seconds

    def checkpoint(self, *, final: bool = False) -> None:
        """Fold what the catalog holds beyond each index into it, and write a new generation if anything changed.
        A retraining of a large index runs beside the run (readers keep the old one); the `final` checkpoint
        waits for it."""
        with interrupts_held():
            for vector_index in self.indexes:
                if final:
                    vector_index.finish(self.policy)
                else:
                    vector_index.update(self.policy, background=True)
        self._last_checkpoint = time.monotonic()

    def building(self) -> bool:
        return any(vector_index.building for vector_index in self.indexes)
