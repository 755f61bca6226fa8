"""The vector ranking against the truth: every stored vector scored by brute force, after the catalog has moved
on since the index was written (items deleted, re-encoded and added), with and without filters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.catalog import MediaRecord
from indexer.library import Library
from searcher import retrieval
from searcher.retrieval import VectorRetrieval

DIM = 16


def unit_rows(count: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((count, DIM)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def record(name: str, item: int | None = None) -> MediaRecord:
    return MediaRecord(f"/photos/{name}.jpg", 1, 1, f"h-{name}", "ok", None, "JPEG", 64, 64, id=item)


@pytest.fixture(params=["flat", "ivf"])
def library(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """600 items in the index, then a catalog that moved on: 5 deleted, 3 re-encoded, 4 added, no new index."""
    path = tmp_path / "library"
    with Library.open_writer(path, "test") as lib:
        lib.catalog.set_meta("dim", str(DIM))
        ids = lib.catalog.write_media([record(f"p{i}") for i in range(600)], list(unit_rows(600, seed=1)))
        lib.vector_index("media").update(100 if request.param == "ivf" else 10_000)
        assert lib.vector_index("media").shape.kind == request.param
        lib.catalog.delete_media(ids[:5])
        lib.catalog.write_media([record(f"p{i}", ids[i]) for i in (10, 11, 12)], list(unit_rows(3, seed=2)))
        lib.catalog.write_media([record(f"new{i}") for i in range(4)], list(unit_rows(4, seed=3)))
    return path


def truth(lib: Library, query: np.ndarray, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    every = lib.catalog.vector_ids("media")
    if allowed is not None:
        every = every[np.isin(every, allowed)]
    ids, vectors = lib.catalog.fetch_vectors("media", every.tolist(), DIM)
    scores = vectors @ query
    order = np.lexsort((ids, -scores))
    return ids[order], scores[order]


def test_the_vector_ranking_is_the_brute_force_ranking_of_what_the_catalog_holds_now(library: Path) -> None:
    with Library.open_reader(library) as lib:
        search = VectorRetrieval(lib, nprobe=10_000, rescore_factor=4)  # every list: only the delta is in question
        for query in unit_rows(20, seed=4):
            ids, scores = truth(lib, query)
            found = search.nearest(query, "media", 30)
            assert found.ids.tolist() == ids[:30].tolist()
            assert np.allclose(found.score, scores[:30], atol=1e-5)
            assert np.allclose(found.vectors @ query, found.score, atol=1e-5)  # each with its own, current vector
            assert not found.complete and found.floor == pytest.approx(scores[29], abs=1e-5)
        changed = lib.catalog.fetch_vectors("media", [11], DIM)[1][0]
        best = search.nearest(changed, "media", 1)  # a re-encoded item is found by its new vector
        assert best.ids.tolist() == [11] and best.score[0] == pytest.approx(1.0, abs=1e-5)
        assert set(search.nearest(unit_rows(1, seed=5)[0], "media", 1000).ids.tolist()).isdisjoint(range(1, 6))


def test_excluded_and_filtered_items_never_come_back(library: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Library.open_reader(library) as lib:
        search = VectorRetrieval(lib, nprobe=10_000, rescore_factor=4)
        query = unit_rows(1, seed=6)[0]
        top = search.nearest(query, "media", 5).ids
        without = search.nearest(query, "media", 5, exclude=int(top[0]))
        assert without.ids.tolist() == [*top[1:].tolist(), truth(lib, query)[0][5]]
        allowed = np.arange(1, 700, 3)
        for limit in (50_000, 0):  # a narrow filter is scored exactly; a wide one filters inside the ANN search
            monkeypatch.setattr(retrieval, "EXACT_FILTER_LIMIT", limit)
            found = search.nearest(query, "media", 10, allowed=allowed)
            assert found.ids.tolist() == truth(lib, query, allowed)[0][:10].tolist()
        everything = search.nearest(query, "media", 10_000)
        assert everything.complete and len(everything.ids) == 599  # 600 - 5 deleted + 4 added
