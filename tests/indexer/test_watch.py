"""The watcher on real filesystem events: every change ends with catalog and index agreeing with the disk."""

from __future__ import annotations

import io
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.settings import load_settings
from indexer.catalog.schema import media, media_vectors
from indexer.hashing import content_hash
from indexer.ingest import IndexReport
from indexer.library import Library
from indexer.scan import scan
from indexer.watch import Watcher, WatchOptions
from indexer.watch import watcher as watcher_module
from indexer.watch.events import EventCollector
from tests.conftest import Cli, TinyModel, make_photo_folder, picture, write_picture


def indexed(library: Path) -> dict[str, int]:
    """path → id of every file with a vector, read as a separate reader would."""
    with Library.open_reader(library) as lib, lib.catalog.engine.connect() as conn:
        rows = conn.execute(select(media.c.path, media.c.id).join(media_vectors, media_vectors.c.id == media.c.id))
        return {row.path: row.id for row in rows}


def failures(library: Path) -> list[tuple[str, str]]:
    with Library.open_reader(library) as lib:
        return lib.catalog.failures()


def on_disk(root: Path) -> set[str]:
    return {str(p) for p in root.rglob("*") if p.suffix in (".jpg", ".png") and not p.name.startswith(".")}


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("the watcher did not catch up in time")


def stored_hash(library: Path, path: str) -> str | None:
    with Library.open_reader(library) as lib:
        found = lib.catalog.known_files([path]).get(path)
        return found.content_hash if found is not None else None


def in_sync(root: Path, library: Path) -> bool:
    if set(indexed(library)) != on_disk(root):
        return False
    with Library.open_reader(library) as lib:
        vector_index = lib.vector_index("media")
        return vector_index.is_current() and vector_index.index.ntotal == len(on_disk(root))


@dataclass
class Watching:
    root: Path
    library: Path
    watcher: Watcher
    thread: threading.Thread


@contextmanager
def running_watcher(tmp_path: Path, tiny_model: TinyModel, **options: Any) -> Iterator[Watching]:
    root = tmp_path / "watched"
    root.mkdir()
    library = tmp_path / "library"
    settings = load_settings(
        library=library, model=str(tiny_model.config), pretrained=str(tiny_model.weights), quiet=True, batch_size=8
    )
    lib = Library.open_writer(library, "test watch")
    watcher = Watcher(lib, lib.writer_encoder(settings), settings, WatchOptions([str(root)], **options))
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    try:
        assert watcher.ready.wait(30)
        yield Watching(root, library, watcher, thread)
    finally:
        watcher.stop()
        thread.join(30)
        lib.close()


@pytest.fixture(params=[False, True], ids=["native", "polling"])
def watching(request: pytest.FixtureRequest, tmp_path: Path, tiny_model: TinyModel) -> Iterator[Watching]:
    with running_watcher(tmp_path, tiny_model, poll=request.param, debounce=0.3, poll_interval=0.2) as running:
        yield running


@pytest.fixture
def watch_log(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> pytest.LogCaptureFixture:
    """The watcher's log lines, even after an in-process `xmodal watch` stopped them propagating."""
    monkeypatch.setattr(logging.getLogger("xmodal.watch"), "propagate", True)
    caplog.set_level(logging.INFO, logger="xmodal.watch")
    return caplog


def test_create_modify_rename_move_and_delete_are_all_reflected(watching: Watching) -> None:
    root, library = watching.root, watching.library
    photos = make_photo_folder(root / "a", 4)
    wait_for(lambda: in_sync(root, library))
    ids = indexed(library)

    picture(500).save(photos[0], "JPEG")  # an edit
    os.utime(photos[0], (time.time() + 5, time.time() + 5))
    edited = content_hash(photos[0].read_bytes())
    renamed = photos[1].with_name("renamed.jpg")
    photos[1].rename(renamed)  # a rename
    (root / "b").mkdir()
    moved = root / "b" / photos[2].name
    shutil.move(photos[2], moved)  # a move across folders
    photos[3].unlink()  # a delete
    wait_for(lambda: in_sync(root, library) and stored_hash(library, str(photos[0])) == edited)  # re-encoded
    now = indexed(library)
    assert now[str(photos[0])] == ids[str(photos[0])]
    assert now[str(renamed)] == ids[str(photos[1])] and now[str(moved)] == ids[str(photos[2])]
    assert str(photos[3]) not in now


def test_a_moved_folder_keeps_every_vector_and_a_deleted_folder_leaves(watching: Watching) -> None:
    root, library, watcher = watching.root, watching.library, watching.watcher
    make_photo_folder(root / "trip" / "day1", 5)
    make_photo_folder(root / "junk", 3, start=50)
    wait_for(lambda: in_sync(root, library))
    before = {Path(p).name: i for p, i in indexed(library).items() if "/trip/" in p}
    batches = sum(r.encode_batches for r in watcher.reports)
    moved_before = sum(r.moved for r in watcher.reports)
    shutil.move(root / "trip", root / "holidays 2024")
    shutil.rmtree(root / "junk")
    # The watcher thread files a run's report just after committing it: wait for the report as well.
    wait_for(lambda: in_sync(root, library) and sum(r.moved for r in watcher.reports) - moved_before >= 5)
    after = {Path(p).name: i for p, i in indexed(library).items()}
    assert after == before
    assert sum(r.encode_batches for r in watcher.reports) == batches  # nothing was re-encoded


@pytest.mark.parametrize("poll", [False, True], ids=["native", "polling"])
def test_a_file_copied_slowly_is_indexed_once_complete(tmp_path: Path, tiny_model: TinyModel, poll: bool) -> None:
    buffer = io.BytesIO()
    picture(9, (900, 700)).save(buffer, "PNG")
    data = buffer.getvalue()
    # A long settle time: however slow this machine is, the half-written file is still "being written" when seen.
    with running_watcher(tmp_path, tiny_model, poll=poll, debounce=0.3, poll_interval=0.2, settle=600) as running:
        target = running.root / "arriving.png"
        with open(target, "wb") as handle:
            handle.write(data[: len(data) // 2])
            handle.flush()
            wait_for(lambda: any(str(target) in report.settling for report in running.watcher.reports))
            assert indexed(running.library) == {} and failures(running.library) == []  # seen, left alone
            handle.write(data[len(data) // 2 :])
        finished = time.time() - 3600
        os.utime(target, (finished, finished))  # complete, with the times of the original (as `cp -p` leaves them)
        wait_for(lambda: in_sync(running.root, running.library) and sum(r.added for r in running.watcher.reports) == 1)
        assert failures(running.library) == []
        assert sum(report.added for report in running.watcher.reports) == 1


def test_editor_temporary_files_are_ignored(watching: Watching) -> None:
    root, library = watching.root, watching.library
    write_picture(root / ".photo.jpg.swp", 1, "JPEG")
    write_picture(root / "photo.jpg~", 2, "JPEG")
    write_picture(root / "real.jpg", 3, "JPEG")
    wait_for(lambda: in_sync(root, library))
    assert set(indexed(library)) == {str(root / "real.jpg")}


def test_a_burst_is_encoded_in_full_batches(watching: Watching) -> None:
    root, library, watcher = watching.root, watching.library, watching.watcher
    runs = len(watcher.reports)
    make_photo_folder(root / "burst", 64)
    wait_for(lambda: in_sync(root, library) and sum(r.added for r in watcher.reports[runs:]) == 64)
    burst = watcher.reports[runs:]
    assert sum(r.added for r in burst) == 64
    # However the burst was split into runs (a loaded machine splits it more), each run encodes full batches
    # of 8 and one last partial batch at most: never a batch per file.
    assert all(r.encode_batches <= math.ceil((r.added + r.updated) / 8) for r in burst), [
        (r.added, r.encode_batches) for r in burst
    ]


def test_killed_watcher_restarts_and_indexes_every_file_once(tmp_path: Path, tiny_model: TinyModel) -> None:
    root, library = tmp_path / "watched", tmp_path / "library"
    root.mkdir()
    Cli(library, tiny_model).index(root)  # records the model; the watcher uses the library's
    env = {**os.environ, "XMODAL_BATCH_SIZE": "8", "XMODAL_WORKERS": "1"}
    base = [sys.executable, "-m", "api.cli", "watch", "--library", str(library), "--debounce", "0.3", "-q"]
    first = subprocess.Popen([*base, str(root)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    make_photo_folder(root, 200)  # seen by the observer's events or by the watcher's first full scan, either way
    wait_for(lambda: len(indexed(library)) > 0, timeout=60)
    first.send_signal(signal.SIGKILL)
    first.wait()

    # No paths: the restarted watcher resumes the roots the library remembers, and its full scan catches up.
    second = subprocess.Popen(base, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: in_sync(root, library), timeout=90)
        out = Cli(library, tiny_model)("index", str(root), code=3)
        assert "being written by another process" in out and "watch" in out
    finally:
        second.send_signal(signal.SIGTERM)
        _, stderr = second.communicate(timeout=30)
    assert second.returncode == 0, stderr
    assert sorted(indexed(library)) == sorted(on_disk(root))  # every file once


def test_a_root_inside_a_hidden_folder_is_watched_but_hidden_files_below_it_are_not(tmp_path: Path) -> None:
    root = "/home/u/.local/photos"
    collector = EventCollector(str(tmp_path / "library"), [root])
    assert collector.wanted(f"{root}/trip/a.jpg", is_dir=False)
    assert collector.wanted(f"{root}/trip.2024", is_dir=True)  # a folder, whatever its name looks like
    assert not collector.wanted(f"{root}/trip/.a.jpg.swp", is_dir=False)
    assert not collector.wanted(f"{root}/.thumbnails/a.jpg", is_dir=False)
    assert not collector.wanted(f"{root}/notes.pdf", is_dir=False)
    assert not collector.wanted(f"{root}/a.jpg~", is_dir=False)
    assert not collector.wanted("/home/u/elsewhere/a.jpg", is_dir=False)  # outside every root
    assert collector.wanted(f"{root}/a.txt", is_dir=False)


def test_the_scan_and_the_watcher_agree_on_which_files_belong(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    names = ["a.jpg", "b.PNG", "c.txt", "d.jpg~", "notes.pdf", ".e.jpg", ".hidden/f.jpg", "sub.2024/g.heic", "noext"]
    names += ["raw/IMG_1.CR2", "raw/img_1.JPG", "raw/IMG_2.nef", "h.jxl", "i.jp2", "j.pgm"]
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")
    found = scan([str(root)])
    files = [*found.media, *found.sidecars.values(), *found.companions.values(), *found.skipped]
    scanned = {Path(f.path).relative_to(root).as_posix() for f in files}
    collector = EventCollector(str(tmp_path / "library"), [str(root)])
    watched = {name for name in names if collector.wanted(str(root / name), is_dir=False)}
    assert scanned <= watched and watched - scanned == {"c.txt"}  # a caption without its picture pairs with nothing
    assert watched == {"a.jpg", "b.PNG", "c.txt", "sub.2024/g.heic", "raw/IMG_1.CR2", "raw/img_1.JPG"} | {
        "raw/IMG_2.nef",
        "h.jxl",
        "i.jp2",
        "j.pgm",
    }
    assert {Path(f.path).name for f in found.companions.values()} == {"IMG_1.CR2"}  # beside its JPEG
    assert [Path(f.path).name for f in found.skipped] == ["h.jxl"]


def test_the_periodic_full_scan_catches_what_the_observer_missed(tmp_path: Path, tiny_model: TinyModel) -> None:
    root, library = tmp_path / "watched", tmp_path / "library"
    root.mkdir()
    settings = load_settings(
        library=library, model=str(tiny_model.config), pretrained=str(tiny_model.weights), quiet=True
    )
    lib = Library.open_writer(library, "test watch")
    watcher = Watcher(
        lib, lib.writer_encoder(settings), settings, WatchOptions([str(root)], debounce=0.2, full_scan_every=1 / 60)
    )  # every second
    watcher.collector.on_any_event = lambda event: None  # type: ignore[method-assign]  # a deaf observer
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    try:
        assert watcher.ready.wait(30)
        make_photo_folder(root, 3)
        wait_for(lambda: in_sync(root, library), timeout=20)
    finally:
        watcher.stop()
        thread.join(30)
        lib.close()


def test_paths_that_vanish_before_their_batch_runs_do_not_stop_the_watcher(
    watching: Watching, monkeypatch: pytest.MonkeyPatch, watch_log: pytest.LogCaptureFixture
) -> None:
    root, library, watcher = watching.root, watching.library, watching.watcher
    doomed_file, doomed_folder = root / "doomed.jpg", root / "doomed folder"
    real_index_paths = watcher_module.index_paths

    def delete_first(*args: Any, **kwargs: Any) -> IndexReport:
        """The batch was planned with these paths; they disappear before the run looks at them."""
        handed = [Path(path) for path in args[2]]
        if doomed_file in handed:
            doomed_file.unlink()
        if any(path == doomed_folder or doomed_folder in path.parents for path in handed):
            shutil.rmtree(doomed_folder)
        return real_index_paths(*args, **kwargs)

    monkeypatch.setattr(watcher_module, "index_paths", delete_first)
    write_picture(doomed_file, 1, "JPEG")
    make_photo_folder(doomed_folder, 3, start=10)
    wait_for(lambda: not doomed_file.exists() and not doomed_folder.exists())
    wait_for(lambda: sum(len(report.vanished) for report in watcher.reports) >= 2)

    later = write_picture(root / "later.jpg", 2, "JPEG")  # the watcher carries on
    wait_for(lambda: in_sync(root, library))
    assert watching.thread.is_alive()
    assert set(indexed(library)) == {str(later)} and failures(library) == []
    said = [
        record.getMessage()
        for record in watch_log.records
        if "vanished before it could be indexed" in record.getMessage()
    ]
    assert any(str(doomed_file) in line for line in said) and any(str(doomed_folder) in line for line in said)


def test_a_batch_that_fails_is_logged_with_its_paths_and_tried_again(
    watching: Watching, monkeypatch: pytest.MonkeyPatch, watch_log: pytest.LogCaptureFixture
) -> None:
    root, library, watcher = watching.root, watching.library, watching.watcher
    flaky = root / "flaky.jpg"
    real_index_paths = watcher_module.index_paths
    failures_left = [2]

    def fail_twice(*args: Any, **kwargs: Any) -> IndexReport:
        if str(flaky) in {str(path) for path in args[2]} and failures_left[0] > 0:
            failures_left[0] -= 1
            raise RuntimeError("database is locked")
        return real_index_paths(*args, **kwargs)

    monkeypatch.setattr(watcher_module, "index_paths", fail_twice)
    write_picture(flaky, 1, "JPEG")
    wait_for(lambda: in_sync(root, library) and len(watcher.reports) >= 2)
    assert failures_left == [0] and watching.thread.is_alive()
    failed = [record for record in watch_log.records if "indexing failed" in record.getMessage()]
    assert len(failed) == 2 and all(str(flaky) in record.getMessage() for record in failed)
    assert "trying again" in failed[0].getMessage() and failed[0].exc_info is not None  # with the traceback
    assert len(watcher.reports) >= 2  # the full scan, then the batch that finally went through


def moments(library: Path) -> dict[str, list[int]] | None:
    """video path → its moments' ids, as a reader sees them; None until the index holds what the catalog does."""
    with Library.open_reader(library) as lib:
        vector_index = lib.vector_index("media")
        with lib.catalog.connection() as conn:
            rows = conn.execute(
                "SELECT v.path, m.id FROM media m JOIN media v ON m.parent_id = v.id ORDER BY m.id"
            ).fetchall()
        if not vector_index.is_current() or vector_index.index.ntotal != len(rows):
            return None
        found: dict[str, list[int]] = {}
        for path, item in rows:
            found.setdefault(path, []).append(item)
        return found


def test_a_video_that_appears_moves_and_leaves_is_followed(tmp_path: Path, tiny_model: TinyModel) -> None:
    from data.scene_videos import generate

    generate(tmp_path / "made", 1, seed=3, seconds=6.0)
    (made,) = (tmp_path / "made" / "videos").glob("*.mp4")
    with running_watcher(tmp_path, tiny_model, debounce=0.3) as watching:
        root, library = watching.root, watching.library
        shutil.copy(made, root / "clip.mp4")
        wait_for(lambda: list(moments(library) or ()) == [str(root / "clip.mp4")])
        ids = (moments(library) or {})[str(root / "clip.mp4")]
        (root / "trip").mkdir()
        (root / "clip.mp4").rename(root / "trip" / "clip.mp4")
        wait_for(lambda: list(moments(library) or ()) == [str(root / "trip" / "clip.mp4")])
        assert (moments(library) or {})[str(root / "trip" / "clip.mp4")] == ids  # moved, not sampled again
        (root / "trip" / "clip.mp4").unlink()
        wait_for(lambda: moments(library) == {})  # the video, its moments and their vectors are gone


def photos_and_companions(library: Path) -> dict[str, str | None]:
    """path → companion RAW of every photo with a vector, as a reader sees them."""
    with Library.open_reader(library) as lib:
        rows = lib.catalog.media_rows(list(indexed(library).values()))
    return {row.path: row.companion_path for row in rows.values()}


def skipped_names(library: Path) -> list[str]:
    with Library.open_reader(library) as lib:
        return [Path(path).name for _, _, paths in lib.catalog.skipped_by_reason() for path in paths]


def test_a_raw_and_jpeg_pair_is_followed_as_one_photo(tmp_path: Path, tiny_model: TinyModel) -> None:
    from data.dng import write_dng

    with running_watcher(tmp_path, tiny_model, debounce=0.3) as watching:
        root, library = watching.root, watching.library
        raw = write_dng(root / "IMG_0001.DNG", picture(1, (96, 72)))
        jpeg = write_picture(root / "IMG_0001.jpg", 1, "JPEG")
        (root / "poster.jxl").write_bytes(b"not read")
        wait_for(lambda: photos_and_companions(library) == {str(jpeg): str(raw)})
        wait_for(lambda: skipped_names(library) == ["poster.jxl"])
        jpeg.unlink()  # the RAW is all there is of the photo now: indexed on its own
        wait_for(lambda: photos_and_companions(library) == {str(raw): None})
        jpeg = write_picture(root / "IMG_0001.jpg", 2, "JPEG")  # back again: the pair is one photo again
        wait_for(lambda: photos_and_companions(library) == {str(jpeg): str(raw)})
        raw.unlink()
        (root / "poster.jxl").unlink()
        wait_for(lambda: photos_and_companions(library) == {str(jpeg): None} and skipped_names(library) == [])
