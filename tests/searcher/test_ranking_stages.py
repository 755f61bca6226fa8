"""Each ranking stage on data built so the right answer is known: lexical match, duplicate collapse,
the relevance cutoff, the second-model reranker, per-stage scores; and the full-text tables staying in step."""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from typer.testing import CliRunner

from api.cli import app
from data.scenes import Scene, generate
from tests.conftest import Cli, TinyModel, make_photo_folder


@dataclass(frozen=True)
class Staged:
    library: Path
    photos: Path
    scenes: dict[str, Scene]  # by file name
    original: Path  # a scene with a JPEG copy and a shifted "burst" copy beside it


def run(*args: str) -> str:
    """Standard output of an `xmodal` command that must succeed."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def hits(library: Path, *args: str) -> list[dict[str, Any]]:
    return json.loads(run("search", *args, "--json", "-l", str(library)))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Staged:
    root = tmp_path_factory.mktemp("staged")
    made = generate(root / "held", 60, seed=7, heldout=True, sidecars="train")
    photos = root / "held" / "images"
    extra = generate(root / "extra", 3, seed=8, heldout=True, sidecars="none")
    named = {"sunset-at-the-lake.png": extra[0][0], "IMG_2041.png": extra[1][0], "garden-0001.png": extra[2][0]}
    for name, source in named.items():
        shutil.copy(source, photos / name)
    (photos / "garden-0001.txt").write_text("grandma's birthday party\n")
    original = made[0][0]
    picture = Image.open(original).convert("RGB")
    picture.save(photos / f"{original.stem}-copy.jpg", quality=90)
    picture.crop((1, 1, 64, 64)).resize((64, 64)).save(photos / f"{original.stem}-burst.png")
    library = root / "library"
    run("index", str(photos), "--model", "demo", "-q", "-l", str(library))
    scenes = {path.name: scene for path, scene, _ in made}
    scenes.update({name: extra[i][1] for i, name in enumerate(named)})
    return Staged(library, photos, scenes, original)


def names(found: list[dict[str, Any]]) -> list[str]:
    return [Path(hit["path"]).name for hit in found]


def test_an_exact_file_name_or_caption_wins_with_hybrid_on(staged: Staged) -> None:
    for query, expected in (
        ("sunset at the lake", "sunset-at-the-lake.png"),
        ("IMG_2041", "IMG_2041.png"),
        ("birthday party", "garden-0001.png"),  # its sidecar says so; the picture shows a shape
    ):
        on = hits(staged.library, query, "-k", "5")
        assert names(on)[0] == expected, (query, names(on))
        assert on[0]["stages"]["lexical_rank"] == 1 and on[0]["stages"]["fused"] > 0
        off = hits(staged.library, query, "-k", "5", "--no-hybrid", "--no-cutoff")
        assert expected not in names(off)[:1] and all("lexical" not in hit["stages"] for hit in off)


def test_the_list_is_ordered_by_the_score_it_shows(staged: Staged) -> None:
    """A caption lifts a picture whose cosine is low: the score shown is the ranking's, the cosine stays in --json."""
    found = hits(staged.library, "birthday party", "-k", "10", "--no-cutoff")
    shown = [hit["score"] for hit in found]
    assert shown == sorted(shown, reverse=True) and shown[0] <= 1.0
    cosines = [hit["cosine"] for hit in found]
    assert cosines != sorted(cosines, reverse=True)  # the lifted picture is not the closest by cosine
    assert all(hit["cosine"] == hit["stages"]["vector"] for hit in found)
    piped = [
        line.split("\t")
        for line in run("search", "birthday party", "-k", "10", "--no-cutoff", "-l", str(staged.library)).splitlines()
    ]
    assert [float(fields[1]) for fields in piped] == pytest.approx(shown, abs=1e-3)
    alone = hits(staged.library, "birthday party", "-k", "10", "--no-cutoff", "--no-hybrid")
    assert [hit["score"] for hit in alone] == [hit["cosine"] for hit in alone]  # vector order: the cosine


def test_words_most_items_share_match_nothing_lexically(staged: Staged) -> None:
    # "png" is in every file name: it must not make every picture a lexical match.
    found = hits(staged.library, "png", "-k", "100", "--no-cutoff")
    assert all("lexical" not in hit["stages"] for hit in found)


def test_subtracted_words_drop_lexical_matches(staged: Staged) -> None:
    found = hits(staged.library, "birthday party - grandma", "-k", "5", "--no-cutoff")
    assert "garden-0001.png" not in names(found)[:1]


def test_near_duplicates_collapse_into_one_hit(staged: Staged, monkeypatch: pytest.MonkeyPatch) -> None:
    copy, burst = f"{staged.original.stem}-copy.jpg", f"{staged.original.stem}-burst.png"
    one_photo = {staged.original.name, copy, burst}
    scene = staged.scenes[staged.original.name]
    query = f"there is a {scene.size} {scene.colour} {scene.shape} towards the {scene.position}"
    apart = hits(staged.library, "--image", str(staged.original), "-k", "3", "--no-collapse")
    assert set(names(apart)) == one_photo  # three hits that are one photo
    # The default similarity (0.99) makes a re-encoded copy one hit with its original ...
    together = hits(staged.library, "--image", str(staged.original), "-k", "3", "--collapse")
    assert names(together)[0] == staged.original.name and together[0]["duplicates"] == [apart[1]["id"]]
    assert names(together)[1] == burst and copy not in names(together)
    # ... and a looser one takes in a shot a pixel off, like a burst.
    monkeypatch.setenv("XMODAL_RANKING__DUPLICATE_SIMILARITY", "0.95")
    looser = hits(staged.library, "--image", str(staged.original), "-k", "3", "--collapse")
    assert len(looser[0]["duplicates"]) == 2 and not one_photo & set(names(looser)[1:])
    # Pages of a collapsed ranking still hold every visible hit once.
    everything = [hit["id"] for hit in hits(staged.library, query, "-k", "60", "--collapse", "--no-cutoff")]
    paged = []
    for offset in range(0, 60, 7):
        paged += [
            hit["id"]
            for hit in hits(staged.library, query, "-k", "7", "--offset", str(offset), "--collapse", "--no-cutoff")
        ]
    assert paged == everything and len(set(paged)) == len(paged)


def test_hiding_weak_matches_leaves_an_absent_concept_little_or_nothing(staged: Staged) -> None:
    for absent in ("a giraffe", "a red car", "a man riding a horse"):
        assert hits(staged.library, absent, "-k", "20", "--cutoff", "--cutoff-method", "z") == [], absent
        assert len(hits(staged.library, absent, "-k", "20")) == 20  # the default keeps everything it ranks
    present = hits(staged.library, "a red triangle", "-k", "20", "--no-hybrid", "--cutoff", "--cutoff-method", "z")
    assert len(present) >= 2 and all(hit["stages"]["z"] >= 1.75 for hit in present)  # the shipped threshold
    shown = [staged.scenes[name] for name in names(present)]
    assert all((scene.colour, scene.shape) == ("red", "triangle") for scene in shown), shown


def test_a_second_model_reranks_the_top_and_caches_its_embeddings(
    tmp_path: Path, tiny_model: TinyModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = generate(tmp_path / "held", 80, seed=9, heldout=True, sidecars="none")
    library = tmp_path / "library"
    run("index", str(tmp_path / "held" / "images"), *tiny_model.flags(), "-q", "-l", str(library))
    scenes = {str(path): scene for path, scene, _ in made}

    def red_circles(found: list[dict[str, Any]]) -> int:
        return sum(1 for hit in found if (scenes[hit["path"]].colour, scenes[hit["path"]].shape) == ("red", "circle"))

    plain = hits(library, "a red circle", "-k", "5", "--no-cutoff")
    monkeypatch.setenv("XMODAL_RANKING__RERANK_MODEL", "demo")
    monkeypatch.setenv("XMODAL_RANKING__RERANK_DEPTH", "80")  # the whole set: the test knows every right answer
    reranked = hits(library, "a red circle", "-k", "5", "--no-cutoff")
    assert red_circles(reranked) > red_circles(plain), (red_circles(reranked), red_circles(plain))
    # Reranking everything orders the top as the stronger model alone would.
    strong = tmp_path / "strong"
    run("index", str(tmp_path / "held" / "images"), "--model", "demo", "-q", "-l", str(strong))
    monkeypatch.delenv("XMODAL_RANKING__RERANK_MODEL")
    alone = hits(strong, "a red circle", "-k", "5", "--no-cutoff", "--no-hybrid")
    assert [hit["path"] for hit in reranked] == [hit["path"] for hit in alone]
    assert all("rerank" in hit["stages"] and "rerank_rank" in hit["stages"] for hit in reranked)
    cache = next((library / "rerank").glob("*.sqlite"))
    with sqlite3.connect(cache) as conn:
        assert conn.execute("SELECT count(*) FROM vectors").fetchone()[0] == 80  # every image once
    off = hits(library, "a red circle", "-k", "5", "--no-cutoff", "--no-rerank")
    assert [hit["id"] for hit in off] == [hit["id"] for hit in plain]


def test_rerank_without_a_model_is_a_clear_error(staged: Staged) -> None:
    result = CliRunner().invoke(app, ["search", "a red circle", "--rerank", "-l", str(staged.library)])
    assert result.exit_code != 0 and "rerank_model" in result.output


def test_lexical_tables_follow_renames_deletes_and_an_old_catalog(cli: Cli, tmp_path: Path) -> None:
    photos = make_photo_folder(tmp_path / "photos", 4)
    cli.index(tmp_path / "photos")
    zebra = photos[0].with_name("zebra crossing.jpg")
    photos[0].rename(zebra)
    photos[1].unlink()
    cli.index(tmp_path / "photos")
    assert [hit["path"] for hit in cli.search_json("zebra", "-k", "1")] == [str(zebra)]
    assert all("lexical" not in hit.get("stages", {}) for hit in cli.search_json("photo-000", "-k", "4", "--no-cutoff"))
    # A catalog written before the full-text tables existed gets them on the next writing command.
    catalog = cli.library / "catalog.sqlite"
    with sqlite3.connect(catalog) as conn:
        for table in ("media_fts", "text_fts"):
            conn.execute(f"DROP TABLE {table}")
        for trigger in [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")]:
            conn.execute(f"DROP TRIGGER {trigger}")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    cli.index(tmp_path / "photos")
    assert [hit["path"] for hit in cli.search_json("zebra", "-k", "1")] == [str(zebra)]
