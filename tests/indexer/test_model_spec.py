"""Resolving --model/--pretrained, and failing fast with a useful message when weights are missing."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from core.errors import ModelError
from indexer.encoder import Encoder
from indexer.model_cache import ModelCache
from indexer.model_spec import resolve
from tests.conftest import TinyModel, picture


def test_unknown_architecture_is_a_clear_error() -> None:
    with pytest.raises(ModelError, match="unknown model 'ViT-Q-99'"):
        resolve("ViT-Q-99", "x")


def test_unknown_tag_lists_the_known_ones() -> None:
    with pytest.raises(ModelError) as info:
        resolve("ViT-B-32", "no_such_tag")
    assert "laion2b_s34b_b79k" in str(info.value)


def test_a_config_without_weights_is_refused(tiny_model: TinyModel) -> None:
    with pytest.raises(ModelError, match="has no weights"):
        resolve(str(tiny_model.config), None)


def test_open_clip_folder_format_is_accepted(tmp_path: Path, tiny_model: TinyModel) -> None:
    folder = tmp_path / "my-model"
    folder.mkdir()
    config = json.loads(tiny_model.config.read_text())
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": config, "preprocess_cfg": {}}))
    (folder / "open_clip_pytorch_model.bin").write_bytes(tiny_model.weights.read_bytes())
    spec = resolve(f"local-dir:{folder}", None)
    same = resolve(str(tiny_model.config), str(tiny_model.weights))
    assert spec.identity() == same.identity()  # same architecture and weights: the same model


def test_the_same_weights_give_the_same_vectors_in_any_process(tiny_model: TinyModel) -> None:
    spec = resolve(str(tiny_model.config), str(tiny_model.weights))
    first = Encoder(spec, "cpu").encode_images([picture(1)])
    second = Encoder(spec, "cpu").encode_images([picture(1)])
    assert np.allclose(first, second, atol=1e-6)
    assert np.isclose(np.linalg.norm(first), 1.0, atol=1e-5)


def test_offline_download_fails_fast_and_says_how_to_use_a_local_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "https://127.0.0.1:9")  # nothing listens there: unreachable at once
    spec = resolve("ViT-B-32", "laion2b_s34b_b79k")
    started = time.monotonic()
    with pytest.raises(ModelError) as info:
        Encoder(spec, "cpu", ModelCache()).load()
    assert time.monotonic() - started < 15
    assert "--pretrained /path/to/that/file" in str(info.value)


def test_a_demo_library_survives_xmodal_being_installed_elsewhere() -> None:
    from dataclasses import replace

    spec = resolve("demo", None)
    elsewhere = replace(spec, pretrained="/old/venv/site-packages/indexer/demo_model/open_clip_pytorch_model.bin")
    assert (
        Encoder(elsewhere, "cpu", ModelCache()).load().dim == 128
    )  # found in the installed package; the SHA-256 still checked


def test_changed_weights_are_refused(tmp_path: Path, tiny_model: TinyModel) -> None:
    copy = tmp_path / "w.pt"
    copy.write_bytes(tiny_model.weights.read_bytes())
    spec = resolve(str(tiny_model.config), str(copy))
    copy.write_bytes(copy.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ModelError, match="changed since the library was built"):
        Encoder(spec, "cpu", ModelCache()).load()  # a fresh process: nothing loaded yet
