"""The unit of work between reading and writing: typed items, in the order they were read.

A batch fills up to `batch_size` records; the encoder turns its pictures into vectors in one call and the
writer commits it as one catalog transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from indexer.catalog import MediaRecord
from indexer.ingest.known_content import Move, Touch


@dataclass(frozen=True)
class ToEncode:
    """A record whose vector the model has yet to compute."""

    record: MediaRecord
    tensor: torch.Tensor


@dataclass(frozen=True)
class WithVector:
    """A record whose vector is known already (a copy of another file)."""

    record: MediaRecord
    vector: np.ndarray


@dataclass(frozen=True)
class WithoutVector:
    """A record with no vector (a file that failed)."""

    record: MediaRecord


BatchItem = ToEncode | WithVector | WithoutVector


@dataclass
class Batch:
    items: list[BatchItem] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)
    touches: list[Touch] = field(default_factory=list)

    def __len__(self) -> int:
        """Records to write; moves and touches are cheap and ride along."""
        return len(self.items)

    def moving(self) -> set[int]:
        return {move.row_id for move in self.moves}

    def tensors(self) -> list[torch.Tensor]:
        return [item.tensor for item in self.items if isinstance(item, ToEncode)]


@dataclass(frozen=True)
class EncodedBatch:
    """What the writer commits: every record with its vector (or None), plus moves and touches."""

    records: list[MediaRecord]
    vectors: list[np.ndarray | None]
    moves: list[Move]
    touches: list[Touch]
