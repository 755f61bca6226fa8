"""The trainer on a tiny model and generated scenes: it learns, it is deterministic, its output loads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from data.scenes import generate
from indexer.catalog.queries import captions_of
from indexer.library import Library
from tests.conftest import TINY_CONFIG, Cli, TinyModel
from training.trainer import TrainConfig, Trainer


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scenes")
    generate(folder, 96, seed=5)
    return folder


def config(scenes: Path, out: Path, **overrides: object) -> TrainConfig:
    base = {"pairs": scenes, "model": str(TINY_CONFIG), "out": out, "epochs": 6, "batch_size": 32, "lr": 3e-3}
    return TrainConfig(**{**base, **overrides})  # type: ignore[arg-type]


def test_training_lowers_the_loss_and_reports_held_out_recall(scenes: Path, tmp_path: Path) -> None:
    reports = Trainer(config(scenes, tmp_path / "m.pt"), log=lambda _: None).run()
    assert reports[-1].loss < reports[0].loss * 0.9
    assert set(reports[-1].recall) == {"t2i@1", "t2i@5", "t2i@10", "i2t@1", "i2t@5", "i2t@10"}
    assert (tmp_path / "m.pt").is_file() and (tmp_path / "m.json").is_file()


def test_the_same_seed_gives_the_same_weights(scenes: Path, tmp_path: Path) -> None:
    weights = []
    for name in ("a", "b"):
        Trainer(config(scenes, tmp_path / f"{name}.pt", epochs=1), log=lambda _: None).run()
        weights.append(torch.load(tmp_path / f"{name}.pt", weights_only=True))
    assert all(torch.equal(weights[0][key], weights[1][key]) for key in weights[0])


def test_freezing_the_image_tower_leaves_it_unchanged(scenes: Path, tmp_path: Path, tiny_model: TinyModel) -> None:
    start = torch.load(tiny_model.weights, weights_only=True)
    trainer = Trainer(
        config(scenes, tmp_path / "f.pt", epochs=1, pretrained=str(tiny_model.weights), freeze="image"),
        log=lambda _: None,
    )
    trainer.run()
    after = torch.load(tmp_path / "f.pt", weights_only=True)
    assert all(torch.equal(start[k], after[k]) for k in start if k.startswith("visual."))
    assert not all(torch.equal(start[k], after[k]) for k in start if k.startswith("transformer."))


def test_a_trained_checkpoint_round_trips_through_xmodal_index(scenes: Path, tmp_path: Path) -> None:
    Trainer(config(scenes, tmp_path / "m.pt", epochs=1), log=lambda _: None).run()
    cli = Cli(tmp_path / "library", TinyModel(tmp_path / "m.json", tmp_path / "m.pt"))
    report = cli.index(scenes / "images")
    assert report["added"] == 96 and report["texts"] > 96
    photo = sorted((scenes / "images").glob("*.png"))[3]
    assert cli.search_json("--image", str(photo), "-k", "1")[0]["path"] == str(photo)


def text_to_image_recall(library: Path, pairs: Path) -> dict[str, float]:
    """R@1/5/10 of each caption in the pairs file finding its own picture, by brute force over stored vectors."""
    with Library.open_reader(library) as lib:
        catalog, dim = lib.catalog, lib.dim()
        image_ids, images = catalog.fetch_vectors("media", catalog.vector_ids("media").tolist(), dim)
        captions = [(text_id, media) for text_id, media, _, source in captions_of(catalog) if source == str(pairs)]
        _, texts = catalog.fetch_vectors("texts", [text_id for text_id, _ in captions], dim)
    ranks = []
    for (_, media), vector in zip(captions, texts, strict=True):
        scores = images @ vector
        own = scores[list(image_ids).index(media)]
        ranks.append(int((scores > own).sum()))
    return {f"R@{k}": float(np.mean(np.asarray(ranks) < k)) for k in (1, 5, 10)}


def test_eval_reports_engine_and_exact_recall(scenes: Path, cli: Cli) -> None:
    report = cli.json("eval", "--pairs", str(scenes / "pairs.csv"), *cli.model.flags())
    for direction in ("text→image", "image→text"):
        engine, exact = report["engine"][direction], report["exact"][direction]
        assert engine == exact  # a flat index is exact: the engine loses nothing
    # The numbers are what the stored vectors say, computed here independently.
    expected = text_to_image_recall(cli.library, scenes / "pairs.csv")
    assert {k: report["exact"]["text→image"][k] for k in expected} == pytest.approx(expected)
    assert report["exact"]["image→text"]["queries"] == 96
    captions = len((scenes / "pairs.csv").read_text().splitlines()) - 1
    assert report["exact"]["text→image"]["queries"] == captions  # each caption of the pairs file once
    assert "text→image" in cli("eval", "--pairs", str(scenes / "pairs.csv"), *cli.model.flags())
