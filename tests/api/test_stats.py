"""`xmodal stats` and `GET /api/stats`: what the library holds, told from its manifests, not its index files."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import faiss
import pytest
from fastapi.testclient import TestClient

from api.server import create_app
from api.stats import FolderSizes, library_stats
from indexer.library import Library
from tests.api.conftest import ServedLibrary, index


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def library_copy(served: ServedLibrary, tmp_path: Path) -> Iterator[Path]:
    """A library of its own, so a test may add thumbnails or edit a manifest."""
    photos = tmp_path / "photos"
    shutil.copytree(served.photos, photos, ignore=shutil.ignore_patterns("scene-3-000[1-9]*", "scene-3-00[1-5]*"))
    index(tmp_path / "library", photos)
    yield tmp_path / "library"


def every_file_but_thumbnails(library: Path) -> int:
    total = 0
    for folder, folders, names in os.walk(library):
        folders[:] = [name for name in folders if name != "thumbnails"]
        total += sum(os.path.getsize(os.path.join(folder, name)) for name in names)
    return total


def library_dim(path: Path) -> int:
    with Library.open_reader(path) as library:
        return library.dim()


def test_indexes_are_described_without_loading_them(served: ServedLibrary, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_index_reads(*_args: object) -> None:
        raise AssertionError("stats read an index file")

    monkeypatch.setattr(faiss, "read_index", no_index_reads)
    with Library.open_reader(served.library) as library:
        stats = library_stats(library, FolderSizes(max_age=0))
    assert (stats["images"], stats["failed"]) == (62, 1)
    media = stats["indexes"]["media"]
    assert {key: media[key] for key in ("kind", "nlist", "count", "current", "delta", "precision")} == {
        "kind": "flat", "nlist": 0, "count": 62, "current": True, "delta": 0, "precision": "float32"
    }  # fmt: skip
    assert media["vector_bytes"] >= 62 * library_dim(served.library) * 4
    assert stats["indexes"]["texts"]["count"] == stats["texts"] and stats["indexes"]["texts"]["current"]
    assert [Path(failure["path"]).name for failure in stats["failures"]] == [served.broken.name]


def test_an_index_behind_the_catalog_is_not_current(library_copy: Path) -> None:
    manifest = library_copy / "index" / "media.json"
    written = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**written, "version": written["version"] - 1}))  # as if a writer is mid-run
    with Library.open_reader(library_copy) as library:
        indexes = library_stats(library, FolderSizes(max_age=0))["indexes"]
    assert indexes["media"]["current"] is False and indexes["texts"]["current"] is True
    assert indexes["media"]["delta"] > 0  # the last batch's vectors: searched beside the index


def test_disk_usage_counts_the_library_and_recounts_thumbnails_only_now_and_then(
    library_copy: Path, served: ServedLibrary
) -> None:
    clock = Clock()
    thumbnails = FolderSizes(max_age=300, clock=clock)
    with Library.open_reader(library_copy) as library:
        before = library_stats(library, thumbnails)
        assert before["thumbnail_bytes"] == 0
        assert before["disk_bytes"] == every_file_but_thumbnails(library_copy)  # catalog, WAL, index generations
        with TestClient(create_app(served.settings(library=library_copy))) as client:
            hit = client.get("/api/search", params={"q": "a red circle", "k": 1}).json()["hits"][0]
            assert client.get(hit["thumbnail_url"]).status_code == 200
        cached = sum(path.stat().st_size for path in (library_copy / "thumbnails").rglob("*.jpg"))
        assert cached > 0
        assert library_stats(library, thumbnails)["thumbnail_bytes"] == 0  # not walked again yet
        clock.now += 301
        after = library_stats(library, thumbnails)
        assert after["thumbnail_bytes"] == cached
        assert after["disk_bytes"] == every_file_but_thumbnails(library_copy) + cached


def test_the_api_answers_what_the_cli_prints(client: TestClient, served: ServedLibrary) -> None:
    served_stats = client.get("/api/stats").json()
    with Library.open_reader(served.library) as library:
        printed = library_stats(library, FolderSizes(max_age=0))
    assert served_stats.keys() == printed.keys()
    assert {key: served_stats[key] for key in ("images", "failed", "texts", "indexes", "failures", "model")} == {
        key: printed[key] for key in ("images", "failed", "texts", "indexes", "failures", "model")
    }
