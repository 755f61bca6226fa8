"""RAW+JPEG pairs: a RAW beside a JPEG or HEIC of the same name is one photo, indexed from the JPEG, with the RAW
remembered; every change to either file keeps it that way, incrementally, without re-encoding what did not change."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from data.dng import write_dng
from indexer.catalog.names import SCHEMA_VERSION
from indexer.ingest.read import FileReader
from tests.conftest import Cli, picture, write_picture


def photos_in(cli: Cli) -> dict[str, dict[str, Any]]:
    """Every indexed photo, by file name: what a search lists (path, companion)."""
    hits = cli.search_json("anything", "-k", "50", "--no-cutoff")
    return {Path(hit["path"]).name: hit for hit in hits}


def write_pair(
    folder: Path, stem: str, seed: int, raw_suffix: str = ".DNG", jpeg_suffix: str = ".jpg"
) -> tuple[Path, Path]:
    jpeg = write_picture(folder / f"{stem}{jpeg_suffix}", seed, "JPEG", quality=92)
    raw = write_dng(folder / f"{stem.upper()}{raw_suffix}", picture(seed + 100, (96, 72)))
    return jpeg, raw


@contextmanager
def nothing_read(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Reading any file fails the test: the runs inside do their work from the catalog alone."""
    with monkeypatch.context() as patched:
        patched.setattr(FileReader, "read", lambda *_: pytest.fail("a file was read"))
        yield


def test_a_raw_beside_its_jpeg_is_one_photo_indexed_from_the_jpeg(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    jpeg, raw = write_pair(folder, "img_0001", 1)  # IMG_0001.DNG beside img_0001.jpg: names compared in any case
    alone = write_dng(folder / "IMG_0002.dng", picture(2, (96, 72)))
    report = cli.index(folder)
    assert (report["added"], report["companions"], report["scanned"]) == (2, 1, 2)
    found = photos_in(cli)
    assert set(found) == {jpeg.name, alone.name}
    assert found[jpeg.name]["companion"] == str(raw) and "companion" not in found[alone.name]
    assert found[jpeg.name]["width"] == 96  # the JPEG's own picture (the RAW holds another)
    assert cli.stats()["images"] == 2


def test_a_second_run_reads_nothing(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "photos"
    write_pair(folder, "IMG_0001", 1)
    cli.index(folder)
    with nothing_read(monkeypatch):
        report = cli.index(folder)
    assert (report["unchanged"], report["added"], report["updated"], report["removed"]) == (1, 0, 0, 0)


def test_without_its_jpeg_the_raw_is_indexed_on_its_own(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    jpeg, raw = write_pair(folder, "IMG_0001", 1)
    cli.index(folder)
    jpeg.unlink()
    report = cli.index(folder)
    assert (report["added"], report["removed"]) == (1, 1)
    found = photos_in(cli)
    assert set(found) == {raw.name} and "companion" not in found[raw.name]


def test_a_deleted_raw_is_forgotten_and_nothing_is_encoded(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "photos"
    jpeg, raw = write_pair(folder, "IMG_0001", 1)
    cli.index(folder)
    ids = {name: hit["id"] for name, hit in photos_in(cli).items()}
    raw.unlink()
    with nothing_read(monkeypatch):
        report = cli.index(folder)
    assert (report["added"], report["updated"], report["removed"]) == (0, 0, 0)
    found = photos_in(cli)
    assert {name: hit["id"] for name, hit in found.items()} == ids and "companion" not in found[jpeg.name]


def test_a_raw_added_beside_an_indexed_jpeg_is_recorded_without_reencoding(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "photos"
    jpeg = write_picture(folder / "DSC_0042.JPG", 1, "JPEG")
    cli.index(folder)
    raw = write_dng(folder / "DSC_0042.NEF", picture(1, (96, 72)))  # DNG bytes: never read anyway
    with nothing_read(monkeypatch):
        report = cli.index(folder)  # the whole folder, and the RAW alone (as the watcher names it)
        cli.index(raw)
    assert (report["added"], report["updated"], report["companions"]) == (0, 0, 1)
    assert photos_in(cli)[jpeg.name]["companion"] == str(raw)


def test_a_jpeg_added_beside_an_indexed_raw_takes_its_place(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    raw = write_dng(folder / "IMG_0007.CR3", picture(7, (96, 72)))  # DNG bytes LibRaw reads, whatever the name
    cli.index(folder)
    assert set(photos_in(cli)) == {raw.name}
    jpeg = write_picture(folder / "IMG_0007.heic", 7, "HEIF")
    report = cli.index(jpeg)  # named alone, as the watcher would
    assert (report["added"], report["removed"]) == (1, 1)
    found = photos_in(cli)
    assert set(found) == {jpeg.name} and found[jpeg.name]["companion"] == str(raw)


def test_a_pair_moved_to_another_folder_keeps_its_vector_and_its_raw(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    jpeg, raw = write_pair(folder / "card", "IMG_0001", 1)
    cli.index(folder)
    before = photos_in(cli)[jpeg.name]["id"]
    shutil.move(folder / "card", folder / "Trip to Zürich 2024")
    report = cli.index(folder)
    assert (report["moved"], report["added"]) == (1, 0)
    hit = photos_in(cli)[jpeg.name]
    assert hit["id"] == before
    assert hit["path"] == str(folder / "Trip to Zürich 2024" / jpeg.name)
    assert hit["companion"] == str(folder / "Trip to Zürich 2024" / raw.name)


def test_where_names_repeat_the_first_raw_and_rendering_pair_and_the_rest_stand_alone(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    write_picture(folder / "IMG_0001.JPG", 1, "JPEG")
    write_picture(folder / "IMG_0001.jpeg", 2, "JPEG")
    write_dng(folder / "IMG_0001.ARW", picture(3, (96, 72)))
    write_dng(folder / "IMG_0001.DNG", picture(4, (96, 72)))
    cli.index(folder)
    found = photos_in(cli)
    assert set(found) == {"IMG_0001.JPG", "IMG_0001.jpeg", "IMG_0001.DNG"}
    assert found["IMG_0001.JPG"]["companion"] == str(folder / "IMG_0001.ARW")


def test_a_library_from_before_pairs_migrates_and_its_raw_joins_its_jpeg(cli: Cli, tmp_path: Path) -> None:
    """A schema 3 catalog (before companions and skipped files) in which a RAW was indexed beside its JPEG."""
    folder = tmp_path / "photos"
    jpeg, raw = write_pair(tmp_path / "elsewhere", "IMG_0001", 1)
    cli.index(jpeg)
    folder.mkdir()
    shutil.move(raw, folder / raw.name)
    raw = folder / raw.name
    cli.index(raw)
    shutil.move(jpeg, folder / jpeg.name)
    catalog = cli.library / "catalog.sqlite"
    with sqlite3.connect(catalog) as db:  # two photos, as a version without pairs indexed them
        db.execute("UPDATE media SET path = ? WHERE path = ?", (str(folder / jpeg.name), str(jpeg)))
        db.execute("UPDATE media SET companion_path = NULL")
        db.execute("DROP INDEX ix_media_companion_path")
        db.execute("ALTER TABLE media DROP COLUMN companion_path")
        db.execute("DROP TABLE skipped_files")
        db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    with sqlite3.connect(catalog) as db:
        assert db.execute("SELECT count(*) FROM media").fetchone() == (2,)
    jpeg = folder / jpeg.name
    report = cli.index(folder)
    assert (report["removed"], report["added"], report["updated"]) == (1, 0, 0)  # the RAW's row leaves
    found = photos_in(cli)
    assert set(found) == {jpeg.name} and found[jpeg.name]["companion"] == str(raw)
    with sqlite3.connect(catalog) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
