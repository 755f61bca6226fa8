"""End to end through the `xmodal` CLI on real files: index, search, incremental runs, bad input."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import Cli, make_photo_folder, picture, write_picture
from tests.indexer.test_decode import bomb_png


def test_an_indexed_image_queried_with_itself_is_rank_one(cli: Cli, tmp_path: Path) -> None:
    photos = make_photo_folder(tmp_path / "photos", 12)
    report = cli.index(tmp_path / "photos")
    assert report["added"] == 12 and report["failed"] == 0
    for photo in (photos[0], photos[7]):
        hits = cli.search_json("--image", str(photo), "-k", "5")
        assert hits[0]["path"] == str(photo)
        assert hits[0]["score"] == pytest.approx(1.0, abs=1e-4)
        assert [hit["rank"] for hit in hits] == [1, 2, 3, 4, 5]
        assert all(hits[i]["score"] >= hits[i + 1]["score"] for i in range(4))
    assert cli.stats()["images"] == 12


def test_text_search_returns_scored_image_hits_and_a_readable_table(cli: Cli, tmp_path: Path) -> None:
    make_photo_folder(tmp_path / "photos", 6)
    cli.index(tmp_path / "photos")
    hits = cli.search_json("a dog on the beach", "-k", "3")
    assert len(hits) == 3
    assert {"id", "path", "score", "rank"} <= set(hits[0])
    table = cli("search", "a dog on the beach", "-k", "3")
    assert "photo-" in table and "score" in table


def test_reindexing_an_unchanged_folder_reads_no_image_again(cli: Cli, tmp_path: Path) -> None:
    make_photo_folder(tmp_path / "photos", 10)
    cli.index(tmp_path / "photos")
    again = cli.index(tmp_path / "photos")
    assert again["unchanged"] == 10
    assert again["added"] == again["updated"] == again["encode_batches"] == 0


def test_a_renamed_or_moved_file_keeps_its_id_and_vector(cli: Cli, tmp_path: Path) -> None:
    photos = make_photo_folder(tmp_path / "photos", 5)
    cli.index(tmp_path / "photos")
    before = cli.search_json("--image", str(photos[2]), "-k", "1")[0]
    moved = tmp_path / "photos" / "sub folder" / "renamed ü.jpg"
    moved.parent.mkdir()
    shutil.move(photos[2], moved)
    report = cli.index(tmp_path / "photos")
    assert report["moved"] == 1 and report["added"] == 0 and report["encode_batches"] == 0
    after = cli.search_json("--image", str(moved), "-k", "1")[0]
    assert after["id"] == before["id"] and after["path"] == str(moved)
    assert cli.stats()["images"] == 5


def test_a_deleted_file_leaves_the_catalog_and_the_index(cli: Cli, tmp_path: Path) -> None:
    photos = make_photo_folder(tmp_path / "photos", 5)
    cli.index(tmp_path / "photos")
    photos[1].unlink()
    report = cli.index(tmp_path / "photos")
    assert report["removed"] == 1
    stats = cli.stats()
    assert stats["images"] == 4 and stats["indexes"]["media"]["count"] == 4
    paths = {hit["path"] for hit in cli.search_json("--image", str(photos[0]), "-k", "10")}
    assert str(photos[1]) not in paths and len(paths) == 4


def test_a_changed_file_is_re_encoded_in_place(cli: Cli, tmp_path: Path) -> None:
    photos = make_photo_folder(tmp_path / "photos", 4)
    cli.index(tmp_path / "photos")
    old_id = cli.search_json("--image", str(photos[0]), "-k", "1")[0]["id"]
    picture(999).save(photos[0], "JPEG")
    os.utime(photos[0], ns=(1, 2_000_000_000_000_000_000))
    report = cli.index(tmp_path / "photos")
    assert report["updated"] == 1
    hit = cli.search_json("--image", str(photos[0]), "-k", "1")[0]
    assert hit["id"] == old_id and hit["score"] == pytest.approx(1.0, abs=1e-4)


def test_a_copy_of_an_indexed_file_reuses_its_vector(cli: Cli, tmp_path: Path) -> None:
    photos = make_photo_folder(tmp_path / "photos", 3)
    cli.index(tmp_path / "photos")
    shutil.copy(photos[0], tmp_path / "photos" / "copy.jpg")
    report = cli.index(tmp_path / "photos")
    assert report["duplicates"] == 1 and report["encode_batches"] == 0
    hits = cli.search_json("--image", str(photos[0]), "-k", "2")
    assert {hit["path"] for hit in hits} == {str(photos[0]), str(tmp_path / "photos" / "copy.jpg")}


def test_bad_files_are_recorded_and_every_good_file_is_indexed(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "mixed"
    good = make_photo_folder(root, 5)
    good.append(write_picture(root / "heic photo.heic", 50, "HEIF"))
    good.append(write_picture(root / "png-named.jpg", 51, "PNG"))  # wrong extension, real image
    (root / "empty.jpg").write_bytes(b"")
    (root / "text.png").write_text("this is not an image")
    jpeg = io.BytesIO()
    picture(52, (300, 200)).save(jpeg, "JPEG")
    (root / "truncated.jpg").write_bytes(jpeg.getvalue()[:400])
    (root / "bomb.png").write_bytes(bomb_png())
    unreadable = write_picture(root / "secret.jpg", 53, "JPEG")
    unreadable.chmod(0)
    try:
        report = cli.index(root)
    finally:
        unreadable.chmod(0o644)
    expected_failures = {"empty.jpg", "text.png", "truncated.jpg", "bomb.png"}
    if os.geteuid() != 0:  # root reads anything; elsewhere the unreadable file must be recorded too
        expected_failures.add("secret.jpg")
    stats = cli.stats()
    failures = {Path(f["path"]).name: f["reason"] for f in stats["failures"]}
    assert set(failures) == expected_failures
    assert "empty" in failures["empty.jpg"] and "not an image" in failures["text.png"]
    assert "pixels" in failures["bomb.png"]
    assert report["failed"] == len(expected_failures)
    assert stats["images"] == len(list(root.iterdir())) - len(expected_failures)  # every other file
    indexed = {hit["path"] for hit in cli.search_json("--image", str(good[0]), "-k", "50")}
    assert {str(path) for path in good} <= indexed
    human = cli("stats")
    assert "could not be indexed" in human and "truncated.jpg" in human


def test_a_failed_file_that_is_fixed_gets_indexed(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "photos" / "later.jpg"
    bad.parent.mkdir()
    bad.write_bytes(b"")
    cli.index(tmp_path / "photos")
    assert cli.stats()["failed"] == 1
    write_picture(bad, 7, "JPEG")
    cli.index(tmp_path / "photos")
    stats = cli.stats()
    assert (stats["failed"], stats["images"]) == (0, 1)


def test_sidecar_captions_and_a_text_corpus_answer_image_to_text(cli: Cli, tmp_path: Path) -> None:
    photos = make_photo_folder(tmp_path / "photos", 3)
    photos[0].with_suffix(".txt").write_text("the caption of photo zero\n")
    report = cli.index(tmp_path / "photos")
    assert report["texts"] == 1
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "lines.txt").write_text("first line\n\n  second   line \n")
    (corpus / "notes.md").write_text("# Title\n\nA paragraph\nover two lines.\n\nAnother paragraph.\n")
    (corpus / "caps.csv").write_text(f"image,caption\n{photos[1]},a csv caption\n")
    cli("texts", "add", str(corpus / "lines.txt"), str(corpus / "notes.md"), str(corpus / "caps.csv"))
    texts = cli.search_json("--image", str(photos[0]), "--texts", "-k", "20")
    found = {hit["text"] for hit in texts}
    assert found == {
        "the caption of photo zero",
        "first line",
        "second line",
        "Title",
        "A paragraph over two lines.",
        "Another paragraph.",
        "a csv caption",
    }
    by_text = {hit["text"]: hit for hit in texts}
    assert by_text["a csv caption"]["media_id"] == cli.search_json("--image", str(photos[1]), "-k", "1")[0]["id"]
    cli("texts", "add", str(corpus / "lines.txt"))  # re-adding replaces, never duplicates
    assert cli.stats()["texts"] == 7


def test_unicode_and_spaces_in_paths_work_everywhere(cli: Cli, tmp_path: Path) -> None:
    photo = write_picture(tmp_path / "fotos del año" / "niño & ñandú 🐦.png", 3, "PNG")
    cli.index(photo.parent)
    hit = cli.search_json("--image", str(photo), "-k", "1")[0]
    assert hit["path"] == str(photo)


def test_fatal_errors_exit_non_zero_with_a_message(cli: Cli, tmp_path: Path) -> None:
    out = cli("index", str(tmp_path / "no such folder"), *cli.model.flags(), code=2)
    assert "no such file or folder" in out
    out = cli("search", "anything", code=1)
    assert "no xmodal library" in out and "xmodal index" in out
    make_photo_folder(tmp_path / "photos", 2)
    cli.index(tmp_path / "photos")
    assert "empty" in cli("search", "   ", code=2)
    assert "a text query, --image PHOTO, or both" in cli("search", code=2)
    assert "query image" in cli("search", "--image", str(tmp_path / "missing.jpg"), code=2)
    (tmp_path / "not-image.png").write_text("nope")
    assert "not an image" in cli("search", "--image", str(tmp_path / "not-image.png"), code=2)


def test_another_model_on_an_existing_library_is_refused_unless_reindex(cli: Cli, tmp_path: Path) -> None:
    from training.random_weights import write_random_checkpoint

    photos = make_photo_folder(tmp_path / "photos", 3)
    cli.index(tmp_path / "photos")
    other = write_random_checkpoint(cli.model.config, tmp_path / "other.pt", seed=1)
    out = cli("index", str(tmp_path / "photos"), "--model", str(cli.model.config), "--pretrained", str(other), code=1)
    assert "was built with" in out and "--reindex" in out
    report = cli.index(tmp_path / "photos", extra=("--pretrained", str(other), "--reindex"))
    assert report["updated"] == 3
    assert cli.search_json("--image", str(photos[0]), "-k", "1")[0]["score"] == pytest.approx(1.0, abs=1e-4)
    assert "other.pt" in cli.stats()["model"]


def test_a_second_writer_is_refused_while_searches_keep_working(cli: Cli, tmp_path: Path) -> None:
    from indexer.library import Library

    photos = make_photo_folder(tmp_path / "photos", 3)
    cli.index(tmp_path / "photos")
    with Library.open_writer(cli.library, "xmodal watch (test)"):
        out = cli("index", str(tmp_path / "photos"), code=3)
        assert "being written by another process" in out and "xmodal watch (test)" in out
        assert cli.search_json("--image", str(photos[0]), "-k", "1")[0]["path"] == str(photos[0])


def test_the_config_file_and_environment_choose_the_library(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photos = make_photo_folder(tmp_path / "photos", 2)
    cli.index(tmp_path / "photos")
    config = tmp_path / "config.toml"
    config.write_text(f'library = "{cli.library}"\nbatch_size = 8\n')
    monkeypatch.setenv("XMODAL_CONFIG", str(config))
    from typer.testing import CliRunner

    from api.cli import app

    result = CliRunner().invoke(app, ["search", "--image", str(photos[0]), "-k", "1"])
    assert result.exit_code == 0 and "photo-000" in result.output
    monkeypatch.setenv("XMODAL_LIBRARY", str(tmp_path / "elsewhere"))  # environment beats the file
    result = CliRunner().invoke(app, ["stats"])
    assert result.exit_code == 1 and "elsewhere" in result.output


def test_exif_metadata_reaches_the_hits(cli: Cli, tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "FUJIFILM", "X-T3"
    exif.get_ifd(0x8769)[0x9003] = "2019:05:01 09:15:00"
    photo = tmp_path / "photos" / "exif.jpg"
    photo.parent.mkdir()
    picture(5, (120, 90)).save(photo, "JPEG", exif=exif.tobytes())
    cli.index(photo.parent)
    hit = cli.search_json("--image", str(photo), "-k", "1")[0]
    assert (hit["taken_at"], hit["camera"], hit["width"], hit["height"]) == (
        "2019-05-01T09:15:00",
        "FUJIFILM X-T3",
        120,
        90,
    )
