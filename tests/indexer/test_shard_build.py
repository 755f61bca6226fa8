"""Index builds split into shards (threads or Ray tasks) make the index one build makes, and a generation saved in
shards answers as the same index does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import faiss
import numpy as np
import pytest

from core.options import Paging
from core.settings import load_settings
from indexer import ann, shard_build
from indexer.catalog import MediaRecord
from indexer.library import Library
from indexer.shard_build import LocalExecutor, StoreSource
from indexer.vector_index import IndexPolicy, build_from_store
from searcher.engine import Searcher
from searcher.query import Query

DIM = 32
POLICY = IndexPolicy(ivf_threshold=1_000)  # 6,000 vectors: IVF-Flat, 153 lists


def unit(rows: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(rows, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def library_of(path: Path, vectors: np.ndarray) -> list[int]:
    """Vectors written through the catalog, as an indexing run writes them; no index yet."""
    with Library.open_writer(path, "test") as library:
        library.catalog.set_meta("dim", str(DIM))
        records = [MediaRecord(f"/photos/{i:05d}.jpg", 1, 1, f"h-{i}", "ok") for i in range(len(vectors))]
        return library.catalog.write_media(records, list(vectors))


def same(a: faiss.Index, b: faiss.Index) -> bool:
    return bool(np.array_equal(faiss.serialize_index(a), faiss.serialize_index(b)))


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12,000 vectors: enough for IVF-PQ too (ann.MIN_PQ_VECTORS)."""
    path = tmp_path_factory.mktemp("shards") / "lib"
    library_of(path, unit(12_000, 1))
    return path


def built(path: Path, kind: str, shards: int | None, executor: shard_build.ShardExecutor | None = None, groups: int = 1
          ) -> faiss.Index:  # fmt: skip
    """The media index of `kind` over the whole library: built in one piece (shards None) or in shards."""
    with Library.open_reader(path) as library:
        ids = library.catalog.vector_ids("media")
        shape = ann.AnnShape(kind, ann.target_nlist(len(ids)), len(ids))
        if shards is None:
            return build_from_store(library.catalog, "media", shape, DIM, ids)
        source = StoreSource.of(library.catalog.vectors["media"], DIM)
        return shard_build.build(shape, DIM, ids, source, shards, executor or LocalExecutor(2), groups=groups)


@pytest.mark.parametrize("kind", ["ivf", "ivfpq"])
def test_a_build_in_shards_is_the_index_one_build_makes(library: Path, kind: str) -> None:
    whole = built(library, kind, None)
    sharded = built(library, kind, 5)
    assert same(whole, sharded)  # the same centroids (and codebooks), the same ids in the same lists, in order
    queries = unit(20, 2)
    for allowed in (None, np.arange(1, 12_001, 3)):
        expected = ann.search(whole, queries, 10, nprobe=8, allowed=allowed)
        found = ann.search(sharded, queries, 10, nprobe=8, allowed=allowed)
        np.testing.assert_array_equal(found[1], expected[1])
        np.testing.assert_array_equal(found[0], expected[0])


def test_a_build_kept_in_shards_searches_as_the_whole_index_with_nprobe_and_the_id_filter(library: Path) -> None:
    whole = built(library, "ivf", None)
    pieces = built(library, "ivf", 3, groups=2)  # three shards filled, kept as two pieces
    assert isinstance(pieces, faiss.IndexShards) and len(ann.parts(pieces)) == 2 and pieces.ntotal == whole.ntotal
    np.testing.assert_array_equal(np.sort(ann.index_ids(pieces)), np.sort(ann.index_ids(whole)))
    queries = unit(20, 3)
    for nprobe in (1, 8):
        for allowed in (None, np.arange(1, 12_001, 7)):
            np.testing.assert_array_equal(
                ann.search(pieces, queries, 50, nprobe, allowed)[1], ann.search(whole, queries, 50, nprobe, allowed)[1]
            )
    assert not np.array_equal(ann.search(whole, queries, 50, 1)[1], ann.search(whole, queries, 50, 8)[1])  # it told
    merged = shard_build.layout(pieces, 1)
    assert same(merged, whole)  # and merged again, the one index


def test_splitting_an_index_and_merging_it_back_changes_nothing(library: Path) -> None:
    whole = built(library, "ivfpq", None)
    split = shard_build.layout(faiss.deserialize_index(faiss.serialize_index(whole)), 3)
    assert [part.ntotal for part in ann.parts(split)] == [4_000, 4_000, 4_000]
    queries = unit(10, 4)
    np.testing.assert_array_equal(ann.search(split, queries, 20, 4)[1], ann.search(whole, queries, 20, 4)[1])
    assert same(shard_build.layout(split, 1), whole)


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray = pytest.importorskip("ray")
    if ray.is_initialized():  # another module's cluster: use it, leave it to its owner
        yield
        return
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def test_shards_filled_by_ray_tasks_make_the_same_index(library: Path, local_ray: None) -> None:
    assert same(built(library, "ivf", 3, shard_build.RayExecutor()), built(library, "ivf", 3))
    assert same(built(library, "ivfpq", 2, shard_build.RayExecutor()), built(library, "ivfpq", None))


def answers(path: Path, queries: np.ndarray, k: int = 10) -> list[list[tuple[int, float]]]:
    with Library.open_reader(path) as library:
        searcher = Searcher(library, load_settings(library=path))
        return [[(hit.id, hit.score) for hit in searcher.ask(Query(vector=q), "media", Paging(k=k))] for q in queries]


def test_a_generation_saved_in_shards_gives_the_searcher_the_same_hits(tmp_path: Path) -> None:
    path = tmp_path / "lib"
    vectors = unit(6_000, 5)
    ids = library_of(path, vectors)
    queries = np.concatenate([vectors[[0, 99, 5_999]], unit(7, 6)])
    with Library.open_writer(path, "test") as library:
        library.vector_index("media").rebuild(POLICY)
    expected = answers(path, queries)
    with Library.open_writer(path, "test") as library:
        index = library.vector_index("media")
        index.rebuild(IndexPolicy(1_000, serve_shards=3), shards=4, executor=LocalExecutor(2))
        assert index.pieces == 3 and index.count == 6_000
        manifest = library.index_files("media").read_manifest()
    assert manifest is not None and manifest.shards is not None and len(manifest.shards) == 3
    assert all((path / "index" / name).exists() for name in manifest.shards)
    assert answers(path, queries) == expected
    assert answers(path, queries[:3], k=1) == [[(ids[0], pytest.approx(1.0))], [(ids[99], pytest.approx(1.0))],
                                               [(ids[5_999], pytest.approx(1.0))]]  # fmt: skip

    with Library.open_reader(path) as library:  # a reader maps the shards and searches them as one
        mapped = library.vector_index("media", mapped=True).index
        assert isinstance(mapped, faiss.IndexShards) and mapped.ntotal == 6_000
        np.testing.assert_array_equal(np.sort(ann.index_ids(mapped)), np.sort(ids))


def test_a_writer_folds_changes_into_a_sharded_generation_and_the_settings_choose_its_files(tmp_path: Path) -> None:
    path = tmp_path / "lib"
    vectors = unit(4_000, 7)
    ids = library_of(path, vectors)
    in_two = IndexPolicy(1_000, serve_shards=2)
    with Library.open_writer(path, "test") as library:
        library.vector_index("media").update(in_two)  # trained whole, saved in two
        assert library.vector_index("media").pieces == 2
        new = unit(30, 8)
        fresh = library.catalog.write_media([MediaRecord(f"/new/{i}.jpg", 1, 1, f"n{i}", "ok") for i in range(30)],
                                            list(new))  # fmt: skip
        library.catalog.delete_media(ids[:20])
        index = library.vector_index("media")
        index.update(in_two)  # loads the shards, removes from and adds to them, saves them again
        assert index.pieces == 2 and index.count == 4_010 and index.is_current()
        held = np.sort(ann.index_ids(index.index))
        np.testing.assert_array_equal(held, np.sort(library.catalog.vector_ids("media")))
        assert set(fresh) <= set(held.tolist()) and not set(ids[:20]) & set(held.tolist())
    assert answers(path, new[[4]], k=1)[0][0][0] == fresh[4]

    with Library.open_writer(path, "test") as library:  # nothing new, but the settings want one file again
        library.vector_index("media").update(POLICY)
        manifest = library.index_files("media").read_manifest()
    assert manifest is not None and manifest.shards is None
    assert answers(path, new[[4]], k=1)[0][0][0] == fresh[4]
    left = sorted(p.name for p in (path / "index").glob("media-*.faiss"))
    assert all(f"-{manifest.generation - 1:06d}" in name or f"-{manifest.generation:06d}" in name for name in left)


def test_a_manifest_written_before_shards_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "lib"
    vectors = unit(2_000, 9)
    library_of(path, vectors)
    with Library.open_writer(path, "test") as library:
        library.vector_index("media").update(POLICY)
    manifest_path = path / "index" / "media.json"
    data = json.loads(manifest_path.read_text())
    assert "shards" not in data  # a generation in one file is written as before
    data.pop("shards", None)
    manifest_path.write_text(json.dumps(data))
    with Library.open_reader(path) as library:
        index = library.vector_index("media", mapped=True)
        assert index.pieces == 1 and index.index.ntotal == 2_000 and not isinstance(index.index, faiss.IndexShards)
    assert answers(path, vectors[[17]], k=1)[0][0][1] == pytest.approx(1.0)
