"""The library's model record: asking for the encoder never changes what the library holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ModelMismatch
from core.settings import load_settings
from indexer.library import Library
from tests.conftest import Cli, make_photo_folder
from training.random_weights import write_random_checkpoint


def test_the_encoder_getter_keeps_the_vectors_and_forget_vectors_lets_a_new_model_in(cli: Cli, tmp_path: Path) -> None:
    make_photo_folder(tmp_path / "photos", 3)
    cli.index(tmp_path / "photos")
    other = write_random_checkpoint(cli.model.config, tmp_path / "other.pt", seed=1)
    same = load_settings(library=cli.library, model=str(cli.model.config), pretrained=str(cli.model.weights))
    different = load_settings(library=cli.library, model=str(cli.model.config), pretrained=str(other))

    with Library.open_writer(cli.library, "test") as lib:
        lib.writer_encoder(same)
        lib.writer_encoder(load_settings(library=cli.library))  # the recorded model
        assert lib.catalog.counts()["media_vectors"] == 3
        with pytest.raises(ModelMismatch, match="--reindex"):
            lib.writer_encoder(different)
        assert lib.catalog.counts()["media_vectors"] == 3

        lib.forget_vectors()
        assert lib.catalog.counts()["media_vectors"] == 0
        lib.writer_encoder(different)
        recorded = lib.model_spec()
        assert recorded is not None and "other.pt" in recorded.describe()

    report = cli.index(tmp_path / "photos", extra=("--pretrained", str(other)))
    assert report["updated"] == 3 and cli.stats()["images"] == 3


def test_reindex_with_a_model_that_cannot_load_keeps_every_vector(cli: Cli, tmp_path: Path) -> None:
    photos = make_photo_folder(tmp_path / "photos", 3)
    cli.index(tmp_path / "photos")
    out = cli("index", str(tmp_path / "photos"), "--reindex", "--model", "ViT-Q-99", "--pretrained", "x", code=1)
    assert "unknown model" in out
    assert cli.search_json("--image", str(photos[0]), "-k", "1")[0]["path"] == str(photos[0])  # still searchable
    report = cli.index(tmp_path / "photos", extra=("--reindex",))  # with a model that loads, it re-encodes
    assert report["added"] + report["updated"] == 3
