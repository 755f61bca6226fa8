"""Encoding a batch: all its pictures through the model in one call, vectors back in the batch's order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch

from indexer.ingest.batch import Batch, EncodedBatch, ToEncode, WithVector


class ImageEncoder(Protocol):
    def encode_image_tensors(self, batch: Sequence[torch.Tensor]) -> np.ndarray: ...


def encode_batch(encoder: ImageEncoder, batch: Batch) -> EncodedBatch:
    tensors = batch.tensors()
    encoded = iter(encoder.encode_image_tensors(tensors)) if tensors else iter(())
    vectors: list[np.ndarray | None] = []
    for item in batch.items:
        if isinstance(item, ToEncode):
            vectors.append(next(encoded))
        elif isinstance(item, WithVector):
            vectors.append(item.vector)
        else:
            vectors.append(None)
    return EncodedBatch([item.record for item in batch.items], vectors, batch.moves, batch.touches)
