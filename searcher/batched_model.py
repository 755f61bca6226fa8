"""A query model shared by a server's request threads: words (and pictures) that arrive while the model is
busy are encoded together in its next call, which costs little more than one (bench/RESULTS.md)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from core.batching import Batcher, BatchStats

if TYPE_CHECKING:
    from PIL import Image

    from indexer.encoder import QueryModel

MAX_TEXTS = 64  # queries per call: past this, one call costs as much as the waiting it saves
MAX_IMAGES = 8
MAX_WAIT = 0.002  # seconds a new batch may linger for company once the model is free


class BatchedQueryModel:
    """Thread-safe. A lone request runs at once; only requests that would have queued anyway are batched."""

    def __init__(self, model: QueryModel) -> None:
        self.model = model
        self._texts: Batcher[tuple[str, ...], np.ndarray] = Batcher(
            self._encode_texts, max_batch=MAX_TEXTS, max_wait=MAX_WAIT, dedupe=True
        )
        self._images: Batcher[Image.Image, np.ndarray] = Batcher(
            self._encode_images, max_batch=MAX_IMAGES, max_wait=MAX_WAIT
        )

    @property
    def dim(self) -> int:
        return self.model.dim

    @property
    def image_size(self) -> int:
        return self.model.image_size

    @property
    def runtime(self) -> str:
        return self.model.runtime

    def load(self) -> BatchedQueryModel:
        self.model.load()
        return self

    def encode_texts(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        if not texts:
            return self.model.encode_texts(texts, batch_size)
        return self._texts.submit(tuple(texts))

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        if len(images) != 1:
            return self.model.encode_images(images)
        return self._images.submit(images[0])[None, :]

    def stats(self) -> dict[str, BatchStats]:
        return {"texts": self._texts.stats(), "images": self._images.stats()}

    def _encode_texts(self, asked: list[tuple[str, ...]]) -> list[np.ndarray]:
        vectors = self.model.encode_texts([text for texts in asked for text in texts])
        bounds = np.cumsum([0, *(len(texts) for texts in asked)])
        return [vectors[start:end] for start, end in itertools.pairwise(bounds)]

    def _encode_images(self, images: list[Image.Image]) -> list[np.ndarray]:
        return list(self.model.encode_images(images))
