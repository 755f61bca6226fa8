"""The torch-free preprocessing gives the array open_clip's preprocess gives, on image files of every shape and
mode a library meets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import open_clip
import pytest
from open_clip.transform import PreprocessCfg, image_transform, image_transform_v2
from PIL import Image

from indexer.image_preprocess import OPENAI_MEAN, OPENAI_STD, Preprocess
from tests.conftest import FLICKR, REPO


def photo(size: tuple[int, int], seed: int) -> Image.Image:
    """Smooth gradients, hard-edged blocks and noise: resampling, crop offsets and rounding all show in it."""
    rng = np.random.default_rng(seed)
    width, height = size
    x, y = np.meshgrid(np.linspace(0, 1, width), np.linspace(0, 1, height))
    blocks = np.asarray(
        Image.fromarray(rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)).resize(size, Image.Resampling.NEAREST)
    )
    smooth = np.stack([x * 255, y * 255, (1 - x) * y * 255], axis=-1)
    pixels = 0.5 * smooth + 0.4 * blocks + rng.normal(0, 12, (height, width, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def with_alpha(image: Image.Image, seed: int) -> Image.Image:
    """Alpha from opaque to fully transparent, so premultiplied resizing changes the colours."""
    rng = np.random.default_rng(seed)
    alpha = np.linspace(0, 255, image.width)[None, :].repeat(image.height, axis=0)
    alpha[rng.random(alpha.shape) < 0.2] = 0
    rgba = image.convert("RGBA")
    rgba.putalpha(Image.fromarray(alpha.astype(np.uint8)))
    return rgba


@pytest.fixture(scope="module")
def image_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("images")
    files: list[tuple[str, Image.Image, dict[str, Any]]] = [
        ("landscape.jpg", photo((333, 250), 1), {"quality": 90}),
        ("portrait.png", photo((200, 301), 2), {}),
        ("tiny.png", photo((10, 7), 3), {}),  # smaller than any crop: scaled up first
        ("truncated.png", photo((300, 199), 4), {}),  # 224 * 300 / 199 = 337.7: torchvision makes it 337 wide
        ("rgba.png", with_alpha(photo((160, 120), 5), 5), {}),
        ("la.png", with_alpha(photo((90, 130), 6), 6).convert("LA"), {}),
        ("gray.jpg", photo((150, 97), 7).convert("L"), {}),
        ("palette.png", photo((140, 90), 8).quantize(64), {}),
        ("palette.gif", photo((97, 141), 9).convert("P"), {}),
        ("cmyk.jpg", photo((120, 160), 10).convert("CMYK"), {"quality": 95}),
    ]
    # Already the size on one side, with the crop offset (1 or 3) / 2 rounded half to even: 0 and 2.
    for size in (224, 64):
        files += [
            (f"even-{size}.png", photo((size + 1, size), size), {}),
            (f"odd-{size}.png", photo((size, size + 3), size + 1), {}),
        ]
    paths = []
    for name, image, options in files:
        image.save(folder / name, **options)
        paths.append(folder / name)
    with Image.open(folder / "cmyk.jpg") as cmyk, Image.open(folder / "palette.gif") as gif:
        assert (cmyk.mode, gif.mode) == ("CMYK", "P")
    if FLICKR.is_dir():
        paths += sorted((FLICKR / "images").glob("*.jpg"))[:8]
    return paths


def assert_same(ours: np.ndarray, theirs: np.ndarray, what: str) -> None:
    assert ours.dtype == np.float32 and ours.shape == theirs.shape, f"{what}: {ours.dtype} {ours.shape}"
    difference = float(np.abs(ours - theirs).max())
    assert difference <= 1e-5, f"{what}: differs from open_clip by {difference}"


@pytest.mark.parametrize("size", [224, 64])
@pytest.mark.parametrize("resize_mode", ["shortest", "squash"])
@pytest.mark.parametrize("interpolation", ["bicubic", "bilinear"])
def test_the_array_is_open_clips(size: int, resize_mode: str, interpolation: str, image_files: list[Path]) -> None:
    mean, std = (OPENAI_MEAN, OPENAI_STD) if interpolation == "bicubic" else ((0.5, 0.4, 0.3), (0.2, 0.3, 0.25))
    ours = Preprocess(size, mean, std, interpolation, resize_mode)
    theirs = image_transform(size, False, mean, std, resize_mode=resize_mode, interpolation=interpolation)
    for path in image_files:
        with Image.open(path) as image:
            assert_same(ours(image), theirs(image).numpy(), f"{path.name} ({image.mode} {image.size})")


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"size": 64, "resize_mode": "squash", "interpolation": "bilinear"},
        {"size": (64, 64), "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5), "fill_color": 255},
        {"size": 64, "interpolation": "random", "mean": 0.5, "std": [0.25]},
        {"size": 64, "mean": None, "std": None, "resize_mode": None, "interpolation": None},
    ],
)
def test_a_preprocessing_config_gives_the_preprocess_open_clip_builds(
    config: dict[str, Any], image_files: list[Path]
) -> None:
    ours = Preprocess.from_config(config)
    assert ours is not None
    given = {k: v for k, v in config.items() if v is not None}
    theirs = image_transform_v2(PreprocessCfg(**given), is_train=False)
    for path in image_files[:5]:
        with Image.open(path) as image:
            assert_same(ours(image), theirs(image).numpy(), f"{config} on {path.name}")


def test_the_size_may_be_called_image_size(image_files: list[Path]) -> None:
    ours = Preprocess.from_config({"image_size": 64})
    assert ours is not None and ours.image_size == 64
    with Image.open(image_files[0]) as image:
        assert_same(ours(image), image_transform(64, False)(image).numpy(), "image_size 64")


@pytest.mark.parametrize(
    "config",
    [
        {"resize_mode": "longest"},
        {"resize_mode": "longest", "fill_color": 128},
        {"size": (224, 160)},
        {"interpolation": "nearest"},
        {"mode": "L"},
        {"mean": (0.5, 0.5)},
        {"size": None},
    ],
)
def test_what_it_cannot_reproduce_is_left_to_torch(config: dict[str, Any]) -> None:
    assert Preprocess.from_config(config) is None


def test_the_module_imports_without_torch(image_files: list[Path], tmp_path: Path) -> None:
    path = next(p for p in image_files if p.name == "rgba.png")
    code = (
        "import sys; import numpy as np; from PIL import Image; from indexer.image_preprocess import Preprocess; "
        f"array = Preprocess.from_config({{'size': 64}})(Image.open({str(path)!r})); "
        f"np.save({str(tmp_path / 'out.npy')!r}, array); "
        "assert 'torch' not in sys.modules and 'open_clip' not in sys.modules, 'torch or open_clip was imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    with Image.open(path) as image:
        expected = open_clip.image_transform(64, False)(image).numpy()
    assert_same(np.load(tmp_path / "out.npy"), expected, "in a process without torch")
