"""What the words are drawn on: plain, gradient and noisy grounds, photo-like textures, or a real photo.

Light grounds take dark words and dark grounds light words; a textured or photographed ground is first pressed
into its tone range (a washed-out or darkened photo behind a caption), so the words stay readable to a person
and any miss is the reader's. Textures are made at a small working size and scaled up, so a 12-megapixel
camera-sized picture costs little more than a small one.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

KINDS = ("plain", "gradient", "noisy", "photo-like", "photo")
POLARITIES = ("dark-on-light", "light-on-dark")
_TONES = {"dark-on-light": (150, 255), "light-on-dark": (0, 100)}  # the ground's range
_INKS = {"dark-on-light": (0, 70), "light-on-dark": (200, 255)}  # the words' range
_WORK = 384  # the long side textures are made at
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


def photo_files(folder: Path | None) -> list[Path]:
    """The pictures in a folder, sorted so that a seed picks the same ones."""
    if folder is None:
        return []
    return sorted(path for path in folder.iterdir() if path.suffix.lower() in PHOTO_SUFFIXES)


def ink_colour(polarity: str, rng: random.Random) -> tuple[int, int, int]:
    lo, hi = _INKS[polarity]
    return (rng.randint(lo, hi), rng.randint(lo, hi), rng.randint(lo, hi))


def ground_colour(polarity: str, rng: random.Random) -> tuple[int, int, int]:
    lo, hi = _TONES[polarity]
    base = rng.randint(lo, hi)
    return tuple(int(np.clip(base + rng.randint(-25, 25), lo, hi)) for _ in range(3))  # type: ignore[return-value]


def background(kind: str, size: tuple[int, int], polarity: str, rng: random.Random, photos: list[Path]) -> Image.Image:
    """An RGB ground of `size` in the polarity's tone range; "photo" without photos falls back to "photo-like"."""
    if kind == "plain":
        return Image.new("RGB", size, ground_colour(polarity, rng))
    if kind == "gradient":
        return _gradient(size, polarity, rng)
    if kind == "noisy":
        return grain(_gradient(size, polarity, rng), rng.uniform(4, 12), rng)
    if kind == "photo" and photos:
        with Image.open(rng.choice(photos)) as opened:
            photo = ImageOps.fit(opened.convert("RGB"), size, Image.Resampling.BICUBIC)
        return _pressed(photo, polarity)
    return grain(_pressed(texture(size, rng), polarity), rng.uniform(2, 6), rng)


def texture(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """Something like a photo to a reader: smooth colour fields at a few scales, shapes with soft and hard
    edges, lines like railings and branches. No letters."""
    scale = _WORK / max(size)
    work = (max(8, round(size[0] * scale)), max(8, round(size[1] * scale)))
    numbers = np.random.default_rng(rng.randrange(2**32))
    field = np.zeros((work[1], work[0], 3), dtype=np.float32)
    for cells, weight in ((3, 1.0), (9, 0.5), (27, 0.25)):
        small = numbers.uniform(0, 255, (cells, cells, 3)).astype(np.uint8)
        field += weight * np.asarray(Image.fromarray(small).resize(work, Image.Resampling.BICUBIC), np.float32)
    picture = Image.fromarray(np.clip(field / 1.75, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(picture)
    for _ in range(rng.randint(4, 14)):
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        x0, y0 = rng.randrange(work[0]), rng.randrange(work[1])
        x1, y1 = x0 + rng.randint(8, work[0] // 2), y0 + rng.randint(8, work[1] // 2)
        shape = rng.choice(("ellipse", "rectangle", "line"))
        if shape == "ellipse":
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif shape == "rectangle":
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.line((x0, y0, x1, y1), fill=colour, width=rng.randint(1, 4))
    picture = picture.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0)))
    return picture.resize(size, Image.Resampling.BICUBIC)


def grain(image: Image.Image, sigma: float, rng: random.Random) -> Image.Image:
    """Sensor-like noise, one value per pixel for all three channels."""
    numbers = np.random.default_rng(rng.randrange(2**32))
    noise = numbers.normal(0.0, sigma, (image.height, image.width, 1)).astype(np.float32)
    pixels = np.asarray(image, dtype=np.float32) + noise
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _gradient(size: tuple[int, int], polarity: str, rng: random.Random) -> Image.Image:
    start = np.asarray(ground_colour(polarity, rng), np.float32)
    end = np.asarray(ground_colour(polarity, rng), np.float32)
    ramp = np.linspace(0.0, 1.0, 256, dtype=np.float32)[:, None] * (end - start) + start
    strip = Image.fromarray(ramp.astype(np.uint8)[:, None, :].repeat(2, axis=1))  # 256 rows, top to bottom
    if rng.random() < 0.5:
        strip = strip.transpose(Image.Transpose.ROTATE_90)  # left to right
    return strip.resize(size, Image.Resampling.BILINEAR)


def _pressed(image: Image.Image, polarity: str) -> Image.Image:
    lo, hi = _TONES[polarity]
    pixels = np.asarray(image, dtype=np.float32)
    return Image.fromarray((lo + (hi - lo) * pixels / 255.0).astype(np.uint8))
