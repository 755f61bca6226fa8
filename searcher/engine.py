"""Searching a library: candidates from the ANN index, rescored exactly from the stored vectors.

The index on disk may lag the catalog (a writer mid-run, or a crash before a checkpoint). The
vectors written since the index's version are searched exactly alongside it, so a search always
sees every item the catalog has committed, and never an item it has deleted.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from indexer import ann
from indexer.catalog import Collection
from indexer.decode import DecodeError, NotAnImageError, decode_image
from indexer.errors import InputError, NotAnImage, NotFound
from indexer.library import Library
from indexer.settings import Settings
from indexer.vector_index import VectorIndex
from searcher.filters import Filters, allowed_ids, taken_dates
from searcher.hits import Hit
from searcher.query import combine, parse_query

if TYPE_CHECKING:
    from indexer.encoder import Encoder

MAX_QUERY_CHARS = 1000
TEXT_CACHE_SIZE = 1024
IMAGE_HINT = "query with a JPEG, PNG, WebP, GIF, BMP, TIFF or HEIC image"

# Filters that leave at most this many items are answered exactly over all of them; wider ones
# filter inside the ANN search.
EXACT_FILTER_LIMIT = 50_000
# Sorting by date reorders the most relevant items (those over --min-score when it is given).
DATE_SORT_POOL = 1000

Sort = Literal["relevance", "date"]
FileSignature = tuple[int, int] | None


@dataclass(frozen=True)
class SearchOptions:
    """What the CLI's flags and the API's parameters both become: one meaning for both."""

    k: int = 10
    offset: int = 0
    filters: Filters = field(default_factory=Filters)
    sort: Sort = "relevance"
    min_score: float | None = None
    exclude: int | None = None  # the query image itself, for "more like this"


def _signature(path: Path) -> FileSignature:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return status.st_ino, status.st_mtime_ns


class Searcher:
    """Thread-safe, long-lived: the API shares one between requests.

    A new index generation written by an indexer or watcher is picked up by the next query (one
    stat of the manifest per query); until then the catalog delta keeps results complete anyway.
    """

    def __init__(self, library: Library, settings: Settings) -> None:
        self.library = library
        self.settings = settings
        self._encoder: Encoder | None = None
        self._indexes: dict[Collection, tuple[VectorIndex, FileSignature]] = {}
        self._lock = threading.Lock()
        # One encode at a time: torch already spreads a single call over every core, and
        # concurrent calls only fight over them.
        self._encode_lock = threading.Lock()
        self._text_cache: OrderedDict[str, np.ndarray] = OrderedDict()  # paging re-asks the same query

    @property
    def encoder(self) -> Encoder:
        """Loaded on first use: searching by an indexed item needs no model at all."""
        with self._lock:
            if self._encoder is None:
                self._encoder = self.library.reader_encoder(self.settings.device)
            return self._encoder

    def _index(self, collection: Collection) -> VectorIndex:
        signature = _signature(self.library.index_files(collection).manifest_path)
        with self._lock:
            cached = self._indexes.get(collection)
            if cached is None or cached[1] != signature:
                cached = self._indexes[collection] = (self.library.vector_index(collection), signature)
            return cached[0]

    # -- queries ------------------------------------------------------------------------------

    def text_vector(self, query: str) -> np.ndarray:
        query = " ".join(query.split())
        if not query:
            raise InputError("the query is empty", 'type what you are looking for, e.g. xmodal search "a red car"')
        if len(query) > MAX_QUERY_CHARS:
            raise InputError(f"the query is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}")
        with self._lock:
            cached = self._text_cache.get(query)
            if cached is not None:
                self._text_cache.move_to_end(query)
                return cached
        encoder = self.encoder
        with self._encode_lock:
            vector = encoder.encode_texts([query])[0]
        with self._lock:
            self._text_cache[query] = vector
            if len(self._text_cache) > TEXT_CACHE_SIZE:
                self._text_cache.popitem(last=False)
        return vector

    def query_vector(self, query: str | None, image: np.ndarray | None = None) -> np.ndarray:
        """A query in the query language (`2:beach + sunset - people`), optionally with a picture as a term."""
        terms = parse_query(query) if query is not None else []
        if image is None and len(terms) == 1 and terms[0].weight == 1:
            return self.text_vector(terms[0].text)
        return combine(terms, self.text_vector, image)

    def image_vector(self, path: str | Path) -> np.ndarray:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read query image {path}: {exc.strerror or exc}") from exc
        return self.image_bytes_vector(data, str(path))

    def image_bytes_vector(self, data: bytes, name: str = "query image", max_pixels: int | None = None) -> np.ndarray:
        encoder = self.encoder
        try:
            image, _ = decode_image(data, encoder.image_size, max_pixels or self.settings.max_image_pixels)
        except NotAnImageError as exc:
            raise NotAnImage(f"{name}: {exc}", IMAGE_HINT) from exc
        except DecodeError as exc:
            raise InputError(f"{name}: {exc}", IMAGE_HINT) from exc
        with self._encode_lock:
            return encoder.encode_images([image])[0]

    def media_vector(self, media_id: int) -> np.ndarray:
        ids, vectors = self.library.catalog.fetch_vectors("media", [media_id], self.library.dim())
        if not len(ids):
            raise NotFound(f"no indexed image has id {media_id}")
        return vectors[0]

    # -- search -------------------------------------------------------------------------------

    def search(
        self,
        vector: np.ndarray,
        collection: Collection = "media",
        k: int = 10,
        offset: int = 0,
        exclude: int | None = None,
    ) -> list[Hit]:
        """The hits ranked offset+1 .. offset+k; `exclude` drops one id (the query image itself)."""
        return self.find(vector, collection, SearchOptions(k=k, offset=offset, exclude=exclude))

    def find(self, vector: np.ndarray, collection: Collection, options: SearchOptions) -> list[Hit]:
        """Rank, filter, cut at min_score, sort, page: the hits ranked offset+1 .. offset+k."""
        if options.k < 1 or options.offset < 0:
            raise InputError("k must be at least 1 and offset at least 0")
        allowed = None
        if options.filters.active():
            if collection != "media":
                raise InputError("filters apply to images, not to texts")
            allowed = allowed_ids(self.library.catalog, options.filters)
        if options.sort == "date":
            wanted = DATE_SORT_POOL
        else:
            wanted = options.offset + options.k + (options.exclude is not None)
        ids, scores = self.rank(vector, collection, wanted, allowed)
        keep = np.ones(len(ids), dtype=bool)
        if options.exclude is not None:
            keep &= ids != options.exclude
        if options.min_score is not None:
            keep &= scores >= options.min_score
        ids, scores = ids[keep], scores[keep]
        if options.sort == "date" and len(ids):
            dates = taken_dates(self.library.catalog, ids.tolist())
            order = sorted(range(len(ids)), key=lambda i: (dates.get(int(ids[i]), ""), -int(ids[i])), reverse=True)
            ids, scores = ids[order], scores[order]
        window = slice(options.offset, options.offset + options.k)
        return self._hydrate(collection, ids[window], scores[window], options.offset)

    def rank(
        self, vector: np.ndarray, collection: Collection, wanted: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Ids and exact scores of the best `wanted` items (among `allowed` ids when given), best first."""
        index = self._index(collection)
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        if allowed is not None and len(allowed) <= EXACT_FILTER_LIMIT:
            candidates = allowed  # a narrow filter: every allowed item, exactly
        else:
            n_candidates = wanted * self.settings.rescore_factor
            _, ann_ids = ann.search(index.index, query, n_candidates, self.settings.nprobe, allowed)
            candidates = np.union1d(ann_ids[0][ann_ids[0] >= 0], index.delta_ids())
            if allowed is not None:
                candidates = candidates[np.isin(candidates, allowed)]
        if not len(candidates):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        ids, vectors = self.library.catalog.fetch_vectors(collection, candidates.tolist(), index.dim)
        scores = vectors @ query[0]
        order = np.lexsort((ids, -scores))[:wanted]  # ties broken by id: stable pages
        return ids[order], scores[order]

    def _hydrate(self, collection: Collection, ids: np.ndarray, scores: np.ndarray, offset: int) -> list[Hit]:
        catalog = self.library.catalog
        rows: dict[int, dict[str, Any]] = (
            catalog.media_rows(ids.tolist()) if collection == "media" else catalog.text_rows(ids.tolist())
        )
        hits = []
        for position, (item_id, score) in enumerate(zip(ids.tolist(), scores.tolist(), strict=True)):
            row = rows.get(item_id)
            if row is None:
                continue
            rank = offset + position + 1
            if collection == "media":
                camera = " ".join(part for part in (row["camera_make"], row["camera_model"]) if part) or None
                hits.append(
                    Hit(
                        item_id,
                        rank,
                        float(score),
                        "image",
                        path=row["path"],
                        width=row["width"],
                        height=row["height"],
                        taken_at=row["taken_at"],
                        camera=camera,
                    )
                )
            else:
                hits.append(
                    Hit(
                        item_id,
                        rank,
                        float(score),
                        "text",
                        text=row["text"],
                        source=row["source"],
                        media_id=row["media_id"],
                    )
                )
        return hits
