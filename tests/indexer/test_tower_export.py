"""Queries without torch: a writer exports the library's model to ONNX (checked against torch on the spot),
and queries through that export find what torch finds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from indexer import tower_export
from indexer.library import Library
from indexer.model_spec import resolve
from indexer.onnx_encoder import OnnxEncoder
from indexer.tower_manifest import TowerManifest, towers_folder
from tests.conftest import REPO, Cli, TinyModel, make_photo_folder, picture

QUERIES = ["a photo of a dog", "红色的圆", "x", "two blue squares on sand " * 6]


def _manifest(library: Path) -> TowerManifest:
    with Library.open_reader(library) as lib:
        spec = lib.model_spec()
        assert spec is not None
        manifest = TowerManifest.read(towers_folder(lib.path, spec))
    assert manifest is not None, "the writer left no export in the library"
    return manifest


def _encoders(library: Path) -> tuple[OnnxEncoder, object]:
    lib = Library.open_reader(library)
    fast = lib.reader_encoder("cpu", runtime="onnx")
    reference = lib.reader_encoder("cpu", runtime="torch")
    lib.close()
    assert isinstance(fast, OnnxEncoder)
    return fast, reference


def test_indexing_exports_a_checked_model_and_onnx_encodes_as_torch_does(cli: Cli, tmp_path: Path) -> None:
    cli.index(*make_photo_folder(tmp_path / "photos", 3))
    manifest = _manifest(cli.library)
    assert manifest.usable and manifest.has_image
    assert manifest.text_error is not None and manifest.text_error <= tower_export.TOLERANCE
    assert manifest.image_error is not None and manifest.image_error <= tower_export.TOLERANCE
    assert not manifest.int8_text  # never on by default: only `xmodal eval --runtimes` may switch it on
    assert manifest.has_int8_image and manifest.image_int8_cosine is not None  # for the indexer, checked
    assert manifest.image_int8_cosine >= tower_export.INT8_IMAGE_MIN_COSINE
    fast, reference = _encoders(cli.library)
    assert np.abs(fast.encode_texts(QUERIES) - reference.encode_texts(QUERIES)).max() < 1e-4  # type: ignore[attr-defined]
    pictures = [picture(5, (640, 480)), picture(6, (33, 90)).convert("L"), picture(7, (20, 12))]
    assert np.abs(fast.encode_images(pictures) - reference.encode_images(pictures)).max() < 1e-4  # type: ignore[attr-defined]
    with Library.open_reader(cli.library) as lib:  # as a one-query process opens it: weights not repacked
        brief = lib.reader_encoder("cpu", runtime="onnx", brief=True)
    assert isinstance(brief, OnnxEncoder) and brief.brief
    assert np.abs(brief.encode_texts(QUERIES) - fast.encode_texts(QUERIES)).max() < 1e-5
    assert np.abs(brief.encode_images(pictures) - fast.encode_images(pictures)).max() < 1e-5


def test_a_search_through_onnx_finds_what_torch_finds_without_importing_torch_or_sqlalchemy(
    cli: Cli, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    cli.index(*make_photo_folder(folder, 8))
    asked = [
        ["search", "a photo of a dog", "-k", "5"],
        ["search", "--image", str(folder / "photo-003.jpg"), "-k", "5"],
        ["search", "a photo", "--image", str(folder / "photo-001.jpg"), "-k", "5"],
    ]
    for argv in asked:
        torch_hits = cli.search_json(*argv[1:], "--runtime", "torch")
        code = (
            "import json, sys\n"
            "from typer.testing import CliRunner\n"
            "from api.cli import app\n"
            f"result = CliRunner().invoke(app, {[*argv, '--json', '--library', str(cli.library)]!r})\n"
            "assert result.exit_code == 0, result.output\n"
            "heavy = ('torch', 'open_clip', 'torchvision', 'fastapi', 'sqlalchemy')\n"
            "heavy = [name for name in heavy if name in sys.modules]\n"
            "print(json.dumps({'hits': json.loads(result.stdout), 'heavy': heavy}))\n"
        )
        done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        found = json.loads(done.stdout)
        assert found["heavy"] == [], f"a query imported {found['heavy']}"
        assert [hit["id"] for hit in found["hits"]] == [hit["id"] for hit in torch_hits]
        assert np.allclose([h["cosine"] for h in found["hits"]], [h["cosine"] for h in torch_hits], atol=1e-4)


def test_an_existing_library_is_exported_by_its_next_writer_and_a_new_model_exports_anew(
    cli: Cli, tmp_path: Path, tiny_model: TinyModel
) -> None:
    photos = make_photo_folder(tmp_path / "photos", 2)
    cli.index(*photos)
    towers = cli.library / "towers"
    first = sorted(path.name for path in towers.iterdir())
    for folder in towers.iterdir():  # a library made before exports existed
        for item in folder.iterdir():
            item.unlink()
    out = cli("search", "a photo", "--runtime", "onnx", code=1)
    assert "no usable ONNX export" in out and "xmodal index" in out
    cli.index(*photos)  # nothing to re-encode, but the writer exports
    assert _manifest(cli.library).usable
    other = resolve("demo", None)
    cli("index", str(tmp_path / "photos"), "--model", "demo", "--reindex", "-q")
    assert (towers / towers_folder(cli.library, other).name / "manifest.json").is_file()
    assert sorted(path.name for path in towers.iterdir()) == sorted([*first, towers_folder(cli.library, other).name])


def test_an_export_that_strays_from_torch_is_refused_and_queries_keep_torch(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(tower_export, "TOLERANCE", -1.0)  # nothing can be that close
    monkeypatch.setattr(tower_export, "_memo", tower_export._Memo())
    cli.index(*make_photo_folder(tmp_path / "photos", 3))
    manifest = _manifest(cli.library)
    assert not manifest.usable and manifest.refused is not None and "differs from torch" in manifest.refused
    assert "queries on this library will use torch" in caplog.text
    with Library.open_reader(cli.library) as lib:
        assert lib.reader_encoder("cpu").runtime == "torch"
    assert len(cli.search_json("a photo", "-k", "2")) == 2  # auto: torch answers
    assert "no usable ONNX export" in cli("search", "a photo", "--runtime", "onnx", code=1)


def test_an_export_made_before_int8_pictures_gets_its_int8_tower_from_the_next_writer(cli: Cli, tmp_path: Path) -> None:
    photos = make_photo_folder(tmp_path / "photos", 2)
    cli.index(photos[0])
    folder = _as_before_int8_pictures(cli.library)
    assert not _manifest(cli.library).int8_image_tried
    cli.index(photos[1])
    assert (folder / "image.int8.onnx").is_file() and _manifest(cli.library).has_int8_image


def _as_before_int8_pictures(library: Path) -> Path:
    """Rewrite the library's export as the exporter wrote it before it made int8 image towers."""
    manifest = _manifest(library)
    with Library.open_reader(library) as lib:
        spec = lib.model_spec()
        assert spec is not None
        folder = towers_folder(lib.path, spec)
    (folder / "image.int8.onnx").unlink()
    manifest.image_int8_cosine = None
    manifest.write(folder)
    return folder


def test_an_old_export_is_left_untried_without_onnxruntime_and_a_failed_int8_tower_stops_no_writer(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photos = make_photo_folder(tmp_path / "photos", 3)
    cli.index(photos[0])
    folder = _as_before_int8_pictures(cli.library)
    with monkeypatch.context() as patched:
        patched.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime raises ImportError
        assert cli.index(photos[1])["image_runtime"] == "torch"
    assert not _manifest(cli.library).int8_image_tried  # not refused for good: a later writer may make it

    def broken(*_args: object) -> None:
        raise RuntimeError("no room")

    monkeypatch.setattr(tower_export, "_check_pictures", broken)
    assert cli.index(photos[2])["image_runtime"] == "torch"  # the writer went on, through torch
    manifest = _manifest(cli.library)
    assert manifest.has_image and not manifest.has_int8_image
    assert manifest.image_int8_refused is not None and "no room" in manifest.image_int8_refused
    assert not (folder / "image.int8.onnx").exists()


def test_an_int8_tower_onnx_runtime_cannot_run_costs_only_that_tower(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tower_export, "_memo", tower_export._Memo())
    run = tower_export._run

    def int8_fails(path: Path, name: str, value: np.ndarray) -> np.ndarray:
        if path.name == "image.int8.onnx":
            raise RuntimeError("unsupported op")
        return run(path, name, value)

    monkeypatch.setattr(tower_export, "_run", int8_fails)
    assert cli.index(*make_photo_folder(tmp_path / "photos", 2))["image_runtime"] == "torch"
    manifest = _manifest(cli.library)
    assert manifest.usable and manifest.has_image and manifest.text_int8_error is not None
    assert not manifest.has_int8_image and manifest.image_int8_refused == "the image tower could not be quantised"
