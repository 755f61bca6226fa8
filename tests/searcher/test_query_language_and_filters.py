"""The query language (`2:red - circle`, a picture as a term), filters, min-score, date order and paging,
the same through the CLI and the API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from api.cli import app
from api.server import create_app
from core.errors import InputError
from core.settings import load_settings
from data.scenes import Scene
from searcher.query import Term, combine, parse_query
from tests.conftest import Cli, picture

EXIF_MAKE, EXIF_MODEL, EXIF_IFD, EXIF_DATE_ORIGINAL = 0x010F, 0x0110, 0x8769, 0x9003


def shown(library: Path, scenes: dict[str, Scene], *args: str) -> list[Scene]:
    result = CliRunner().invoke(app, ["search", *args, "--json", "-k", "5", "-l", str(library)])
    assert result.exit_code == 0, result.output
    return [scenes[hit["path"]] for hit in json.loads(result.stdout)]


def test_parse_terms_weights_and_signs() -> None:
    assert parse_query("2:beach + sunset - people") == [Term("beach", 2.0), Term("sunset", 1.0), Term("people", -1.0)]
    assert parse_query("a  t-shirt,  5+ people") == [Term("a t-shirt, 5+ people", 1.0)]  # no spaces: no operator
    assert parse_query("0.5:dog") == [Term("dog", 0.5)]
    assert parse_query("- people + at night") == [Term("people", -1.0), Term("at night", 1.0)]  # with a picture
    for bad in ("   ", "0:dog", "dog + 0.5:", "1:dog - 2:"):
        with pytest.raises(InputError):
            parse_query(bad)
    with pytest.raises(InputError, match="only subtracts"):
        combine(parse_query("- people"), lambda text: np.ones(4, np.float32))


def test_subtracting_a_concept_removes_it(demo_library: tuple[Path, dict[str, Scene]]) -> None:
    library, known = demo_library
    plain = shown(library, known, "2:red")
    minus = shown(library, known, "2:red - circle")
    assert all(scene.colour == "red" for scene in minus)
    assert sum(scene.shape == "circle" for scene in minus) < sum(scene.shape == "circle" for scene in plain)
    assert sum(scene.shape == "circle" for scene in minus) == 0


def test_a_picture_plus_words_this_photo_but_blue(demo_library: tuple[Path, dict[str, Scene]]) -> None:
    library, known = demo_library
    red = next(path for path, scene in known.items() if scene.colour == "red")
    alone = shown(library, known, "--image", red)
    assert alone[0].colour == "red"
    changed = shown(library, known, "blue - red", "--image", red)
    assert all(scene.colour == "blue" for scene in changed), changed


@pytest.fixture
def varied(cli: Cli, tmp_path: Path) -> dict[str, Path]:
    """Pictures that differ in folder, date, camera, size and orientation."""

    def photo(rel: str, seed: int, size: tuple[int, int], taken: str | None, make: str | None) -> Path:
        path = tmp_path / "photos" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        exif = Image.Exif()
        if make:
            exif[EXIF_MAKE], exif[EXIF_MODEL] = make.split(" ", 1)
        if taken:
            exif.get_ifd(EXIF_IFD)[EXIF_DATE_ORIGINAL] = taken
        picture(seed, size).save(path, "JPEG", quality=90, exif=exif)
        return path

    made = {
        "beach-2021": photo("2021/beach.jpg", 1, (400, 300), "2021:06:01 10:00:00", "Canon EOS R5"),
        "city-2022": photo("2022/city.jpg", 2, (300, 400), "2022:03:15 12:00:00", "Fujifilm X100V"),
        "snow-2023": photo("2023/snow.jpg", 3, (300, 300), "2023:01:20 09:00:00", "Canon PowerShot G7"),
        "tiny-2023": photo("2023/tiny.jpg", 4, (80, 60), "2023:11:02 18:00:00", None),
        "nodate": photo("misc/nodate.jpg", 5, (500, 200), None, None),
    }
    cli.index(tmp_path / "photos")
    return made


def names(hits: list[dict[str, object]]) -> set[str]:
    return {Path(str(hit["path"])).name for hit in hits}


def test_filters_keep_only_what_they_name(cli: Cli, varied: dict[str, Path], tmp_path: Path) -> None:
    def search(*flags: str) -> set[str]:
        return names(cli.search_json("anything", "-k", "50", *flags))

    assert search() == {"beach.jpg", "city.jpg", "snow.jpg", "tiny.jpg", "nodate.jpg"}
    assert search("--folder", str(tmp_path / "photos" / "2023")) == {"snow.jpg", "tiny.jpg"}
    assert search("--folder", str(tmp_path / "photos" / "202[12]")) == {"beach.jpg", "city.jpg"}
    assert search("--after", "2022-01-01", "--before", "2023-01-20") == {"city.jpg", "snow.jpg"}  # both days inclusive
    assert search("--camera", "canon") == {"beach.jpg", "snow.jpg"}
    assert search("--camera", "canon eos") == {"beach.jpg"}
    assert search("--orientation", "portrait") == {"city.jpg"}
    assert search("--orientation", "square") == {"snow.jpg"}
    assert search("--orientation", "landscape") == {"beach.jpg", "tiny.jpg", "nodate.jpg"}
    assert search("--min-size", "250") == {"beach.jpg", "city.jpg", "snow.jpg"}
    assert search("--type", "video") == set()
    assert search("--folder", str(tmp_path / "elsewhere")) == set()
    # A file with no EXIF date is dated by its file time (today), so it is "after" any past day.
    assert "nodate.jpg" in search("--after", "2024-01-01")


def test_min_score_date_order_and_paging(cli: Cli, varied: dict[str, Path]) -> None:
    everything = cli.search_json("anything", "-k", "50")
    middle = sorted(hit["score"] for hit in everything)[2]
    above = cli.search_json("anything", "-k", "50", "--min-score", str(middle))
    assert len(above) == 3 and all(hit["score"] >= middle for hit in above)
    by_date = cli.search_json("anything", "-k", "50", "--sort", "date", "--before", "2023-12-31")
    assert [Path(hit["path"]).name for hit in by_date] == ["tiny.jpg", "snow.jpg", "city.jpg", "beach.jpg"]
    paged = [
        hit["id"]
        for offset in range(0, 5, 2)
        for hit in cli.search_json("anything", "-k", "2", "--offset", str(offset))
    ]
    assert paged == [hit["id"] for hit in everything]
    dated_pages = [
        hit["id"]
        for offset in (0, 2)
        for hit in cli.search_json(
            "anything", "-k", "2", "--offset", str(offset), "--sort", "date", "--before", "2023-12-31"
        )
    ]
    assert dated_pages == [hit["id"] for hit in by_date]


def test_the_api_answers_what_the_cli_answers(cli: Cli, varied: dict[str, Path], tmp_path: Path) -> None:
    flags = ["--camera", "canon", "--sort", "date", "--min-score", "-1"]
    from_cli = [hit["id"] for hit in cli.search_json("sunny + 2:beach - city", "-k", "10", *flags)]
    with TestClient(create_app(load_settings(library=cli.library))) as client:
        params = {"q": "sunny + 2:beach - city", "k": 10, "camera": "canon", "sort": "date", "min_score": -1}
        body = client.get("/api/search", params=params).json()
        assert [hit["id"] for hit in body["hits"]] == from_cli and len(from_cli) == 2
        folder = client.get("/api/search", params={"q": "x", "folder": str(tmp_path / "photos" / "2023")}).json()
        assert names(folder["hits"]) == {"snow.jpg", "tiny.jpg"}
        for day in ("2023-02-30", "0", "20230201"):  # not on the calendar; not written YYYY-MM-DD
            refused = client.get("/api/search", params={"q": "x", "after": day})
            assert refused.status_code == 422 and "after" in str(refused.json()["detail"]), day
        assert client.get("/api/search", params={"q": "0:x"}).status_code == 400
        with_words = client.post(
            "/api/search/image",
            params={"q": "+ 0.1:snow", "k": 1},
            files={"file": ("b.jpg", varied["beach-2021"].read_bytes(), "image/jpeg")},
        )
        assert with_words.status_code == 200 and names(with_words.json()["hits"]) == {"beach.jpg"}


def test_filters_on_texts_are_refused(cli: Cli, varied: dict[str, Path]) -> None:
    out = cli("search", "anything", "--texts", "--camera", "canon", code=2)
    assert "filters apply to pictures" in out
