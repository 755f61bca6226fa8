"""A second world for evaluation only: one plain shape per picture, drawn by other code than `data/scenes.py`.

    python -m data.plain_shapes OUT [--per-pair 8] [--seed 0]

Writes OUT/images/*.jpg|*.png (names carry no label: `img-0000.jpg`, ...), OUT/truth.csv (image,colour,shape)
and OUT/queries.csv: judged queries (query,language,kind,image), one row per true match, an absent query one
row with no image. Kinds: `specific` (colour + shape: "a red circle"), `colour` ("something red"), `shape`
("a circle"), `any` ("a shape": every picture), `absent` (what no picture shows).

Nothing here is shared with the training renderer: shapes are anti-aliased coverage masks computed with numpy
(the trainer's scenes are Pillow polygons), the pictures are 96 px (training: 64), the shape fills 25-70% of
the side at any position (training: two sizes at four positions), the backgrounds are white, grey, gradients
and paper noise (training: four flat colours), the shades are other shades of each colour name, and half the
pictures are saved as JPEG. A model that learnt "red circle" rather than one renderer's pixels passes here.
"""

from __future__ import annotations

import argparse
import csv
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 96
COLOURS: dict[str, tuple[tuple[int, int], tuple[int, int], tuple[int, int]]] = {  # (lo, hi) per channel
    "red": ((185, 250), (0, 70), (10, 70)),
    "green": ((20, 90), (130, 200), (20, 90)),
    "blue": ((10, 70), (40, 110), (170, 250)),
    "yellow": ((225, 255), (195, 240), (0, 70)),
}
SHAPES = ("circle", "square", "triangle")
ZH_COLOURS = {"red": "红色", "green": "绿色", "blue": "蓝色", "yellow": "黄色"}
ZH_SHAPES = {"circle": "圆", "square": "方块", "triangle": "三角形"}

# (kind, english, chinese, colour or None, shape or None): colour/shape None means "any".
JUDGED: tuple[tuple[str, str, str, str | None, str | None], ...] = (
    *(("specific", f"a {c} {s}", f"{ZH_COLOURS[c]}的{ZH_SHAPES[s]}", c, s) for c in COLOURS for s in SHAPES),
    *(("colour", f"something {c}", f"{ZH_COLOURS[c]}的东西", c, None) for c in COLOURS),
    *(("shape", f"a {s}", f"一个{ZH_SHAPES[s]}", None, s) for s in SHAPES),
    ("any", "a shape", "一个形状", None, None),
)
# What no picture shows: things the model never saw, and colour/shape pairs it knows that are not here.
ABSENT: tuple[tuple[str, str], ...] = (
    ("a giraffe", "一只长颈鹿"),
    ("a red car", "一辆红色的汽车"),
    ("a birthday cake", "生日蛋糕"),
    ("a man riding a bicycle", "骑自行车的人"),
    ("a purple circle", "紫色的圆"),
    ("a purple triangle", "紫色的三角形"),
)


@dataclass(frozen=True)
class Picture:
    name: str
    colour: str
    shape: str


def _background(rng: random.Random) -> np.ndarray:
    kind = rng.choice(("white", "grey", "gradient", "paper"))
    if kind == "white":
        return np.full((SIZE, SIZE, 3), rng.randint(235, 255), dtype=np.float32)
    if kind == "grey":
        return np.full((SIZE, SIZE, 3), rng.randint(90, 200), dtype=np.float32)
    if kind == "gradient":
        start, end = rng.randint(150, 255), rng.randint(60, 200)
        ramp = np.linspace(start, end, SIZE, dtype=np.float32)
        plane = ramp[:, None] if rng.random() < 0.5 else ramp[None, :]
        return np.repeat(np.broadcast_to(plane, (SIZE, SIZE))[..., None], 3, axis=2).copy()
    base = rng.randint(190, 240)
    noise = np.random.default_rng(rng.randint(0, 2**31)).normal(0, 10, (SIZE, SIZE, 1))
    return np.clip(base + noise, 0, 255).repeat(3, axis=2).astype(np.float32)


def _coverage(shape: str, cx: float, cy: float, half: float) -> np.ndarray:
    """Fraction of each pixel inside the shape (a signed distance, clipped over one pixel: anti-aliased)."""
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) + 0.5
    dx, dy = xs - cx, ys - cy
    if shape == "circle":
        distance = np.hypot(dx, dy) - half
    elif shape == "square":
        distance = np.maximum(np.abs(dx), np.abs(dy)) - half
    else:  # upright equilateral-ish triangle: the largest distance to its three edges
        top, base = cy - half, cy + half * 0.8
        slope = (base - top) / half  # edges run from the apex to (cx ± half, base)
        left = ((xs - (cx - half)) * -slope - (ys - base)) / np.hypot(slope, 1)
        right = ((xs - (cx + half)) * slope - (ys - base)) / np.hypot(slope, 1)
        distance = np.maximum(np.maximum(ys - base, left), right)
    return np.clip(0.5 - distance, 0.0, 1.0)


def draw(colour: str, shape: str, rng: random.Random) -> Image.Image:
    background = _background(rng)
    half = rng.uniform(0.125, 0.35) * SIZE
    cx = rng.uniform(half + 2, SIZE - half - 2)
    cy = rng.uniform(half + 2, SIZE - half - 2)
    fill = np.asarray([rng.randint(lo, hi) for lo, hi in COLOURS[colour]], dtype=np.float32)
    alpha = _coverage(shape, cx, cy, half)[..., None]
    pixels = background * (1 - alpha) + fill * alpha
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def generate(out: Path, per_pair: int = 8, seed: int = 0) -> list[Picture]:
    """Write per_pair pictures of every colour × shape, shuffled under label-free names, with their truth
    and judged queries."""
    rng = random.Random(seed)
    labels = [(c, s) for c in COLOURS for s in SHAPES for _ in range(per_pair)]
    rng.shuffle(labels)
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    pictures = []
    for i, (colour, shape) in enumerate(labels):
        suffix = ".jpg" if rng.random() < 0.5 else ".png"
        name = f"img-{i:04d}{suffix}"
        picture = draw(colour, shape, rng)
        if suffix == ".jpg":
            picture.save(images / name, quality=rng.randint(60, 95))
        else:
            picture.save(images / name)
        pictures.append(Picture(f"images/{name}", colour, shape))
    with open(out / "truth.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "colour", "shape"])
        writer.writerows((p.name, p.colour, p.shape) for p in pictures)
    write_queries(out / "queries.csv", pictures)
    return pictures


def write_queries(path: Path, pictures: list[Picture]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["query", "language", "kind", "image"])
        for kind, english, chinese, colour, shape in JUDGED:
            matches = [p.name for p in pictures if colour in (None, p.colour) and shape in (None, p.shape)]
            for query, language in ((english, "en"), (chinese, "zh")):
                writer.writerows((query, language, kind, name) for name in matches)
        for english, chinese in ABSENT:
            writer.writerow((english, "en", "absent", ""))
            writer.writerow((chinese, "zh", "absent", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-pair", type=int, default=8, help="pictures per colour × shape (default 8: 96)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    pictures = generate(args.out, args.per_pair, args.seed)
    print(f"{len(pictures)} pictures and their judged queries in {args.out}")


if __name__ == "__main__":
    main()
