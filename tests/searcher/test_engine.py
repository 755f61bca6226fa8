"""The search path on a real library: exact scores, consistent paging, deleted items never returned."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.errors import InputError, NotAnImage
from core.options import Paging, SearchOptions
from core.settings import load_settings
from indexer.library import Library
from indexer.model_cache import ModelCache
from searcher.engine import Searcher
from searcher.hits import Hit
from searcher.query import Query
from tests.conftest import Cli, make_photo_folder


@pytest.fixture
def searcher(cli: Cli, tmp_path: Path) -> Iterator[Searcher]:
    make_photo_folder(tmp_path / "photos", 30)
    cli.index(tmp_path / "photos")
    with Library.open_reader(cli.library) as library:
        searcher = Searcher(library, load_settings(library=cli.library, rescore_factor=1))
        yield searcher
        searcher.close()


def ask(searcher: Searcher, query: Query, k: int = 10, offset: int = 0) -> list[Hit]:
    return searcher.ask(query, "media", Paging(k=k, offset=offset))


def test_scores_are_exact_cosine_similarities(searcher: Searcher) -> None:
    query = searcher.queries.text_vector("a photo")
    hits = ask(searcher, Query(vector=query), k=30)
    ids, vectors = searcher.library.catalog.fetch_vectors("media", [h.id for h in hits], searcher.library.dim())
    exact = dict(zip(ids.tolist(), (vectors @ query).tolist(), strict=True))
    assert all(hit.score == pytest.approx(exact[hit.id], abs=1e-5) for hit in hits)
    assert len(hits) == 30
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


def test_pages_return_every_hit_once_in_the_same_order(searcher: Searcher) -> None:
    query = Query(media_id=3)
    whole = [hit.id for hit in ask(searcher, query, k=30)]
    paged = [hit.id for offset in range(0, 30, 7) for hit in ask(searcher, query, k=7, offset=offset)]
    assert paged == whole and len(set(paged)) == 30
    assert [hit.rank for hit in ask(searcher, query, k=5, offset=10)] == [11, 12, 13, 14, 15]


def test_asking_for_more_than_the_library_holds_returns_all_of_it(searcher: Searcher) -> None:
    assert len(ask(searcher, Query(media_id=1), k=500)) == 30
    assert ask(searcher, Query(media_id=1), k=5, offset=40) == []


def test_more_like_this_leaves_the_photo_itself_out(searcher: Searcher) -> None:
    with_itself = ask(searcher, Query(media_id=4), k=30)
    assert with_itself[0].id == 4 and with_itself[0].score == pytest.approx(1.0, abs=1e-5)
    without = searcher.ask(Query(media_id=4), "media", Paging(k=30), exclude=4)
    assert [hit.id for hit in without] == [hit.id for hit in with_itself[1:]]


def test_a_query_vector_is_searched_as_given(searcher: Searcher) -> None:
    stored = searcher.library.catalog.fetch_vectors("media", [7], searcher.library.dim())[1][0]
    assert ask(searcher, Query(vector=stored), k=1)[0].id == 7


def test_bad_arguments_are_input_errors(searcher: Searcher) -> None:
    with pytest.raises(ValidationError):
        Paging(k=0)
    with pytest.raises(InputError, match="no indexed image has id"):
        ask(searcher, Query(media_id=10_000))
    with pytest.raises(InputError, match="characters long"):
        ask(searcher, Query("x" * 5000))
    with pytest.raises(InputError, match="the query is empty"):
        ask(searcher, Query("   "))
    with pytest.raises(InputError, match="give words, a picture, or both"):
        ask(searcher, Query())


def test_a_query_that_is_no_picture_fails_before_any_model_loads(cli: Cli, tmp_path: Path) -> None:
    make_photo_folder(tmp_path / "photos", 2)
    cli.index(tmp_path / "photos")
    models = ModelCache()
    with Library.open_reader(cli.library) as library:
        searcher = Searcher(library, load_settings(library=cli.library), models)
        with pytest.raises(NotAnImage, match=r"notes\.txt: not an image"):
            searcher.ask(Query(image=b"shopping list: milk, eggs\n", image_name="notes.txt"), "media", Paging())
    assert not models._texts and not models._images  # nothing was loaded to find that out


def test_a_page_far_past_the_end_is_empty_at_once(searcher: Searcher) -> None:
    assert searcher.ask(Query(media_id=1), "media", Paging(k=10, offset=10**15)) == []
    assert len(searcher.ask(Query(media_id=1), "media", Paging(k=10_000, offset=1))) == 29


def test_texts_have_no_dates_to_sort_by(searcher: Searcher) -> None:
    with pytest.raises(InputError, match="no dates"):
        searcher.ask(Query("a photo"), "texts", SearchOptions(sort="date"))
