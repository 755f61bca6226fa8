"""A second, stronger model that rescores the top of a ranking: index fast with a small model, rerank
with a big one.

Its image embeddings are computed the first time an image reaches the top, and kept in
`LIBRARY/rerank/<model>.sqlite` keyed by content hash (a moved file keeps its entry, an edited one gets
a new one). That file is a cache, not the catalog: readers may write it, losing it costs only time, and
a read-only library keeps the embeddings in memory instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.options import Ranking
from indexer.catalog import Catalog, pack
from indexer.encoder import Encoder
from indexer.model_cache import ModelCache
from indexer.model_spec import ModelSpec, resolve
from searcher.query import PreparedQuery
from searcher.query_encoder import QueryEncoder

if TYPE_CHECKING:
    from PIL import Image

    from indexer.catalog.embedding_cache import EmbeddingCache

log = logging.getLogger(__name__)
BATCH = 32


def cache_name(spec: ModelSpec) -> str:
    identity = json.dumps(spec.identity(), sort_keys=True)
    return f"{spec.name}-{hashlib.sha256(identity.encode()).hexdigest()[:12]}.sqlite"


class Reranker:
    """Scores (query, image) pairs with the second model; thread-safe like the searcher that owns it."""

    def __init__(
        self, library_path: Path, catalog: Catalog, spec: ModelSpec, device: str, max_pixels: int, models: ModelCache
    ) -> None:
        self.spec = spec
        self.catalog = catalog
        self.max_pixels = max_pixels
        from indexer.catalog.embedding_cache import EmbeddingCache  # SQLAlchemy: only where a reranker is set

        self.encoder = Encoder(spec, device, models)
        self.cache: EmbeddingCache = EmbeddingCache(library_path / "rerank" / cache_name(spec))
        self.queries = QueryEncoder(lambda: self.encoder, self._indexed_image, max_pixels)

    def _indexed_image(self, media_id: int) -> np.ndarray | None:
        return self.image_vectors([media_id]).get(media_id)

    def image_vectors(self, ids: list[int]) -> dict[int, np.ndarray]:
        """Embeddings of indexed images by id (a video's moment: of its frame at frame_s, keyed by the video's
        content and that time); images that cannot be read now are left out."""
        rows = self.catalog.media_rows(ids)
        videos = self.catalog.media_rows(sorted({row.parent_id for row in rows.values() if row.parent_id}))
        sources: dict[int, tuple[str, float | None]] = {}  # item -> (file, frame time for a moment)
        hashes: dict[int, str] = {}
        for item, row in rows.items():
            if row.parent_id is None and row.content_hash:
                sources[item], hashes[item] = (row.path, None), row.content_hash
            elif (video := videos.get(row.parent_id or 0)) is not None and video.content_hash:
                frame = float(row.frame_s or 0.0)
                sources[item], hashes[item] = (video.path, frame), f"{video.content_hash}@{frame:.3f}"
        cached = self.cache.get(sorted(set(hashes.values())))
        missing = [item for item in ids if item in hashes and hashes[item] not in cached]
        for start in range(0, len(missing), BATCH):
            batch = missing[start : start + BATCH]
            pictures, made = [], []
            for item in batch:
                picture = self._decode(*sources[item])
                if picture is not None:
                    pictures.append(picture)
                    made.append(hashes[item])
            if pictures:
                encoded = self.encoder.encode_images(pictures)
                fresh = {h: pack(vector) for h, vector in zip(made, encoded, strict=True)}
                self.cache.put(fresh)
                cached.update(fresh)
        found: dict[int, np.ndarray] = {}
        for item in ids:
            blob = cached.get(hashes.get(item, ""))
            if blob is not None:
                found[item] = np.frombuffer(blob, dtype="<f4").astype(np.float32)
        return found

    def _decode(self, path: str, frame_time: float | None) -> Image.Image | None:
        from indexer.decode import DecodeError, decode_image  # Pillow: only once pictures are reranked

        try:
            if frame_time is not None:
                from indexer.video.still import frame_at  # PyAV: only once moments are reranked

                return frame_at(path, frame_time, max(self.encoder.image_size * 2, 448))
            data = Path(path).read_bytes()
            return decode_image(data, self.encoder.image_size, self.max_pixels, path)[0]
        except (OSError, DecodeError) as exc:
            log.info("rerank skips %s: %s", path, exc)
            return None

    def query_vector(self, query: PreparedQuery) -> np.ndarray | None:
        """The query in the second model's space: its words, its picture, or an indexed image's embedding."""
        image = None
        if query.picture is not None:
            image = self.encoder.encode_images([query.picture])[0]
        elif query.media_id is not None:
            image = self._indexed_image(query.media_id)
            if image is None:
                return None
        if not query.terms:
            return image
        return self.queries.combine(list(query.terms), image)

    def close(self) -> None:
        self.cache.close()


class Rerankers:
    """The second models a searcher has been asked to rerank with, each made once and closed with it."""

    def __init__(self, library_path: Path, catalog: Catalog, device: str, max_pixels: int, models: ModelCache):
        self.library_path = library_path
        self.catalog = catalog
        self.device = device
        self.max_pixels = max_pixels
        self.models = models
        self._made: dict[tuple[str, str | None], Reranker] = {}
        self._lock = threading.Lock()

    def get(self, ranking: Ranking) -> Reranker | None:
        if not ranking.reranks:
            return None
        assert ranking.rerank_model is not None
        key = (ranking.rerank_model, ranking.rerank_pretrained)
        with self._lock:
            found = self._made.get(key)
            if found is None:
                spec = resolve(ranking.rerank_model, ranking.rerank_pretrained)
                found = Reranker(self.library_path, self.catalog, spec, self.device, self.max_pixels, self.models)
                self._made[key] = found
            return found

    def close(self) -> None:
        with self._lock:
            for reranker in self._made.values():
                reranker.close()
            self._made.clear()
