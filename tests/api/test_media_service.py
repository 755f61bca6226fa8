"""The media service on a real library: what the media endpoints are told about an id, and its failures."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import NotFound
from indexer.library import Library
from searcher.media import MediaService
from tests.api.conftest import ServedLibrary, index


@pytest.fixture
def library(served: ServedLibrary) -> Iterator[Library]:
    with Library.open_reader(served.library) as opened:
        yield opened


def id_of(library: Library, path: Path) -> int:
    media_id = library.catalog.media_id_for_path(str(path))
    assert media_id is not None, path
    return media_id


def test_a_record_is_what_the_catalog_knows(library: Library, served: ServedLibrary) -> None:
    media = MediaService(library.catalog)
    record = media.record(id_of(library, served.jpeg))
    assert record.path == str(served.jpeg) and record.status == "ok"
    assert (record.width, record.height, record.camera) == (320, 240, "Fujifilm X100V")


def test_a_file_says_where_it_is_and_how_to_serve_it(library: Library, served: ServedLibrary) -> None:
    media = MediaService(library.catalog)
    jpeg = media.file_on_disk(id_of(library, served.jpeg))
    assert (jpeg.path, jpeg.name, jpeg.content_type) == (served.jpeg, "holiday.jpg", "image/jpeg")
    png = media.file(id_of(library, served.unicode_file))
    assert (png.name, png.content_type, png.on_disk()) == (served.unicode_file.name, "image/png", True)
    assert jpeg.content_hash and png.content_hash and jpeg.content_hash != png.content_hash


@pytest.mark.parametrize("ask", [MediaService.record, MediaService.file, MediaService.file_on_disk])
def test_unknown_ids_and_failed_files_are_not_found(library: Library, served: ServedLibrary, ask: object) -> None:
    media = MediaService(library.catalog)
    broken = id_of(library, served.broken)  # the catalog lists it, with the reason it failed
    assert library.catalog.media_row(broken) is not None
    for media_id in (broken, 999_999):
        with pytest.raises(NotFound, match=f"no indexed image has id {media_id}"):
            ask(media, media_id)  # type: ignore[operator]


def test_a_file_gone_from_disk_is_still_known_but_not_served(served: ServedLibrary, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    kept, victim = (shutil.copy(served.jpeg, photos / "kept.jpg"), shutil.copy(served.unicode_file, photos / "v.png"))
    index(tmp_path / "library", photos)
    Path(victim).unlink()
    with Library.open_reader(tmp_path / "library") as library:
        media = MediaService(library.catalog)
        gone = media.file(id_of(library, Path(victim)))  # a cached thumbnail may still be served for it
        assert not gone.on_disk()
        with pytest.raises(NotFound, match="no longer on disk") as raised:
            media.file_on_disk(gone.id)
        assert raised.value.hint and "index run" in raised.value.hint
        assert media.file_on_disk(id_of(library, Path(kept))).on_disk()
