"""The watcher on real filesystem events: every change ends with catalog and index agreeing with the disk."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from core.settings import load_settings
from indexer.catalog.schema import media, media_vectors
from indexer.library import Library
from indexer.watch import Watcher, WatchOptions
from tests.conftest import Cli, TinyModel, make_photo_folder, picture, write_picture


def indexed(library: Path) -> dict[str, int]:
    """path → id of every file with a vector, read as a separate reader would."""
    with Library.open_reader(library) as lib, lib.catalog.engine.connect() as conn:
        rows = conn.execute(select(media.c.path, media.c.id).join(media_vectors, media_vectors.c.id == media.c.id))
        return {row.path: row.id for row in rows}


def on_disk(root: Path) -> set[str]:
    return {str(p) for p in root.rglob("*") if p.suffix in (".jpg", ".png") and not p.name.startswith(".")}


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("the watcher did not catch up in time")


def in_sync(root: Path, library: Path) -> bool:
    if set(indexed(library)) != on_disk(root):
        return False
    with Library.open_reader(library) as lib:
        vector_index = lib.vector_index("media")
        return vector_index.is_current() and vector_index.index.ntotal == len(on_disk(root))


@pytest.fixture(params=[False, True], ids=["native", "polling"])
def watching(
    request: pytest.FixtureRequest, tmp_path: Path, tiny_model: TinyModel
) -> Iterator[tuple[Path, Path, Watcher]]:
    root = tmp_path / "watched"
    root.mkdir()
    library = tmp_path / "library"
    settings = load_settings(
        library=library, model=str(tiny_model.config), pretrained=str(tiny_model.weights), quiet=True, batch_size=8
    )
    lib = Library.open_writer(library, "test watch")
    watcher = Watcher(
        lib,
        lib.writer_encoder(settings),
        settings,
        WatchOptions([str(root)], poll=request.param, debounce=0.3, poll_interval=0.2),
    )
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    assert watcher.ready.wait(30)
    try:
        yield root, library, watcher
    finally:
        watcher.stop()
        thread.join(30)
        lib.close()


def test_create_modify_rename_move_and_delete_are_all_reflected(watching: tuple[Path, Path, Watcher]) -> None:
    root, library, _ = watching
    photos = make_photo_folder(root / "a", 4)
    wait_for(lambda: in_sync(root, library))
    ids = indexed(library)

    picture(500).save(photos[0], "JPEG")  # an edit
    os.utime(photos[0], (time.time() + 5, time.time() + 5))
    renamed = photos[1].with_name("renamed.jpg")
    photos[1].rename(renamed)  # a rename
    (root / "b").mkdir()
    moved = root / "b" / photos[2].name
    shutil.move(photos[2], moved)  # a move across folders
    photos[3].unlink()  # a delete
    wait_for(lambda: in_sync(root, library))
    now = indexed(library)
    assert now[str(photos[0])] == ids[str(photos[0])]
    assert now[str(renamed)] == ids[str(photos[1])] and now[str(moved)] == ids[str(photos[2])]
    assert str(photos[3]) not in now


def test_a_moved_folder_keeps_every_vector_and_a_deleted_folder_leaves(watching: tuple[Path, Path, Watcher]) -> None:
    root, library, watcher = watching
    make_photo_folder(root / "trip" / "day1", 5)
    make_photo_folder(root / "junk", 3, start=50)
    wait_for(lambda: in_sync(root, library))
    before = {Path(p).name: i for p, i in indexed(library).items() if "/trip/" in p}
    batches = sum(r.encode_batches for r in watcher.reports)
    shutil.move(root / "trip", root / "holidays 2024")
    shutil.rmtree(root / "junk")
    wait_for(lambda: in_sync(root, library))
    after = {Path(p).name: i for p, i in indexed(library).items()}
    assert after == before
    assert sum(r.encode_batches for r in watcher.reports) == batches  # nothing was re-encoded


def test_a_file_copied_slowly_is_indexed_once_complete(watching: tuple[Path, Path, Watcher]) -> None:
    root, library, _ = watching
    source = write_picture(root.parent / "big.png", 9)
    picture(9, (900, 700)).save(source)
    data = source.read_bytes()
    target = root / "arriving.png"
    with open(target, "wb") as handle:
        for start in range(0, len(data), len(data) // 8 + 1):
            handle.write(data[start : start + len(data) // 8 + 1])
            handle.flush()
            time.sleep(0.15)
    wait_for(lambda: in_sync(root, library))
    with Library.open_reader(library) as lib:
        assert lib.catalog.failures() == []


def test_editor_temporary_files_are_ignored(watching: tuple[Path, Path, Watcher]) -> None:
    root, library, _ = watching
    write_picture(root / ".photo.jpg.swp", 1, "JPEG")
    write_picture(root / "photo.jpg~", 2, "JPEG")
    write_picture(root / "real.jpg", 3, "JPEG")
    wait_for(lambda: in_sync(root, library))
    assert set(indexed(library)) == {str(root / "real.jpg")}


def test_a_burst_is_encoded_in_full_batches(watching: tuple[Path, Path, Watcher]) -> None:
    root, library, watcher = watching
    before = sum(r.encode_batches for r in watcher.reports)
    make_photo_folder(root / "burst", 64)
    wait_for(lambda: in_sync(root, library))
    assert sum(r.encode_batches for r in watcher.reports) - before <= 64 // 8 + 2


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


def test_a_root_inside_a_hidden_folder_is_watched_but_hidden_files_below_it_are_not() -> None:
    from indexer.watch import _ignored

    root = "/home/u/.local/photos"
    assert not _ignored(f"{root}/trip/a.jpg", [root])
    assert _ignored(f"{root}/trip/.a.jpg.swp", [root])
    assert _ignored(f"{root}/.thumbnails/a.jpg", [root])
    assert _ignored(f"{root}/notes.pdf", [root])
    assert not _ignored(f"{root}/a.txt", [root])


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
