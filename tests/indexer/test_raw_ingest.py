"""Camera RAW files in a library: a DNG made from a real photo is indexed upright, with its camera and date, and
found as that photo; RAW files LibRaw cannot read are recorded as failed, with the reason, and the run goes on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from api.cli import app
from data.dng import dng_bytes, real_photo, write_dng
from tests.conftest import Cli, write_picture


def demo(library: Path, *args: str) -> Any:
    """`xmodal ... --json` on a library of the shipped demo model, whose vectors tell photos apart."""
    result = CliRunner().invoke(app, [*args, "--json", "--library", str(library)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_dng_is_found_as_the_photo_it_holds_upright_with_its_camera_and_date(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    source = real_photo(0)
    source.save(photos / "source.jpg", quality=95)
    source.rotate(90, expand=True).save(photos / "turned.jpg", quality=95)  # the photo, not upright
    for index in range(1, 4):
        real_photo(index).save(photos / f"other-{index}.jpg", quality=95)
    # Held in portrait (orientation 6), no preview: the half-size render must come out upright.
    dng = write_dng(photos / "raw" / "Ünïcødé 照片.dng", source, 6)
    report = demo(tmp_path / "library", "index", str(photos), "--model", "demo", "-q")
    assert (report["added"], report["failed"]) == (6, 0)

    hits = demo(tmp_path / "library", "search", "--image", str(dng), "-k", "6")
    assert hits[0]["path"] == str(dng) and hits[0]["cosine"] > 0.99  # itself, queried from the RAW file too
    assert (hits[0]["width"], hits[0]["height"]) == (374, 500)
    assert (hits[0]["camera"], hits[0]["taken_at"]) == ("Testcam RX-1", "2021-06-05T10:11:12")
    by_name = {Path(hit["path"]).name: hit["cosine"] for hit in hits}
    assert hits[1]["path"] == str(photos / "source.jpg") and by_name["source.jpg"] > 0.9
    assert by_name["turned.jpg"] < by_name["source.jpg"] - 0.2


def test_raws_libraw_cannot_read_are_recorded_as_failed_and_the_run_goes_on(cli: Cli, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    good = dng_bytes(real_photo(1), 1)
    (photos / "IMG_0001.CR2").write_bytes(b"\x00garbage, not a RAW file\n" * 200)
    (photos / "cut.dng").write_bytes(good[: len(good) // 2])
    (photos / "empty.nef").write_bytes(b"")
    (photos / "good.dng").write_bytes(good)
    write_picture(photos / "photo.jpg", 1, "JPEG")
    report = cli.index(photos)
    assert (report["added"], report["failed"]) == (2, 3)
    reasons = {Path(failure["path"]).name: failure["reason"] for failure in cli.stats()["failures"]}
    assert reasons == {
        "IMG_0001.CR2": "not a camera RAW file LibRaw can read (unsupported camera, or not a RAW)",
        "cut.dng": "corrupt or truncated RAW file: LibRaw: Input/output error",
        "empty.nef": "empty file (0 bytes)",
    }
    assert cli.index(photos)["failed"] == 0  # a failed file is not read again until it changes
