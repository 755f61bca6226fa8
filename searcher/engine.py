"""Searching a library: candidates from the ANN index, rescored exactly from the stored vectors, then ranked.

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

from core.errors import InputError, NotAnImage, NotFound
from core.options import Filters
from core.options import Ranking as RankingSettings
from core.settings import Settings
from indexer import ann
from indexer.catalog import Collection
from indexer.catalog.queries import allowed_ids
from indexer.decode import DecodeError, NotAnImageError, decode_image
from indexer.library import Library
from indexer.vector_index import VectorIndex
from searcher import pipeline
from searcher.cutoff import ScoreNorm, sample_rows, score_norm
from searcher.hits import Hit
from searcher.lexical import Lexical
from searcher.pipeline import PreparedQuery
from searcher.query import combine, parse_query

if TYPE_CHECKING:
    from indexer.encoder import Encoder
    from searcher.rerank import Reranker

MAX_QUERY_CHARS = 1000
TEXT_CACHE_SIZE = 1024
IMAGE_HINT = "query with a JPEG, PNG, WebP, GIF, BMP, TIFF or HEIC image"

# Filters that leave at most this many items are answered exactly over all of them; wider ones
# filter inside the ANN search.
EXACT_FILTER_LIMIT = 50_000

Sort = Literal["relevance", "date"]
FileSignature = tuple[int, int] | None


@dataclass(frozen=True)
class Stages:
    """Per-request switches for the ranking stages (CLI flags, API parameters); None keeps the setting."""

    hybrid: bool | None = None
    expand: bool | None = None
    rerank: bool | None = None
    collapse: bool | None = None
    cutoff: bool | None = None
    mmr: float | None = None

    def apply(self, base: RankingSettings) -> RankingSettings:
        changes: dict[str, Any] = {
            name: value for name, value in vars(self).items() if value is not None and name != "rerank"
        }
        if self.rerank is False:
            changes["rerank_model"] = None
        elif self.rerank and base.rerank_model is None:
            raise InputError(
                "no reranking model is configured",
                "set ranking.rerank_model in the config file or XMODAL_RANKING__RERANK_MODEL",
            )
        return base.model_copy(update=changes) if changes else base


@dataclass(frozen=True)
class SearchOptions:
    """What the CLI's flags and the API's parameters both become: one meaning for both."""

    k: int = 10
    offset: int = 0
    filters: Filters = field(default_factory=Filters)
    sort: Sort = "relevance"
    min_score: float | None = None
    exclude: int | None = None  # the query image itself, for "more like this"
    stages: Stages = field(default_factory=Stages)
    ranking: RankingSettings | None = None  # replaces the settings' stages (evaluation compares variants)
    lexical_exclude_sources: tuple[str, ...] = ()  # evaluation: the queries' own captions do not count


@dataclass(frozen=True)
class Query:
    """What a person asks: words in the query language, a picture, or an indexed image ("more like this")."""

    text: str | None = None
    image: bytes | None = None
    image_name: str = "query image"
    media_id: int | None = None
    max_pixels: int | None = None  # uploads are held to a tighter bound than indexed files


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
        self._text_cache: OrderedDict[tuple[str, bool], np.ndarray] = OrderedDict()  # paging re-asks the same query
        self._norm_samples: dict[Collection, tuple[int, np.ndarray]] = {}
        self._rerankers: dict[tuple[str, str | None], Reranker] = {}
        self.lexical = Lexical(library.catalog)

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

    def text_vector(self, query: str, expand: bool | None = None) -> np.ndarray:
        """A text's unit vector; with `expand`, the mean over the prompt templates ("a photo of {}", ...)."""
        query = " ".join(query.split())
        if not query:
            raise InputError("the query is empty", 'type what you are looking for, e.g. xmodal search "a red car"')
        if len(query) > MAX_QUERY_CHARS:
            raise InputError(f"the query is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}")
        ranking = self.settings.ranking
        expand = ranking.expand if expand is None else expand
        key = (query, expand)
        with self._lock:
            cached = self._text_cache.get(key)
            if cached is not None:
                self._text_cache.move_to_end(key)
                return cached
        encoder = self.encoder
        prompts = [template.replace("{}", query) for template in ranking.templates] if expand else [query]
        with self._encode_lock:
            encoded = encoder.encode_texts(prompts)
        vector = encoded.mean(axis=0)
        vector = (vector / max(float(np.linalg.norm(vector)), 1e-12)).astype(np.float32)
        with self._lock:
            self._text_cache[key] = vector
            if len(self._text_cache) > TEXT_CACHE_SIZE:
                self._text_cache.popitem(last=False)
        return vector

    def query_vector(
        self, query: str | None, image: np.ndarray | None = None, expand: bool | None = None
    ) -> np.ndarray:
        """A query in the query language (`2:beach + sunset - people`), optionally with a picture as a term."""
        terms = parse_query(query) if query is not None else []
        if image is None and len(terms) == 1 and terms[0].weight == 1:
            return self.text_vector(terms[0].text, expand)
        return combine(terms, lambda text: self.text_vector(text, expand), image)

    def prepare(self, query: Query, ranking: RankingSettings | None = None) -> PreparedQuery:
        """Everything the stages need from a query, computed once."""
        expand = (ranking or self.settings.ranking).expand
        terms = parse_query(query.text) if query.text is not None else []
        picture = None
        image = None
        if query.image is not None:
            picture = self._decode(query.image, query.image_name, query.max_pixels)
            encoder = self.encoder
            with self._encode_lock:
                image = encoder.encode_images([picture])[0]
        elif query.media_id is not None:
            image = self.media_vector(query.media_id)
        if image is None and not terms:
            raise InputError("give words, a picture, or both", 'e.g. xmodal search "a dog on the beach"')
        vector = self.query_vector(query.text, image, expand) if terms else image
        assert vector is not None
        return PreparedQuery(vector, tuple(terms), picture, query.media_id)

    def _decode(self, data: bytes, name: str, max_pixels: int | None) -> Any:
        try:
            return decode_image(data, self.encoder.image_size, max_pixels or self.settings.max_image_pixels)[0]
        except NotAnImageError as exc:
            raise NotAnImage(f"{name}: {exc}", IMAGE_HINT) from exc
        except DecodeError as exc:
            raise InputError(f"{name}: {exc}", IMAGE_HINT) from exc

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

    def ranking(self, options: SearchOptions) -> RankingSettings:
        return options.stages.apply(options.ranking or self.settings.ranking)

    def ask(self, query: Query, collection: Collection, options: SearchOptions) -> list[Hit]:
        """The one entry point the CLI and the API share: a query through every ranking stage, one page."""
        return self.find(self.prepare(query, self.ranking(options)), collection, options)

    def find(self, query: np.ndarray | PreparedQuery, collection: Collection, options: SearchOptions) -> list[Hit]:
        """Rank (all stages), filter, cut, sort, page: the hits ranked offset+1 .. offset+k."""
        if options.k < 1 or options.offset < 0:
            raise InputError("k must be at least 1 and offset at least 0")
        prepared = query if isinstance(query, PreparedQuery) else PreparedQuery(np.asarray(query, dtype=np.float32))
        ranked = pipeline.run(self, prepared, collection, options)
        window = slice(options.offset, options.offset + options.k)
        return self._hydrate(
            collection,
            ranked.ids[window],
            ranked.scores[window],
            options.offset,
            ranked.stages[window],
            ranked.duplicates[window],
        )

    def allowed(self, filters: Filters, collection: Collection) -> np.ndarray | None:
        if not filters.active():
            return None
        if collection != "media":
            raise InputError("filters apply to images, not to texts")
        return allowed_ids(self.library.catalog, filters)

    def score_norm(self, vector: np.ndarray, collection: Collection) -> ScoreNorm | None:
        """The query's score distribution over a fixed sample of the library (resampled when the library changes)."""
        version = self.library.catalog.version(collection)
        with self._lock:
            cached = self._norm_samples.get(collection)
        if cached is None or cached[0] != version:
            ids = sample_rows(self.library.catalog.vector_ids(collection))
            _, vectors = self.library.catalog.fetch_vectors(collection, ids.tolist(), len(vector))
            cached = (version, vectors)
            with self._lock:
                self._norm_samples[collection] = cached
        return score_norm(vector, cached[1])

    def reranker(self, ranking: RankingSettings) -> Reranker | None:
        if ranking.rerank_model is None:
            return None
        key = (ranking.rerank_model, ranking.rerank_pretrained)
        with self._lock:
            found = self._rerankers.get(key)
            if found is None:
                from searcher.rerank import Reranker

                found = self._rerankers[key] = Reranker(
                    self.library.path,
                    self.library.catalog,
                    ranking.rerank_model,
                    ranking.rerank_pretrained,
                    self.settings.device,
                    self.settings.max_image_pixels,
                )
            return found

    def rank(
        self, vector: np.ndarray, collection: Collection, wanted: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Ids and exact scores of the best `wanted` items (among `allowed` ids when given), best first."""
        ids, scores, _ = self.candidates(vector, collection, wanted, allowed)
        return ids, scores

    def candidates(
        self, vector: np.ndarray, collection: Collection, wanted: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`rank`, with the stored vectors it read (the later stages compare hits with each other)."""
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
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), np.zeros((0, index.dim), np.float32)
        ids, vectors = self.library.catalog.fetch_vectors(collection, candidates.tolist(), index.dim)
        scores = vectors @ query[0]
        order = np.lexsort((ids, -scores))[:wanted]  # ties broken by id: stable pages
        return ids[order], scores[order], vectors[order]

    def _hydrate(
        self,
        collection: Collection,
        ids: np.ndarray,
        scores: np.ndarray,
        offset: int,
        stages: list[dict[str, float]] | None = None,
        duplicates: list[tuple[int, ...]] | None = None,
    ) -> list[Hit]:
        catalog = self.library.catalog
        rows: dict[int, Any] = (
            catalog.media_rows(ids.tolist()) if collection == "media" else catalog.text_rows(ids.tolist())
        )
        hits = []
        for position, (item_id, score) in enumerate(zip(ids.tolist(), scores.tolist(), strict=True)):
            row = rows.get(item_id)
            if row is None:
                continue
            rank = offset + position + 1
            extra: dict[str, Any] = {"stages": stages[position] if stages else None}
            if duplicates and duplicates[position]:
                extra["duplicates"] = duplicates[position]
            if collection == "media":
                hits.append(
                    Hit(
                        item_id,
                        rank,
                        float(score),
                        "image",
                        path=row.path,
                        width=row.width,
                        height=row.height,
                        taken_at=row.taken_at,
                        camera=row.camera,
                        **extra,
                    )
                )
            else:
                hits.append(
                    Hit(
                        item_id,
                        rank,
                        float(score),
                        "text",
                        text=row.text,
                        source=row.source,
                        media_id=row.media_id,
                        **extra,
                    )
                )
        return hits
