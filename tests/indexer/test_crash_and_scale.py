"""A run killed with SIGKILL loses nothing; readers see committed work; IVF on real photos."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.options import Paging
from core.settings import load_settings
from indexer.library import Library
from searcher.engine import Searcher
from searcher.query import Query
from tests.conftest import FLICKR, Cli, TinyModel, make_photo_folder


def committed_vectors(library: Path) -> int:
    try:
        with sqlite3.connect(f"{(library / 'catalog.sqlite').as_uri()}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM media_vectors").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def index_until_some_are_committed(photos: Path, library: Path, model: TinyModel) -> subprocess.Popen[str]:
    """`xmodal index` in a child process, returned stopped (SIGSTOP) once a few batches are in the catalog: the
    int8 tiny model indexes 240 pictures in about half a second, so a signal sent to a running child could land
    after the run ended. The caller sends its signal, then SIGCONT."""
    env = {**os.environ, "XMODAL_BATCH_SIZE": "8", "XMODAL_WORKERS": "1", "XMODAL_CHECKPOINT_SECONDS": "1000"}
    argv = [sys.executable, "-m", "api.cli", "index", str(photos), "--library", str(library), *model.flags(), "-q"]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while committed_vectors(library) < 24 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.01)
    process.send_signal(signal.SIGSTOP)
    return process


def test_kill_9_mid_run_then_rerun_indexes_every_file_once(tmp_path: Path, tiny_model: TinyModel) -> None:
    photos = make_photo_folder(tmp_path / "photos", 240)
    library = tmp_path / "library"
    process = index_until_some_are_committed(tmp_path / "photos", library, tiny_model)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = committed_vectors(library)
    assert 0 < done_before < 240, "the kill must land mid-run for this test to mean anything"

    # Before any rerun, a reader sees every committed item, although no index generation was written.
    settings = load_settings(library=library, workers=1)
    with Library.open_reader(library) as lib:
        searcher = Searcher(lib, settings)
        assert not (library / "index" / "media.json").exists()
        hits = searcher.ask(Query(media_id=1), "media", Paging(k=1000))
        assert len(hits) == done_before

    cli = Cli(library, tiny_model)
    report = cli.index(tmp_path / "photos")
    assert report["unchanged"] == done_before and report["added"] == 240 - done_before
    stats = cli.stats()
    assert stats["images"] == 240 and stats["indexes"]["media"]["count"] == 240
    paths = [hit["path"] for hit in cli.search_json("--image", str(photos[0]), "-k", "1000")]
    assert sorted(paths) == sorted(map(str, photos))  # every file once, none twice


def test_sigterm_finishes_the_batch_writes_the_index_and_exits_130(tmp_path: Path, tiny_model: TinyModel) -> None:
    make_photo_folder(tmp_path / "photos", 240)
    library = tmp_path / "library"
    process = index_until_some_are_committed(tmp_path / "photos", library, tiny_model)
    process.send_signal(signal.SIGTERM)
    process.send_signal(signal.SIGCONT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    committed = committed_vectors(library)
    assert 0 < committed < 240
    manifest = json.loads((library / "index" / "media.json").read_text())
    assert manifest["count"] == committed  # the index on disk covers everything committed
    report = Cli(library, tiny_model).index(tmp_path / "photos")
    assert report["added"] == 240 - committed


@pytest.mark.skipif(not FLICKR.is_dir(), reason="needs ../shared/data/flickr8k-dev")
def test_real_photos_past_the_threshold_get_an_ivf_index_that_still_finds_each_photo(
    tmp_path: Path, tiny_model: TinyModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XMODAL_IVF_THRESHOLD", "200")
    photos = sorted((FLICKR / "images").glob("*.jpg"))
    cli = Cli(tmp_path / "library", tiny_model)
    report = cli.index(FLICKR / "images")
    assert report["added"] == len(photos) and report["failed"] == 0
    media = cli.stats()["indexes"]["media"]
    assert media["kind"] == "ivf" and media["count"] == len(photos)
    assert len(photos) / media["nlist"] >= 39
    for photo in photos[::50]:
        top = cli.search_json("--image", str(photo), "-k", "3")[0]
        assert top["path"] == str(photo) and top["score"] == pytest.approx(1.0, abs=1e-4)


def test_searches_see_items_added_after_the_index_was_written(cli: Cli, tmp_path: Path) -> None:
    """A reader built before a writer's next run: the catalog delta keeps it exact and complete."""
    make_photo_folder(tmp_path / "photos", 4)
    cli.index(tmp_path / "photos")
    settings = load_settings(library=cli.library)
    with Library.open_reader(cli.library) as lib:
        searcher = Searcher(lib, settings)
        before = searcher.ask(Query(media_id=1), "media", Paging(k=100))
        new = make_photo_folder(tmp_path / "photos", 3, start=100)
        cli.index(tmp_path / "photos")
        (tmp_path / "photos" / "photo-000.jpg").unlink()
        cli.index(tmp_path / "photos")
        after = Searcher(lib, settings)
        hits = after.ask(Query(media_id=5), "media", Paging(k=100))
    assert len(before) == 4
    assert {hit.path for hit in hits} >= {str(p) for p in new}
    assert str(tmp_path / "photos" / "photo-000.jpg") not in {hit.path for hit in hits}
