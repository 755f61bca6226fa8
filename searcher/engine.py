"""Searching a library: the one entry point the CLI, the API and the evaluation share.

The searcher reads the library and hands candidates on: it turns the query into a vector (QueryEncoder),
asks the catalog which items the filters allow, fetches the nearest items (VectorRetrieval), and lets
the pipeline's stages rank them. It ranks nothing itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.batching import BatchStats
from core.errors import InputError
from core.options import Paging, Ranking, SearchOptions, Sort
from core.settings import Settings
from indexer.catalog import Collection
from indexer.encoder import QueryModel
from indexer.library import Library
from indexer.model_cache import ModelCache, shared_models
from searcher import pipeline
from searcher.batched_model import BatchedQueryModel
from searcher.candidates import Candidates
from searcher.hits import Hit, hits
from searcher.query import Query
from searcher.query_encoder import QueryEncoder
from searcher.reranker import Rerankers
from searcher.retrieval import VectorRetrieval
from searcher.stages import RankRequest

__all__ = ["Query", "Searcher"]

DEEP_PAGE = 10_000  # past this many hits, a page is first checked against the collection's size


class Searcher:
    """Thread-safe and long-lived: the API shares one between requests. Close it when done."""

    def __init__(
        self,
        library: Library,
        settings: Settings,
        models: ModelCache | None = None,
        *,
        batched: bool = False,
        brief: bool = False,
    ) -> None:
        """`batched`: concurrent queries share the model's calls (a server's request threads). `brief`: a process
        that asks a query or two and exits (the model opens faster, each call costs more)."""
        self.library = library
        self.batched = batched
        self.brief = brief
        self.settings = settings
        models = models or shared_models()
        self._encoder: QueryModel | None = None
        chosen = {"nprobe", "rescore_factor", "rerank_candidates"} & settings.model_fields_set  # the user set them
        self.retrieval = VectorRetrieval(
            library,
            settings.nprobe,
            settings.rescore_factor,
            rerank_candidates=settings.rerank_candidates,
            follow_tuning=not chosen,
        )
        self.queries = QueryEncoder(self.encoder, self._stored_image_vector, settings.max_image_pixels)
        self.rerankers = Rerankers(library.path, library.catalog, settings.device, settings.max_image_pixels, models)
        self.stages = pipeline.stages(library.catalog, self.retrieval, self.rerankers)
        self._models = models

    def encoder(self) -> QueryModel:
        """The library's model; each tower loads on first use (searching by an indexed item loads none)."""
        if self._encoder is None:
            model = self.library.reader_encoder(
                self.settings.device, self._models, self.settings.runtime, brief=self.brief
            )
            self._encoder = BatchedQueryModel(model) if self.batched else model
        return self._encoder

    def batching(self) -> dict[str, BatchStats] | None:
        """The query batchers' counters (texts, images) for /metrics; None when queries are not batched."""
        encoder = self._encoder  # not made here: a scrape before the first query loads no model
        return encoder.stats() if isinstance(encoder, BatchedQueryModel) else None

    def warm(self) -> None:
        """Load the model now, so the first query does not pay for it: a server answers words and pictures."""
        self.encoder().load()

    def ask(
        self,
        query: Query,
        collection: Collection,
        options: Paging,
        *,
        exclude: int | None = None,
        ranking: Ranking | None = None,
        lexical_exclude_sources: Sequence[str] = (),
    ) -> list[Hit]:
        """One page of hits for a query through every ranking stage.

        `options.type == "text"` searches the text corpus; `exclude` leaves one id out (the photo itself, for
        "more like this"); `ranking` replaces the settings' stages (the evaluation compares variants).
        """
        collection = _collection(options, collection)
        ranked = self.rank(query, collection, options, exclude, ranking, lexical_exclude_sources)
        window = np.arange(options.offset, min(options.offset + options.k, len(ranked.candidates)))
        return hits(self.library.catalog, collection, ranked.candidates.take(window), options.offset)

    def rank(
        self,
        query: Query,
        collection: Collection,
        options: Paging,
        exclude: int | None = None,
        ranking: Ranking | None = None,
        lexical_exclude_sources: Sequence[str] = (),
    ) -> pipeline.Ranked:
        """Every candidate the stages kept, with the seconds each stage took (the latency benchmark reads them)."""
        collection = _collection(options, collection)
        sort: Sort = getattr(options, "sort", "relevance")
        if sort == "date" and collection == "texts":
            raise InputError("texts have no dates to sort by", "leave out --sort date (sort=date) for texts")
        ranking = self.ranking(options, ranking)
        prepared = self.queries.prepare(query, ranking.templates if ranking.expand else ())
        need = options.offset + options.k
        if need > DEEP_PAGE and options.offset >= self.library.catalog.vector_count(collection):
            return pipeline.Ranked(Candidates.none())  # a page past the end: nothing to rank
        allowed = self._allowed(options, collection)
        request = RankRequest(
            query=prepared,
            collection=collection,
            ranking=ranking,
            need=need,
            sort=sort,
            min_score=getattr(options, "min_score", None),
            allowed=allowed,
            exclude=exclude if collection == "media" else None,  # "more like this" leaves out a picture
            lexical_exclude_sources=tuple(lexical_exclude_sources),
        )

        def fetch(pool: int) -> Candidates:
            return self.retrieval.nearest(prepared.vector, collection, pool, allowed, request.exclude)

        return pipeline.rank(fetch, self.stages, request)

    def ranking(self, options: Paging, base: Ranking | None = None) -> Ranking:
        """The settings' stages (or `base`) with the switches this query set."""
        base = base or self.settings.ranking
        changes = options.overrides() if isinstance(options, SearchOptions) else {}
        if changes.get("rerank") and base.rerank_model is None:
            raise InputError(
                "no reranking model is configured",
                "set ranking.rerank_model in the config file or XMODAL_RANKING__RERANK_MODEL",
            )
        return base.model_copy(update=changes) if changes else base

    def _allowed(self, options: Paging, collection: Collection) -> np.ndarray | None:
        if not isinstance(options, SearchOptions):
            return None
        filters = options.filters()
        if not filters.active():
            return None
        if collection != "media":
            raise InputError("filters apply to pictures, not to texts", "leave out the filters, or drop --texts")
        from indexer.catalog.queries import allowed_ids  # SQLAlchemy: loaded only when a filter asks

        return allowed_ids(self.library.catalog, filters)

    def _stored_image_vector(self, media_id: int) -> np.ndarray | None:
        found = self.retrieval.stored_vector("media", media_id)
        if found is None:
            moments = self.library.catalog.segments_of(media_id)
            if moments:  # a video's own row: what is like it is what is like one of its moments
                ids = ", ".join(str(row.id) for row in moments[:5]) + (", ..." if len(moments) > 5 else "")
                raise InputError(
                    f"{media_id} is a video: its moments are what has vectors",
                    f"ask with one of its moments ({ids})",
                )
        return found

    def close(self) -> None:
        self.rerankers.close()


def _collection(options: Paging, asked: Collection) -> Collection:
    """`type=text` (`--type text`) searches the text corpus, whatever endpoint or flag asked."""
    return "texts" if getattr(options, "type", None) == "text" else asked
