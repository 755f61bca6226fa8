"""An indexing run's stages on real files and a real catalog: timing, vanishing files, settling files, kept rows."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import Settings, load_settings
from indexer.encoder import Encoder
from indexer.ingest import index_paths
from indexer.ingest.plan import PlannedFile
from indexer.ingest.read import FileReader, ReadOutcome
from indexer.library import Library
from tests.conftest import Cli, TinyModel, make_photo_folder
from tests.indexer.test_decode import bomb_png


@pytest.fixture
def writer(tmp_path: Path, tiny_model: TinyModel) -> Iterator[tuple[Library, Encoder, Settings]]:
    settings = load_settings(
        library=tmp_path / "library", model=str(tiny_model.config), pretrained=str(tiny_model.weights), quiet=True
    )
    with Library.open_writer(settings.library, "test") as lib:
        yield lib, lib.writer_encoder(settings), settings


def ids_by_path(lib: Library) -> dict[str, int]:
    return {row.path: row.id for row in lib.catalog.known_files(["/"]).values()}


def test_the_report_says_where_the_time_went_and_verbose_logs_it(
    cli: Cli, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_photo_folder(tmp_path / "photos", 5)
    caplog.set_level(logging.INFO, logger="indexer.ingest")
    report = cli.index(tmp_path / "photos")
    stages = report["stages"]
    assert set(stages) == {"scan", "plan", "read_decode", "read_wait", "encode", "write", "checkpoint", "sidecars"}
    assert all(seconds >= 0 for seconds in stages.values())
    assert stages["read_decode"] > 0 and stages["encode"] > 0 and stages["write"] > 0  # each stage ran
    assert any("stage seconds: scan" in record.getMessage() for record in caplog.records)


def test_a_picture_over_the_pixel_limit_is_recorded_with_the_setting_to_raise(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "huge.png").write_bytes(bomb_png(20_000, 10_000))  # 200 M pixels: past Pillow's own limit
    assert cli.index(tmp_path / "photos")["failed"] == 1
    (failure,) = cli.stats()["failures"]
    assert failure["reason"] == (
        "image is 20000×10000 (200,000,000 pixels), over the limit of 150,000,000 "
        "(raise XMODAL_MAX_IMAGE_PIXELS to index it)"
    )


def test_a_path_that_no_longer_exists_is_gone_not_an_error(
    writer: tuple[Library, Encoder, Settings], tmp_path: Path
) -> None:
    lib, encoder, settings = writer
    photos = make_photo_folder(tmp_path / "photos", 3)
    index_paths(lib, encoder, [tmp_path / "photos"], settings)
    photos[0].unlink()
    report = index_paths(lib, encoder, [photos[0], tmp_path / "never-was"], settings)
    assert report.vanished == [str(photos[0]), str(tmp_path / "never-was")]
    assert report.removed == 1 and set(ids_by_path(lib)) == {str(photos[1]), str(photos[2])}


def test_a_file_that_vanishes_while_the_run_reads_is_missing_not_failed(
    writer: tuple[Library, Encoder, Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib, encoder, settings = writer
    photos = make_photo_folder(tmp_path / "photos", 4)
    index_paths(lib, encoder, [tmp_path / "photos"], settings)
    os.utime(photos[0], (1, 1))  # changed: it will be read again
    fresh = make_photo_folder(tmp_path / "photos", 1, start=10)[0]
    real_read = FileReader.read

    def read_after_it_vanished(self: FileReader, item: PlannedFile, reuse_known: bool = True) -> ReadOutcome:
        if item.file.path in (str(photos[0]), str(fresh)):
            os.unlink(item.file.path)  # planned, then gone before its bytes were read
        return real_read(self, item, reuse_known)

    monkeypatch.setattr(FileReader, "read", read_after_it_vanished)
    report = index_paths(lib, encoder, [tmp_path / "photos"], settings)
    assert report.failed == 0 and report.added == 0 and report.removed == 1
    assert lib.catalog.failures() == []
    assert set(ids_by_path(lib)) == {str(p) for p in photos[1:]}


def test_files_still_being_written_are_left_for_later_and_are_not_missing(
    writer: tuple[Library, Encoder, Settings], tmp_path: Path
) -> None:
    lib, encoder, settings = writer
    photos = make_photo_folder(tmp_path / "photos", 2)
    index_paths(lib, encoder, [tmp_path / "photos"], settings)
    with open(photos[0], "ab") as handle:
        handle.write(b"more bytes arriving")  # known, being rewritten now
    arriving = make_photo_folder(tmp_path / "photos", 1, start=20)[0]
    report = index_paths(lib, encoder, [tmp_path / "photos"], settings, settle_seconds=3600)
    assert sorted(report.settling) == sorted([str(photos[0]), str(arriving)])
    assert report.added == report.updated == report.failed == report.removed == 0
    assert set(ids_by_path(lib)) == {str(photos[0]), str(photos[1])}

    settled = index_paths(lib, encoder, [tmp_path / "photos"], settings)
    assert settled.settling == [] and settled.added == 1 and settled.updated == 1


def test_kept_missing_rows_wait_for_their_content_to_come_back_as_a_move(
    writer: tuple[Library, Encoder, Settings], tmp_path: Path
) -> None:
    lib, encoder, settings = writer
    photos = make_photo_folder(tmp_path / "photos", 2)
    index_paths(lib, encoder, [tmp_path / "photos"], settings)
    before = ids_by_path(lib)
    parked = tmp_path / "elsewhere.jpg"  # outside every root: for now the file is simply gone
    photos[0].rename(parked)
    asked: list[str] = []

    def keep(path: str) -> bool:
        asked.append(path)
        return True

    report = index_paths(lib, encoder, [], settings, gone=[str(photos[0])], keep_missing=keep)
    assert asked == report.kept_missing == [str(photos[0])] and report.removed == 0

    arrived = tmp_path / "photos" / "sub" / "arrived.jpg"  # the other half of the move, in a later run
    arrived.parent.mkdir()
    parked.rename(arrived)
    report = index_paths(lib, encoder, [arrived], settings)
    assert report.moved == 1 and report.encode_batches == 0
    assert ids_by_path(lib) == {str(arrived): before[str(photos[0])], str(photos[1]): before[str(photos[1])]}


def test_a_missing_row_nobody_keeps_is_removed(writer: tuple[Library, Encoder, Settings], tmp_path: Path) -> None:
    lib, encoder, settings = writer
    photos = make_photo_folder(tmp_path / "photos", 2)
    index_paths(lib, encoder, [tmp_path / "photos"], settings)
    photos[0].unlink()

    def never(_path: str) -> bool:
        return False

    report = index_paths(lib, encoder, [tmp_path / "photos"], settings, keep_missing=never)
    assert report.removed == 1 and report.kept_missing == [] and set(ids_by_path(lib)) == {str(photos[1])}
