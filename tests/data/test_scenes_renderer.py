"""The training renderer varies what the captions leave open, and keeps what they say."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import data.scenes
from data.scenes import Scene, generate, jpeg_round_trip, render


def red_pixels(image: Image.Image) -> np.ndarray:
    """Where the (red) shape is: no background tone is this red."""
    rgb = np.asarray(image, dtype=np.int32)
    return (rgb[..., 0] > rgb[..., 1] + 60) & (rgb[..., 0] > rgb[..., 2] + 60)


def renders(scene: Scene, count: int) -> list[Image.Image]:
    return [render(scene, random.Random(seed)) for seed in range(count)]


def test_the_same_scene_renders_with_other_backgrounds_and_sizes() -> None:
    large = renders(Scene("red", "circle", "large", "left", 1, "sky"), 24)
    corners = {image.getpixel((0, 0)) for image in large}
    assert len(corners) >= 20  # the sky's tone, washes and gradients differ from picture to picture
    areas = [int(red_pixels(image).sum()) for image in large]
    assert min(areas) > 0 and max(areas) > 2.5 * min(areas)  # "large" covers a range of sizes
    small = [int(red_pixels(image).sum()) for image in renders(Scene("red", "circle", "small", "left", 1, "sky"), 24)]
    assert np.median(small) * 2 < np.median(areas)  # yet "small" stays smaller than "large"


def test_positions_keep_their_word() -> None:
    for image in renders(Scene("red", "square", "small", "left", 1, "grass"), 24):
        columns = np.nonzero(red_pixels(image))[1]
        assert columns.mean() < 32  # "left" stays left of the middle however it moves
    for image in renders(Scene("red", "square", "small", "bottom", 1, "grass"), 24):
        rows = np.nonzero(red_pixels(image))[0]
        assert rows.mean() > 32


def test_a_share_of_the_scenes_goes_through_jpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    qualities: list[int] = []

    def counted(image: Image.Image, quality: int) -> Image.Image:
        qualities.append(quality)
        return jpeg_round_trip(image, quality)

    monkeypatch.setattr(data.scenes, "jpeg_round_trip", counted)
    generate(tmp_path, 100, seed=4)
    assert 20 <= len(qualities) <= 65 and len(set(qualities)) > 5  # some, not all, at various qualities


def test_a_jpeg_round_trip_changes_pixels_but_not_the_picture() -> None:
    image = render(Scene("blue", "triangle", "large", "right", 1, "sand"), random.Random(1))
    again = jpeg_round_trip(image, 40)
    difference = np.abs(np.asarray(image, dtype=np.int32) - np.asarray(again, dtype=np.int32))
    assert difference.max() > 0 and difference.mean() < 12


def test_scenes_are_captioned_in_chinese_too(tmp_path: Path) -> None:
    train = data.scenes.TRAIN_TEMPLATES + data.scenes.ZH_TRAIN_TEMPLATES + data.scenes.BROAD_TEMPLATES
    captions = Scene("red", "circle", "small", "left", 1, "sand").captions(train + data.scenes.ZH_BROAD_TEMPLATES)
    assert {"红色的圆", "沙地上的红色圆", "red circle", "红色的东西", "一个圆"} <= set(captions)
    assert "a red circle" not in captions  # that English wording stays held out
    two = Scene("blue", "square", "small", "left", 2, "sand").captions(data.scenes.ZH_TRAIN_TEMPLATES)
    assert "两个蓝色方块" in two and all("两个" in caption for caption in two)  # "红色的圆" is not two circles
    assert generate(tmp_path / "english", 10, seed=1) and (tmp_path / "english" / "pairs.csv").read_text().isascii()
    made = generate(tmp_path / "train", 10, seed=1, chinese=True, broad=True)
    pairs = (tmp_path / "train" / "pairs.csv").read_text()
    assert all(caption in pairs for caption in made[0][2]) and not pairs.isascii()
    assert (tmp_path / "train" / "images" / "scene-1-00000.txt").read_text().isascii()  # sidecars: English
    held = generate(tmp_path / "held", 10, seed=2, heldout=True, chinese=True, broad=True)
    assert not any("东西" in caption for _, _, captions in held for caption in captions)  # broad: training only


def test_held_out_scenes_keep_the_demo_look(tmp_path: Path) -> None:
    """data/samples was written by `generate(..., 30, seed=7, heldout=True)`: the same call still writes it."""
    samples = Path(__file__).resolve().parents[2] / "data" / "samples" / "images"
    made = generate(tmp_path, 24, seed=7, heldout=True)
    for path, _, _ in made:
        assert path.read_bytes() == (samples / path.name).read_bytes()


@pytest.mark.parametrize("varied", [False, True])
def test_an_offset_moves_the_shapes_and_count_0_draws_the_background_alone(varied: bool) -> None:
    """What a video's frames are made of: one seed, the shapes elsewhere, or gone."""
    scene = Scene("red", "circle", "small", "left", 1, "grass")
    for seed in range(8):
        here, there = (render(scene, random.Random(seed), varied, (0.0, dy)) for dy in (-0.08, 0.08))
        rows = [np.nonzero(red_pixels(image))[0].mean() for image in (here, there)]
        assert rows[1] - rows[0] == pytest.approx(0.16 * 64, abs=1.5)
        empty = np.asarray(render(Scene("red", "circle", "small", "left", 0, "grass"), random.Random(seed), varied))
        assert not red_pixels(Image.fromarray(empty)).any()
        if not varied:  # the flat look: the same background exactly, wherever no shape is
            assert (np.asarray(here)[~red_pixels(here)] == empty[~red_pixels(here)]).all()
