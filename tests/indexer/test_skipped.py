"""Files that look like pictures but are not indexed are listed with the reason, never skipped in silence: by
`xmodal stats`, counted by reason with a few of their paths, refreshed by each scan, and never given an id."""

from __future__ import annotations

from pathlib import Path

import pytest

from data.dng import write_dng
from indexer import selection
from indexer.unindexed import RAW_WITHOUT_READER, SKIPPED_EXTENSIONS, VIDEOS_OFF
from tests.conftest import Cli, picture, write_picture


def skipped(cli: Cli) -> dict[str, tuple[int, list[str]]]:
    """reason → (count, example file names), as `xmodal stats --json` lists them."""
    stats = cli.stats()
    groups = stats["skipped_by_reason"]
    assert stats["skipped"] == sum(group["count"] for group in groups)
    return {group["reason"]: (group["count"], [Path(p).name for p in group["examples"]]) for group in groups}


def test_skipped_files_are_listed_by_reason_and_follow_the_disk(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    write_picture(folder / "photo.jpg", 1, "JPEG")
    for name in ("poster.jxl", "layers 1.psd", "layers 2.PSD", "layers 3.psd", "layers 4.psd", "logo.svg"):
        (folder / "work" / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / "work" / name).write_bytes(b"not read")
    (folder / "notes.pdf").write_bytes(b"%PDF")  # not a picture: not listed either
    report = cli.index(folder)
    assert (report["added"], report["skipped"], report["failed"]) == (1, 6, 0)
    assert skipped(cli) == {
        SKIPPED_EXTENSIONS[".psd"]: (4, ["layers 1.psd", "layers 2.PSD", "layers 3.psd"]),
        SKIPPED_EXTENSIONS[".jxl"]: (1, ["poster.jxl"]),
        SKIPPED_EXTENSIONS[".svg"]: (1, ["logo.svg"]),
    }
    assert SKIPPED_EXTENSIONS[".jxl"] == "JPEG XL: no maintained reader installed"
    stats = cli.stats()
    assert (stats["images"], stats["failed"], stats["indexes"]["media"]["count"]) == (1, 0, 1)  # no ids for them

    (folder / "work" / "poster.jxl").unlink()
    cli.index(folder / "work" / "layers 1.psd")  # a run over one file leaves the records of the others alone
    assert SKIPPED_EXTENSIONS[".jxl"] in skipped(cli)
    cli.index(folder / "work")  # a scan replaces what it covers
    assert skipped(cli) == {
        SKIPPED_EXTENSIONS[".psd"]: (4, ["layers 1.psd", "layers 2.PSD", "layers 3.psd"]),
        SKIPPED_EXTENSIONS[".svg"]: (1, ["logo.svg"]),
    }


def test_the_stats_table_says_why_files_were_not_indexed(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "scan.jxl").write_bytes(b"not read")
    write_picture(tmp_path / "photos" / "photo.png", 2, "PNG")
    cli.index(tmp_path / "photos")
    out = cli("stats")
    assert "1 files were not indexed:" in out
    assert "1 × JPEG XL: no maintained reader installed:" in out and "scan.jxl" in out


def test_raw_files_without_rawpy_are_listed_not_failed(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selection, "reader_installed", lambda module: module != "rawpy")
    folder = tmp_path / "photos"
    write_dng(folder / "IMG_0001.DNG", picture(1, (96, 72)))
    write_picture(folder / "IMG_0002.JPG", 2, "JPEG")
    write_dng(folder / "IMG_0002.CR2", picture(2, (96, 72)))  # beside its JPEG: one photo, whatever reads RAWs
    report = cli.index(folder)
    assert (report["added"], report["failed"], report["companions"]) == (1, 0, 1)
    assert skipped(cli) == {RAW_WITHOUT_READER: (1, ["IMG_0001.DNG"])}


def test_videos_are_listed_while_indexing_them_is_switched_off(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "media"
    write_picture(folder / "photo.jpg", 1, "JPEG")
    (folder / "clip.mp4").write_bytes(b"not read while videos are off")
    monkeypatch.setenv("XMODAL_VIDEO__ENABLED", "false")
    report = cli.index(folder)
    assert (report["added"], report["failed"], report["videos"]) == (1, 0, 0)
    assert skipped(cli) == {VIDEOS_OFF: (1, ["clip.mp4"])}
    monkeypatch.delenv("XMODAL_VIDEO__ENABLED")
    report = cli.index(folder)  # switched on: read (this one is no video at all), and no longer listed
    assert (report["failed"], skipped(cli)) == (1, {})
