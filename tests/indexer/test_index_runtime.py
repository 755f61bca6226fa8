"""Indexing through the library's ONNX export: fp32 writes the vectors torch writes, int8 (what `auto` picks on a
CPU) stays within the exporter's cosine of them, and torch remains the fallback where no checked export exists."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest

from indexer import tower_export
from indexer.ingest import pictures as pictures_module
from indexer.library import Library
from indexer.tower_manifest import TowerManifest, towers_folder
from tests.conftest import Cli, TinyModel, make_photo_folder


def _vectors(library: Path) -> dict[str, np.ndarray]:
    with Library.open_reader(library) as lib:
        paths = {row.id: row.path for row in lib.catalog.known_files(["/"]).values()}
        ids, vectors = lib.catalog.fetch_vectors("media", sorted(paths), lib.dim())
    return {paths[int(i)]: vector for i, vector in zip(ids, vectors, strict=True)}


def _manifest(library: Path) -> TowerManifest:
    with Library.open_reader(library) as lib:
        spec = lib.model_spec()
        assert spec is not None
        found = TowerManifest.read(towers_folder(lib.path, spec))
    assert found is not None
    return found


def _index_with(tmp_path: Path, tiny_model: TinyModel, photos: list[Path], name: str, runtime: str) -> Cli:
    cli = Cli(tmp_path / name, tiny_model)
    report = cli.index(*photos, extra=("--index-runtime", runtime))
    assert report["added"] == len(photos)
    assert report["image_runtime"] == runtime
    return cli


def test_onnx_indexing_writes_torch_vectors_and_int8_stays_within_the_checked_cosine(
    tmp_path: Path, tiny_model: TinyModel
) -> None:
    photos = make_photo_folder(tmp_path / "photos", 40)  # more than one batch of 32
    reference = _vectors(_index_with(tmp_path, tiny_model, photos, "torch", "torch").library)
    fp32 = _vectors(_index_with(tmp_path, tiny_model, photos, "onnx", "onnx").library)
    int8_library = _index_with(tmp_path, tiny_model, photos, "int8", "onnx-int8").library
    int8 = _vectors(int8_library)
    assert sorted(reference) == sorted(fp32) == sorted(int8) == sorted(str(photo) for photo in photos)
    for path, vector in reference.items():
        assert np.abs(fp32[path] - vector).max() < 1e-4
        assert float(int8[path] @ vector) >= tower_export.INT8_IMAGE_MIN_COSINE
    manifest = _manifest(int8_library)
    assert manifest.has_int8_image and manifest.image_int8_cosine is not None
    assert manifest.image_int8_cosine >= tower_export.INT8_IMAGE_MIN_COSINE


def test_auto_indexes_through_int8_on_a_cpu_and_the_setting_can_ask_for_torch(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photos = make_photo_folder(tmp_path / "photos", 3)
    assert cli.index(photos[0])["image_runtime"] == "onnx-int8"
    monkeypatch.setenv("XMODAL_INDEX_RUNTIME", "torch")
    assert cli.index(photos[1])["image_runtime"] == "torch"
    line = cli("index", str(photos[2]), "--index-runtime", "onnx")
    assert "files/s encoded through onnx)" in line
    assert len(_vectors(cli.library)) == 3


def test_without_a_checked_export_auto_indexes_through_torch_and_onnx_is_refused(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tower_export, "TOLERANCE", -1.0)  # every export is refused
    monkeypatch.setattr(tower_export, "_memo", tower_export._Memo())
    photos = make_photo_folder(tmp_path / "photos", 2)
    assert cli.index(photos[0])["image_runtime"] == "torch"
    out = cli("index", str(photos[1]), "--index-runtime", "onnx", code=1)
    assert "holds no usable onnx image tower" in out and "--index-runtime torch" in out
    assert "differs from torch" in out  # the export's own refusal says why
    assert len(_vectors(cli.library)) == 1  # refused before anything was read


def test_an_int8_tower_that_strays_is_refused_and_auto_keeps_torch(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tower_export, "INT8_IMAGE_MIN_COSINE", 1.01)  # no int8 vector is that close
    monkeypatch.setattr(tower_export, "_memo", tower_export._Memo())
    photos = make_photo_folder(tmp_path / "photos", 3)
    assert cli.index(photos[0])["image_runtime"] == "torch"
    manifest = _manifest(cli.library)
    assert manifest.has_image and not manifest.has_int8_image
    assert manifest.image_int8_refused is not None and "strays from torch" in manifest.image_int8_refused
    assert cli.index(photos[1], extra=("--index-runtime", "onnx"))["image_runtime"] == "onnx"
    out = cli("index", str(photos[2]), "--index-runtime", "onnx-int8", code=1)
    assert "no usable onnx-int8 image tower" in out and "strays from torch" in out


def test_without_onnxruntime_auto_indexes_through_torch_and_onnx_int8_says_what_to_install(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photos = make_photo_folder(tmp_path / "photos", 2)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime raises ImportError
    assert cli.index(photos[0])["image_runtime"] == "torch"
    out = cli("index", str(photos[1]), "--index-runtime", "onnx-int8", code=1)
    assert "onnxruntime is not installed: pip install onnxruntime" in out


def test_the_library_records_what_encoded_its_pictures_auto_never_mixes_and_a_mix_asked_for_is_said(
    cli: Cli, tmp_path: Path
) -> None:
    photos = make_photo_folder(tmp_path / "photos", 5)
    assert cli.index(photos[0], extra=("--index-runtime", "torch"))["mixes_with"] == []
    assert cli.stats()["pictures_encoded_by"] == ["torch"]
    with sqlite3.connect(cli.library / "catalog.sqlite") as db:  # as a library indexed before this was recorded
        db.execute("DELETE FROM meta WHERE key = 'image_runtimes'")
    assert cli.stats()["pictures_encoded_by"] == ["torch"]  # torch was the only runtime then
    report = cli.index(photos[1])  # auto on a library of torch's vectors: torch's again, not int8 beside them
    assert report["image_runtime"] == "torch" and report["mixes_with"] == []
    assert cli.index(photos[2], extra=("--index-runtime", "onnx-int8"))["mixes_with"] == ["torch"]  # asked for
    assert cli.stats()["pictures_encoded_by"] == ["torch", "onnx-int8"]
    assert "encoded through torch, onnx-int8, mixed" in cli("stats")
    line = cli("index", str(photos[3]))
    assert "encoded through torch)" in line  # auto follows the library's first runtime
    assert "the library's earlier pictures were encoded through torch" not in line  # said once, when it began
    report = cli.index(photos[4], extra=("--reindex",))  # every vector anew: auto's own choice, one runtime
    assert report["image_runtime"] == "onnx-int8" and report["mixes_with"] == []
    assert cli.stats()["pictures_encoded_by"] == ["onnx-int8"]
    assert "mixed" not in cli("stats")
    assert cli.index(make_photo_folder(tmp_path / "more", 1)[0])["image_runtime"] == "onnx-int8"  # and keeps it


def test_an_int8_tower_that_strays_on_the_librarys_own_pictures_gives_the_library_to_torch(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exporter's check saw synthetic pictures only: the first real ones are checked again, once."""
    photos = make_photo_folder(tmp_path / "photos", 3)
    with monkeypatch.context() as strict:
        strict.setattr(pictures_module, "OWN_PICTURES_MIN_COSINE", 1.01)  # no int8 vector is that close
        report = cli.index(photos[0])
    assert report["image_runtime"] == "torch" and report["mixes_with"] == []
    refused = _manifest(cli.library).image_int8_refused
    assert refused is not None and "this library's own pictures" in refused
    assert cli.index(photos[1])["image_runtime"] == "torch"  # at the usual bar too: the library stays torch's
    assert cli.stats()["pictures_encoded_by"] == ["torch"]
    out = cli("index", str(photos[2]), "--index-runtime", "onnx-int8", code=1)
    assert "this library's own pictures" in out  # asked for by name, it is refused with the reason
