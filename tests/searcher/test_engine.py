"""The search path on a real library: exact scores, consistent paging, deleted items never returned."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import InputError
from core.settings import load_settings
from indexer.library import Library
from searcher.engine import Searcher
from tests.conftest import Cli, make_photo_folder


@pytest.fixture
def searcher(cli: Cli, tmp_path: Path) -> Searcher:
    make_photo_folder(tmp_path / "photos", 30)
    cli.index(tmp_path / "photos")
    library = Library.open_reader(cli.library)
    return Searcher(library, load_settings(library=cli.library, rescore_factor=1))


def test_scores_are_exact_cosine_similarities(searcher: Searcher) -> None:
    query = searcher.text_vector("a photo")
    hits = searcher.search(query, k=30)
    ids, vectors = searcher.library.catalog.fetch_vectors("media", [h.id for h in hits], searcher.library.dim())
    exact = dict(zip(ids.tolist(), (vectors @ query).tolist(), strict=True))
    assert all(hit.score == pytest.approx(exact[hit.id], abs=1e-5) for hit in hits)
    assert len(hits) == 30


def test_pages_return_every_hit_once_in_the_same_order(searcher: Searcher) -> None:
    query = searcher.media_vector(3)
    whole = [hit.id for hit in searcher.search(query, k=30)]
    paged = [hit.id for offset in range(0, 30, 7) for hit in searcher.search(query, k=7, offset=offset)]
    assert paged == whole and len(set(paged)) == 30
    assert [hit.rank for hit in searcher.search(query, k=5, offset=10)] == [11, 12, 13, 14, 15]


def test_asking_for_more_than_the_library_holds_returns_all_of_it(searcher: Searcher) -> None:
    assert len(searcher.search(searcher.media_vector(1), k=500)) == 30
    assert searcher.search(searcher.media_vector(1), k=5, offset=40) == []


def test_bad_arguments_are_input_errors(searcher: Searcher) -> None:
    with pytest.raises(InputError):
        searcher.search(np.zeros(searcher.library.dim(), np.float32), k=0)
    with pytest.raises(InputError, match="no indexed image has id"):
        searcher.media_vector(10_000)
    with pytest.raises(InputError, match="characters long"):
        searcher.text_vector("x" * 5000)
