"""Pictures browsers cannot show (JPEG 2000, Netpbm, camera RAW) through the API: the page shows them as JPEG
thumbnails, upright, the originals are served with their own types, a RAW+JPEG pair is one photo that names its RAW,
and the files the scan skipped are in the stats with the reason."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api.server import create_app
from core.settings import load_settings
from data.dng import real_photo, write_dng
from tests.conftest import Cli, picture, write_picture


@pytest.fixture
def served(cli: Cli, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, dict[str, Any]]]]:
    """A library of every kind of picture a browser cannot show; the client, and its photos' hits by name."""
    folder = tmp_path / "photos"
    write_picture(folder / "map.jp2", 1, "JPEG2000")
    picture(2).convert("L").save(folder / "scan.pgm", "PPM")  # Pillow writes a grey picture as PGM
    write_picture(folder / "sky.avif", 3, "AVIF")
    write_dng(folder / "Ünïcødé 照片.dng", real_photo(0), 6)  # held in portrait
    write_picture(folder / "IMG_0001.JPG", 4, "JPEG")
    write_dng(folder / "IMG_0001.CR2", picture(4, (96, 72)))
    (folder / "poster.jxl").write_bytes(b"not read")
    assert cli.index(folder)["added"] == 5
    with TestClient(create_app(load_settings(library=cli.library))) as client:
        hits = client.get("/api/search", params={"q": "anything", "k": 20}).json()["hits"]
        yield client, {hit["name"]: hit for hit in hits}


def test_every_picture_has_a_jpeg_thumbnail_upright(served: tuple[TestClient, dict[str, dict[str, Any]]]) -> None:
    client, hits = served
    assert set(hits) == {"map.jp2", "scan.pgm", "sky.avif", "Ünïcødé 照片.dng", "IMG_0001.JPG"}
    for name, hit in hits.items():
        response = client.get(hit["thumbnail_url"], params={"size": 128})
        assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg", name
        thumb = Image.open(io.BytesIO(response.content))
        assert thumb.format == "JPEG" and max(thumb.size) == min(128, max(hit["width"], hit["height"])), name
    raw = client.get(hits["Ünïcødé 照片.dng"]["thumbnail_url"], params={"size": 256})
    thumb = Image.open(io.BytesIO(raw.content))
    assert thumb.size[0] < thumb.size[1]  # a portrait photo, shown as one


def test_originals_are_served_with_their_own_types(served: tuple[TestClient, dict[str, dict[str, Any]]]) -> None:
    client, hits = served
    types = {
        "map.jp2": "image/jp2",
        "scan.pgm": "image/x-portable-anymap",
        "sky.avif": "image/avif",
        "Ünïcødé 照片.dng": "image/x-adobe-dng",
    }
    for name, content_type in types.items():
        response = client.get(hits[name]["file_url"])
        assert response.status_code == 200 and response.headers["content-type"] == content_type, name
    media = client.get(f"/api/media/{hits['Ünïcødé 照片.dng']['id']}").json()
    assert (media["format"], media["width"], media["height"], media["camera_make"]) == ("DNG", 374, 500, "Testcam")


def test_a_raw_and_jpeg_pair_is_one_photo_that_names_its_raw(
    served: tuple[TestClient, dict[str, dict[str, Any]]], tmp_path: Path
) -> None:
    client, hits = served
    raw = str(tmp_path / "photos" / "IMG_0001.CR2")
    assert hits["IMG_0001.JPG"]["companion"] == raw and "IMG_0001.CR2" not in hits
    assert hits["map.jp2"]["companion"] is None
    media = client.get(f"/api/media/{hits['IMG_0001.JPG']['id']}").json()
    assert (media["companion"], media["format"]) == (raw, "JPEG")


def test_skipped_files_are_in_the_stats_with_the_reason(served: tuple[TestClient, dict[str, dict[str, Any]]]) -> None:
    client, _ = served
    stats = client.get("/api/stats").json()
    assert (stats["images"], stats["failed"], stats["skipped"]) == (5, 0, 1)
    (group,) = stats["skipped_by_reason"]
    assert group["reason"] == "JPEG XL: no maintained reader installed" and group["count"] == 1
    assert [Path(path).name for path in group["examples"]] == ["poster.jxl"]
