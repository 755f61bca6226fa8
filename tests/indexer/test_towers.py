"""Models as towers: a text query builds the text tower alone, and it says exactly what the whole model says."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

from indexer.encoder import Encoder
from indexer.model_cache import ModelCache
from indexer.model_spec import resolve
from indexer.towers import load_text_tower, load_towers, pick_device, register_config
from tests.conftest import TinyModel, picture

TEXTS = ["a red circle", "two blue squares on sand", "红色的圆", ""]


@pytest.mark.parametrize("which", ["tiny", "demo"])
def test_the_text_tower_alone_encodes_exactly_as_the_whole_model(which: str, tiny_model: TinyModel) -> None:
    spec = resolve("demo", None) if which == "demo" else resolve(str(tiny_model.config), str(tiny_model.weights))
    cpu = pick_device("cpu")
    alone = load_text_tower(spec, cpu)
    assert alone is not None, "this model's text tower should load without the image tower"
    whole, _ = load_towers(spec, cpu)
    assert np.array_equal(alone.encode(TEXTS), whole.encode(TEXTS))


def test_a_text_query_loads_no_image_tower_and_one_model_is_shared(tiny_model: TinyModel) -> None:
    models = ModelCache()
    spec = resolve(str(tiny_model.config), str(tiny_model.weights))
    searcher_side = Encoder(spec, "cpu", models)
    searcher_side.encode_texts(["a photo"])
    assert len(models._texts) == 1 and len(models._images) == 0  # words alone: the image tower never loaded
    reranker_side = Encoder(spec, "cpu", models)  # the same model asked for elsewhere in the process
    assert reranker_side.text_tower is searcher_side.text_tower
    before = searcher_side.encode_texts(["a photo"])
    vectors = reranker_side.encode_images([picture(1)])
    assert len(models._images) == 1 and vectors.shape == (1, searcher_side.dim)
    assert len(models._texts) == 1  # the whole model's text tower replaced the one loaded alone: held once
    assert np.array_equal(searcher_side.encode_texts(["a photo"]), before)


def test_a_model_loading_does_not_hold_up_one_already_loaded(tiny_model: TinyModel) -> None:
    import threading

    models = ModelCache()
    tiny = resolve(str(tiny_model.config), str(tiny_model.weights))
    Encoder(tiny, "cpu", models).encode_texts(["warm"])
    other = resolve("demo", None)
    loading = models._loading_lock(models.key(other, pick_device("cpu")))
    with loading:  # another thread is in the middle of loading the demo model
        done = threading.Event()
        threading.Thread(target=lambda: (Encoder(tiny, "cpu", models).encode_texts(["x"]), done.set())).start()
        assert done.wait(30), "a query on the loaded model waited for another model's load"


def test_the_cache_forgets_the_least_recently_used_model(tiny_model: TinyModel) -> None:
    models = ModelCache(max_models=1)
    tiny = resolve(str(tiny_model.config), str(tiny_model.weights))
    demo = resolve("demo", None)
    first = Encoder(tiny, "cpu", models).text_tower
    Encoder(demo, "cpu", models).text_tower  # noqa: B018
    assert Encoder(tiny, "cpu", models).text_tower is not first  # loaded again: it had been dropped


def test_registering_a_custom_architecture_leaves_no_temporary_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every process that loads a custom model registers its config; each used to leave a folder in /tmp."""
    import open_clip

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    first = register_config({"embed_dim": 8, "vision_cfg": {"width": 8}, "text_cfg": {"width": 8}, "seed": 1})
    second = register_config({"embed_dim": 8, "vision_cfg": {"width": 8}, "text_cfg": {"width": 8}, "seed": 2})
    assert list(tmp_path.iterdir()) == []
    assert {first, second} <= set(open_clip.list_models())  # both still known after their files are gone
    assert open_clip.get_model_config(first)["seed"] == 1
