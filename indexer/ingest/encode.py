"""Encoding a batch: all its pictures and video frames through the model in one call, vectors back in order.

A picture's vector goes with its record; a frame's joins its video's, and a video whose last frame is encoded
(its VideoDone comes after all its frames) leaves with its record, frames and moments, ready to write."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch

from indexer.ingest.batch import Batch, EncodedBatch, EncodedVideo, FrameToEncode, ToEncode, VideoDone, WithVector
from indexer.ingest.videos import MomentRule


class ImageEncoder(Protocol):
    def encode_image_tensors(self, batch: Sequence[torch.Tensor]) -> np.ndarray: ...


def encode_batch(encoder: ImageEncoder, batch: Batch, rule: MomentRule, most: int | None = None) -> EncodedBatch:
    """`most`: pictures per model call (a cluster run's commit batch of made vectors can hold more pictures to
    encode here than one call should take)."""
    tensors = batch.tensors()
    step = most or max(1, len(tensors))
    calls = [encoder.encode_image_tensors(tensors[at : at + step]) for at in range(0, len(tensors), step)]
    encoded = iter(np.concatenate(calls)) if calls else iter(())
    records, vectors, videos = [], [], []
    for item in batch.items:
        if isinstance(item, ToEncode):
            records.append(item.record)
            vectors.append(next(encoded))
        elif isinstance(item, FrameToEncode):
            item.video.vectors.append(next(encoded))
        elif isinstance(item, VideoDone):
            video = item.video
            videos.append(EncodedVideo(video.record(rule), video.frames(), video.moments(rule)))
        else:
            records.append(item.record)
            vectors.append(item.vector if isinstance(item, WithVector) else None)
    return EncodedBatch(records, vectors, batch.moves, batch.touches, videos)
