"""The unit of work between reading and writing: typed items, in the order they were read.

A batch fills up to `batch_size` items; the encoder turns its pictures and video frames into vectors in one call
and the writer commits it as one catalog transaction (and one per video it completes). A long video's frames
span many batches: its vectors gather in its PendingVideo, which the batch holding its VideoDone writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from indexer.catalog import MediaRecord, Segment
from indexer.ingest.known_content import Move, Touch
from indexer.ingest.videos import PendingVideo


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


@dataclass(frozen=True)
class FrameToEncode:
    """A sampled frame of a video being read; its vector joins the video's, not a record of its own."""

    video: PendingVideo
    tensor: torch.Tensor


@dataclass(frozen=True)
class VideoDone:
    """The video's last frame is in this batch or an earlier one: once encoded, the video can be written."""

    video: PendingVideo


BatchItem = ToEncode | WithVector | WithoutVector | FrameToEncode | VideoDone


@dataclass
class Batch:
    items: list[BatchItem] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)
    touches: list[Touch] = field(default_factory=list)

    def __len__(self) -> int:
        """Records and frames; moves and touches are cheap and ride along."""
        return len(self.items)

    def moving(self) -> set[int]:
        return {move.row_id for move in self.moves}

    def tensors(self) -> list[torch.Tensor]:
        """What the model encodes, in order: pictures and frames alike."""
        return [item.tensor for item in self.items if isinstance(item, ToEncode | FrameToEncode)]

    def drop_frames(self, video: PendingVideo) -> None:
        """A video that failed midway: its frames waiting here are not encoded."""
        self.items = [item for item in self.items if not (isinstance(item, FrameToEncode) and item.video is video)]


@dataclass(frozen=True)
class EncodedVideo:
    """A video whose every frame is encoded: its row, its frames (time, vector) and the moments made of them."""

    record: MediaRecord
    frames: list[tuple[float, np.ndarray]]
    moments: list[Segment]


@dataclass(frozen=True)
class EncodedBatch:
    """What the writer commits: every record with its vector (or None), moves and touches, and whole videos."""

    records: list[MediaRecord]
    vectors: list[np.ndarray | None]
    moves: list[Move]
    touches: list[Touch]
    videos: list[EncodedVideo] = field(default_factory=list)
