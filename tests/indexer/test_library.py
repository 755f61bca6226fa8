"""The library's model record: asking for the encoder never changes what the library holds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import ModelMismatch
from core.settings import load_settings
from indexer import ann
from indexer.index_files import IndexFiles
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


def test_a_mapped_index_outlives_the_generations_a_writer_prunes(tmp_path: Path) -> None:
    """Searchers memory-map the newest generation; the writer's pruning must not pull it from under them."""
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((400, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(1, 401)
    files = IndexFiles(tmp_path / "index", "media")
    shape = ann.desired_shape(len(ids), None, ivf_threshold=100)
    assert shape.kind == "ivf"  # its lists are what gets mapped
    files.save(ann.build(shape, 16, ids, vectors), version=1, dim=16, shape=shape)
    loaded = files.load(mapped=True)
    assert loaded is not None
    first_file, mapped = tmp_path / "index" / loaded[0].file, loaded[1]
    for version in (2, 3):  # the writer keeps the newest two generations
        files.save(ann.build(shape, 16, ids[:10], vectors[:10]), version=version, dim=16, shape=shape)
    assert not first_file.exists()
    _, found = ann.search(mapped, vectors[:5], 1, nprobe=shape.nlist)
    assert found[:, 0].tolist() == [1, 2, 3, 4, 5]  # still answers, from the pruned file it mapped


def test_a_searcher_never_changes_its_mapped_index(cli: Cli, tmp_path: Path) -> None:
    make_photo_folder(tmp_path / "photos", 3)
    cli.index(tmp_path / "photos")
    with Library.open_reader(cli.library) as lib, pytest.raises(RuntimeError, match="searching only"):
        lib.vector_index("media", mapped=True).sync(2)
