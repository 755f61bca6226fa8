"""Resolving --model/--pretrained, and failing fast with a useful message when weights are missing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.errors import ModelError
from indexer.encoder import Encoder
from indexer.model_cache import ModelCache
from indexer.model_spec import resolve
from tests.conftest import Cli, TinyModel, make_photo_folder, picture


def test_unknown_architecture_is_a_clear_error() -> None:
    with pytest.raises(ModelError, match="unknown model 'ViT-Q-99'"):
        resolve("ViT-Q-99", "x")


def test_an_unknown_model_without_weights_is_called_unknown_not_weightless(cli: Cli, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="unknown model 'no-such-model'"):
        resolve("no-such-model", None)
    make_photo_folder(tmp_path / "photos", 1)
    out = cli("index", str(tmp_path / "photos"), "--model", "no-such-model", code=1)
    assert "unknown model 'no-such-model'" in out and "no weights given" not in out


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
    """No download is attempted when the model hub cannot be reached, and no connection waits without a bound."""
    import socket

    import huggingface_hub
    import open_clip.pretrained

    downloads: list[object] = []
    connections: list[tuple[object, float | None]] = []

    def download(*args: object, **kwargs: object) -> None:
        downloads.append(args)
        raise AssertionError("a download was attempted")

    def unreachable(address: object, timeout: float | None = None, *args: object, **kwargs: object) -> socket.socket:
        connections.append((address, timeout))
        raise ConnectionRefusedError("nothing listens there")

    for module, name in [
        (huggingface_hub, "hf_hub_download"),
        (open_clip.pretrained, "hf_hub_download"),
        (open_clip.pretrained, "download_pretrained"),
        (open_clip.pretrained, "download_pretrained_from_url"),
    ]:
        monkeypatch.setattr(module, name, download)
    monkeypatch.setattr(socket, "create_connection", unreachable)
    spec = resolve("ViT-B-32", "laion2b_s34b_b79k")
    with pytest.raises(ModelError) as info:
        Encoder(spec, "cpu", ModelCache()).load()
    assert downloads == []
    assert connections and all(timeout is not None and timeout <= 10 for _, timeout in connections)
    message = str(info.value)
    assert "cannot be reached" in message and "--pretrained /path/to/that/file" in message


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


@pytest.mark.parametrize(
    ("model", "tag"), [("xlm-roberta-base-ViT-B-32", "laion5b_s13b_b90k"), ("nllb-clip-base", "v1")]
)
def test_a_multilingual_model_says_what_to_install_before_any_download(
    model: str, tag: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The models the README names for non-English queries read words with Hugging Face `transformers`."""
    import sys

    import open_clip.pretrained

    def download(*args: object, **kwargs: object) -> None:
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(open_clip.pretrained, "download_pretrained", download)
    monkeypatch.setitem(sys.modules, "transformers", None)  # not installed (a plain `pip install xmodal`)
    with pytest.raises(ModelError) as info:
        Encoder(resolve(model, tag), "cpu", ModelCache()).load()
    assert "transformers is not installed" in str(info.value) and "xmodal[multilingual]" in str(info.value)
