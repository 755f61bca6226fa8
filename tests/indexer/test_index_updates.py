"""Large libraries: compressed codes re-ranked from the vector store, small changes left beside the index instead of
rewriting it, a rebuild on demand, and a writer killed while appending that loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from core.options import Paging
from core.settings import load_settings
from indexer import ann
from indexer.catalog import MediaRecord
from indexer.library import Library
from indexer.vector_index import IndexPolicy
from searcher.engine import Searcher
from searcher.query import Query
from tests.conftest import Cli, make_photo_folder

DIM = 32


def unit(rows: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(rows, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def record(name: str) -> MediaRecord:
    return MediaRecord(f"/photos/{name}.jpg", 1, 1, f"h-{name}", "ok")


def library_of(path: Path, vectors: np.ndarray, policy: IndexPolicy) -> list[int]:
    with Library.open_writer(path, "test") as library:
        library.catalog.set_meta("dim", str(DIM))
        ids = library.catalog.write_media([record(f"{i:05d}") for i in range(len(vectors))], list(vectors))
        library.vector_index("media").update(policy)
    return ids


def top(path: Path, vector: np.ndarray, k: int = 1) -> list[tuple[str, float]]:
    with Library.open_reader(path) as library:
        searcher = Searcher(library, load_settings(library=path))
        hits = searcher.ask(Query(vector=vector), "media", Paging(k=k))
    return [(str(hit.path), hit.score) for hit in hits]


def generation(path: Path) -> int:
    with Library.open_reader(path) as library:
        manifest = library.index_files("media").read_manifest()
    assert manifest is not None
    return manifest.generation


def test_past_the_compress_threshold_codes_are_kept_and_every_hit_scored_from_its_stored_vector(
    tmp_path: Path,
) -> None:
    vectors = unit(12_000, 1)
    library_of(tmp_path / "lib", vectors, IndexPolicy(ivf_threshold=1_000, compress_threshold=10_000))
    with Library.open_reader(tmp_path / "lib") as library:
        index = library.vector_index("media")
        assert index.shape.kind == "ivfpq" and not index.exact_scores
        assert index.index.code_size == DIM // 8  # 4 bytes per 32-d vector, not 128
    for row in (0, 777, 11_999):
        [(path, score)] = top(tmp_path / "lib", vectors[row])
        assert path == f"/photos/{row:05d}.jpg" and score == pytest.approx(1.0, abs=1e-5)  # exact, not the code's


def test_a_small_change_waits_beside_a_large_index_and_searches_see_it_at_once(tmp_path: Path) -> None:
    path = tmp_path / "lib"
    policy = IndexPolicy(ivf_threshold=100_000, delta_limit=50)
    vectors = unit(400, 2)
    ids = library_of(path, vectors, policy)
    first = generation(path)
    new = unit(10, 3)
    with Library.open_writer(path, "test") as library:
        library.catalog.write_media([record(f"new-{i}") for i in range(10)], list(new))
        library.catalog.delete_media(ids[:5])
        library.vector_index("media").update(policy)  # 10 written + 5 deleted: under the limit
    assert generation(path) == first  # nothing rewritten
    assert top(path, new[4])[0][0] == "/photos/new-4.jpg"
    assert all(hit != "/photos/00003.jpg" for hit, _ in top(path, vectors[3], k=20))  # deleted: gone at once

    more = unit(60, 4)
    with Library.open_writer(path, "test") as library:
        library.catalog.write_media([record(f"more-{i}") for i in range(60)], list(more))
        library.vector_index("media").update(policy)  # past the limit: folded in, a new generation
    assert generation(path) == first + 1
    with Library.open_reader(path) as library:
        assert library.vector_index("media").is_current() and library.vector_index("media").count == 465
    assert top(path, more[59])[0][0] == "/photos/more-59.jpg"


def test_a_reader_open_before_the_change_finds_new_items_and_loses_deleted_ones(tmp_path: Path) -> None:
    path = tmp_path / "lib"
    policy = IndexPolicy(ivf_threshold=100_000, delta_limit=50)
    vectors = unit(400, 5)
    ids = library_of(path, vectors, policy)
    with Library.open_reader(path) as reader:
        searcher = Searcher(reader, load_settings(library=path))
        assert searcher.ask(Query(vector=vectors[7]), "media", Paging(k=1))[0].id == ids[7]
        new = unit(3, 6)
        with Library.open_writer(path, "test") as library:
            [fresh, *_] = library.catalog.write_media([record(f"new-{i}") for i in range(3)], list(new))
            library.catalog.delete_media([ids[7]])
            library.vector_index("media").update(policy)
        assert searcher.ask(Query(vector=new[0]), "media", Paging(k=1))[0].id == fresh
        assert ids[7] not in [hit.id for hit in searcher.ask(Query(vector=vectors[7]), "media", Paging(k=10))]


def test_rebuild_index_trains_anew_from_the_stored_vectors(cli_library: Path) -> None:
    vectors = unit(3_000, 7)
    library_of(cli_library, vectors, IndexPolicy(ivf_threshold=1_000))
    with Library.open_writer(cli_library, "test") as library:
        library.catalog.write_media([record(f"more-{i}") for i in range(2_000)], list(unit(2_000, 8)))
        index = library.vector_index("media")
        index.update(IndexPolicy(ivf_threshold=1_000))
        assert index.shape.trained_on == 3_000  # not yet doubled: the lists are the first run's
        index.rebuild(IndexPolicy(ivf_threshold=1_000))
        assert index.shape.trained_on == 5_000 and index.count == 5_000 and index.is_current()
    assert top(cli_library, vectors[42])[0][0] == "/photos/00042.jpg"


@pytest.fixture
def cli_library(tmp_path: Path) -> Path:
    return tmp_path / "lib"


def test_xmodal_index_rebuild_index_says_what_it_built(cli: Cli, tmp_path: Path) -> None:
    make_photo_folder(tmp_path / "photos", 3)
    cli.index(tmp_path / "photos")
    before = generation(cli.library)
    said = cli("index", str(tmp_path / "photos"), *cli.model.flags(), "--rebuild-index")
    assert "media index rebuilt: flat, 3 vectors" in said
    assert generation(cli.library) == before + 1  # a new generation, though nothing changed on disk


WRITER = r"""
import sys, numpy as np
from indexer.catalog import MediaRecord
from indexer.library import Library
from indexer.vector_index import IndexPolicy
path, batch_size, merge = __import__("pathlib").Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "merge"
rng = np.random.default_rng(0)
with Library.open_writer(path, "writer") as library:
    library.catalog.set_meta("dim", "32")
    index = library.vector_index("media")
    for batch in range(1_000_000):
        vectors = rng.normal(size=(batch_size, 32)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        records = [MediaRecord(f"/photos/{batch}-{i}.jpg", 1, 1, f"h{batch}-{i}", "ok") for i in range(batch_size)]
        library.catalog.write_media(records, list(vectors))
        if merge:
            index.update(IndexPolicy(ivf_threshold=10**6))  # folded in and written: a merge after every batch
        print(batch, flush=True)
"""


def kill_9_when(script: str, *args: str, said: Callable[[str], bool], pause: float = 0.0) -> None:
    """Run `script` in a child, and SIGKILL it `pause` seconds after a line it prints satisfies `said`."""
    child = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).parent.parent.parent)  # fmt: skip
    assert child.stdout is not None
    deadline = time.monotonic() + 120
    while True:
        line = child.stdout.readline()
        assert line and time.monotonic() < deadline, "the child ended or stalled before the moment to kill it"
        if said(line):
            break
    time.sleep(pause)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()


def test_a_writer_killed_while_appending_leaves_every_committed_item_with_its_vector(tmp_path: Path) -> None:
    path = tmp_path / "lib"
    kill_9_when(WRITER, str(path), "64", "append", said=lambda line: int(line) >= 20)
    with Library.open_writer(path, "test") as library:  # opens: the lock of a dead writer is free
        ids = library.catalog.vector_ids("media")
        assert len(ids) >= 21 * 64 and len(ids) % 64 == 0  # whole batches only
        stored_ids, vectors = library.catalog.fetch_vectors("media", ids.tolist(), DIM)
        assert stored_ids.tolist() == sorted(ids.tolist())
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)  # real rows, not holes of zeros
        library.vector_index("media").update(IndexPolicy(ivf_threshold=100_000))
        assert library.vector_index("media").count == len(ids)
        paths = [row.path for row in library.catalog.media_rows(ids.tolist()).values()]
        assert len(set(paths)) == len(paths)  # every item once


def clustered_library(path: Path, policy: IndexPolicy) -> np.ndarray:
    """8,000 picture vectors in 40 clusters, and 80 texts near them: the texts' vectors are the text queries."""
    rng = np.random.default_rng(9)
    centers = unit(40, 10)
    pictures = centers[rng.integers(0, 40, 8_000)] + 0.25 * rng.normal(size=(8_000, DIM)).astype(np.float32)
    pictures /= np.linalg.norm(pictures, axis=1, keepdims=True)
    texts = centers[rng.integers(0, 40, 80)] + 0.4 * rng.normal(size=(80, DIM)).astype(np.float32)
    texts /= np.linalg.norm(texts, axis=1, keepdims=True)
    library_of(path, pictures, policy)
    with Library.open_writer(path, "test") as library:
        entries = [(f"caption {i}", None) for i in range(80)]
        library.catalog.sync_text_source(
            "/captions.csv", "csv", 1, 1, entries, {f"caption {i}": texts[i] for i in range(80)}
        )
    return pictures


def test_eval_tune_search_records_the_cheapest_nprobe_that_reaches_the_target_and_searches_follow_it(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = IndexPolicy(ivf_threshold=1_000)
    pictures = clustered_library(cli.library, policy)
    said = cli("eval", "--tune-search", "--recall-target", "0.9")
    assert "recorded in the index" in said and "the library's texts" in said
    with Library.open_reader(cli.library) as library:
        index = library.vector_index("media", mapped=True)
        tuning = index.tuning
        assert tuning is not None and tuning["recall"] >= 0.9 and tuning["queries"] == 80
        follows = Searcher(library, load_settings(library=cli.library))
        assert follows.retrieval.search_parameters(index)[:2] == (tuning["nprobe"], tuning["rescore_factor"])
        monkeypatch.setenv("XMODAL_NPROBE", "3")  # set by the user: it stands
        assert Searcher(library, load_settings(library=cli.library)).retrieval.search_parameters(index)[0] == 3
        monkeypatch.delenv("XMODAL_NPROBE")
        monkeypatch.setenv("XMODAL_RERANK_CANDIDATES", "300")  # so does any of the three
        assert Searcher(library, load_settings(library=cli.library)).retrieval.search_parameters(index) == (32, 4, 300)
    monkeypatch.delenv("XMODAL_RERANK_CANDIDATES")

    with Library.open_writer(cli.library, "test") as library:  # a change folded in keeps the training, and the tuning
        library.catalog.write_media([record("new")], [pictures[0]])
        library.vector_index("media").update(policy)
        assert library.vector_index("media").tuning == tuning
        library.vector_index("media").rebuild(policy)  # trained anew: measured on another index, so dropped
        assert library.vector_index("media").tuning is None


def test_a_large_retraining_runs_beside_the_writer_and_takes_in_what_was_written_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("indexer.vector_index.BACKGROUND_FROM", 1_000)
    path = tmp_path / "lib"
    vectors = unit(3_000, 11)
    library_of(path, vectors, IndexPolicy(ivf_threshold=100_000))  # flat
    grown = IndexPolicy(ivf_threshold=2_000)
    with Library.open_writer(path, "test") as library:
        index = library.vector_index("media")
        index.update(grown, background=True)  # starts the training, returns at once
        assert index.shape.kind == "flat" and generation(path) == 1
        late = unit(5, 12)
        library.catalog.write_media([record(f"late-{i}") for i in range(5)], list(late))  # written meanwhile
        assert top(path, late[3])[0][0] == "/photos/late-3.jpg"  # readers: the old index and the delta
        index.finish(grown)
        assert index.shape.kind == "ivf" and index.count == 3_005 and index.is_current()
    assert generation(path) == 2
    assert top(path, late[3])[0][0] == "/photos/late-3.jpg" and top(path, vectors[9])[0][0] == "/photos/00009.jpg"


REBUILD = r"""
import sys, time, numpy as np
import indexer.vector_index as vector_index
from indexer import ann
from indexer.catalog import MediaRecord
from indexer.library import Library
from indexer.vector_index import IndexPolicy
path = __import__("pathlib").Path(sys.argv[1])
rng = np.random.default_rng(1)
vectors = rng.normal(size=(40_000, 32)).astype(np.float32)
vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
with Library.open_writer(path, "rebuilder") as library:
    library.catalog.set_meta("dim", "32")
    records = [MediaRecord(f"/photos/{i}.jpg", 1, 1, f"h{i}", "ok") for i in range(40_000)]
    library.catalog.write_media(records, list(vectors))
    library.vector_index("media").update(IndexPolicy(ivf_threshold=10**6))  # flat, written
    vector_index.BACKGROUND_FROM = 1_000
    index = library.vector_index("media")
    index.update(IndexPolicy(ivf_threshold=1_000), background=True)
    print("building", flush=True)
    while True:
        library.catalog.write_media([MediaRecord(f"/photos/more-{time.time_ns()}.jpg", 1, 1, "m", "ok")], [vectors[0]])
"""


def test_a_writer_killed_during_a_background_retraining_leaves_a_library_that_opens_and_holds_each_item_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "lib"
    kill_9_when(REBUILD, str(path), said=lambda line: line.strip() == "building")
    assert generation(path) == 1  # the flat generation stands
    assert top(path, unit(1, 13)[0])  # and answers
    with Library.open_writer(path, "test") as library:
        index = library.vector_index("media")
        assert index.shape.kind == "flat"
        index.update(IndexPolicy(ivf_threshold=1_000))  # trained now, in the foreground
        ids = library.catalog.vector_ids("media")
        assert index.shape.kind == "ivf" and index.count == len(ids) >= 40_000
        paths = [row.path for row in library.catalog.media_rows(ids.tolist()).values()]
        assert len(set(paths)) == len(paths)


def test_a_writer_killed_while_merging_leaves_an_index_that_opens_and_every_item_once(tmp_path: Path) -> None:
    path = tmp_path / "lib"
    # 16 merges done (the index file is some MB by now), then somewhere inside the next batch's write or merge
    kill_9_when(WRITER, str(path), "2000", "merge", said=lambda line: int(line) >= 15, pause=0.05)
    with Library.open_reader(path) as library:  # whichever generation the manifest names opens whole
        index = library.vector_index("media", mapped=True)
        assert index.index.ntotal == index.count >= 16 * 2_000
    with Library.open_writer(path, "test") as library:
        index = library.vector_index("media")
        index.update(IndexPolicy(ivf_threshold=10**6))
        ids = library.catalog.vector_ids("media")
        assert index.count == len(ids) and len(ids) % 2_000 == 0
        assert np.array_equal(np.sort(ann.index_ids(index.index)), np.sort(ids))  # each item once, none missing
    leftovers = [p.name for p in (path / "index").iterdir() if p.suffix == ".tmp" or p.name.startswith(".")]
    assert not leftovers  # a half-written generation is swept by the next writer
