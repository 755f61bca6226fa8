"""A generated world of captioned scenes: shapes in colours and sizes, at positions, in counts, on backgrounds.

    python -m data.scenes OUT [--count N] [--seed S] [--heldout] [--sidecars same|train|none] [--confusable]
                              [--varied|--no-varied] [--chinese] [--broad]

Writes OUT/images/*.png, a sidecar OUT/images/NAME.txt per scene (its captions, one per line) and
OUT/pairs.csv (image,caption). `--heldout` uses wordings never used for training, so evaluation
measures understanding rather than memorised sentences. `--sidecars train` describes each picture
in its sidecar with other words than the pairs file (what a person wrote, not the query itself);
`none` writes no sidecars. `--confusable` makes scenes in groups that differ in one attribute
only (colour, shape, size or position), so only a query's exact words tell them apart.

With `--chinese` the pairs file also holds Chinese captions (`两个蓝色方块`, `沙地上的红色三角形`), with `--broad`
(training only) a few broad ones ("something red", `一个圆`); sidecars stay English, what a person wrote.
The training renderer (`--varied`, the default for training scenes) varies what the captions do not name, so a
model trained here should learn "red circle" rather than one renderer's pixels: sizes and positions within each
size and position word, many shades per colour name, background tones, washes, gradients and noise, anti-aliased
edges (drawn 4x and scaled down) on some pictures, pixel noise, and a JPEG round-trip at a random quality on some.
"""

from __future__ import annotations

import argparse
import colorsys
import csv
import io
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw

SIZE = 64
SUPERSAMPLE = 4  # anti-aliased pictures are drawn this many times larger, then scaled down
Sidecars = Literal["same", "train", "none"]
COLOURS = {
    "red": (215, 35, 35),
    "green": (30, 150, 50),
    "blue": (35, 60, 210),
    "yellow": (240, 210, 30),
    "purple": (140, 50, 170),
}
SHAPES = ("circle", "square", "triangle")
BACKGROUNDS = {"sand": (225, 205, 160), "grass": (140, 190, 110), "sky": (185, 215, 245), "night": (30, 30, 50)}
POSITIONS = {"left": (0.27, 0.5), "right": (0.73, 0.5), "top": (0.5, 0.27), "bottom": (0.5, 0.73)}
COUNT_WORDS = {1: "one", 2: "two", 3: "three"}
SIZES = {"small": 0.16, "large": 0.3}  # the size words, each with a typical diameter (share of the side)
# The diameter each size word may have, as a share of the side, for one, two and three shapes.
SIZE_RANGES = {
    "small": ((0.12, 0.24), (0.1, 0.16), (0.09, 0.14)),
    "large": ((0.3, 0.62), (0.18, 0.28), (0.16, 0.23)),
}
JPEG_SHARE = 0.4  # pictures that go through a JPEG save and load
# Shades per colour name as (hue range in degrees, saturation range, value range); the flat tones above sit inside.
SHADES = {
    "red": ((-14.0, 9.0), (0.6, 1.0), (0.6, 1.0)),
    "green": ((95.0, 150.0), (0.45, 1.0), (0.4, 0.85)),
    "blue": ((205.0, 240.0), (0.55, 1.0), (0.55, 1.0)),
    "yellow": ((46.0, 60.0), (0.7, 1.0), (0.85, 1.0)),
    "purple": ((268.0, 300.0), (0.45, 0.9), (0.4, 0.85)),
}

ZH_COLOURS = {"red": "红色", "green": "绿色", "blue": "蓝色", "yellow": "黄色", "purple": "紫色"}
ZH_SHAPES = {"circle": "圆", "square": "方块", "triangle": "三角形"}
ZH_COUNTS = {1: "一个", 2: "两个", 3: "三个"}
ZH_SIZES = {"small": "小", "large": "大"}
ZH_POSITIONS = {"left": "左边", "right": "右边", "top": "上面", "bottom": "下面"}
ZH_BACKGROUNDS = {"sand": "沙地", "grass": "草地", "sky": "天空", "night": "夜晚"}
ZH_BACKGROUNDS_ON = {"sand": "沙地上", "grass": "草地上", "sky": "天空中", "night": "夜里"}  # "on sand", ...

TRAIN_TEMPLATES = (
    "a {size} {colour} {shape} on the {position} over {background}",
    "{count} {size} {colour} {shapes} on {background}",
    "a {colour} {shape} on {background}",
    "{colour} {shape}",
    "a picture of {count} {colour} {shapes}",
    "the {position} side has a {colour} {shape}",
    "{background} background with a {size} {colour} {shape}",
)
HELDOUT_TEMPLATES = (
    "an image showing {count} {colour} {shapes} against {background}",
    "a {colour} {shape}",
    "there is a {size} {colour} {shape} towards the {position}",
)
# Short on purpose: the byte-level BPE spends 2-3 tokens per Chinese character (context_length in demo-clip.json).
ZH_TRAIN_TEMPLATES = (
    "{colour}的{shape}",
    "{count}{colour}{shape}",
    "{background_on}的{colour}{shape}",
    "{position}有一个{size}{colour}{shape}",
    "{background}背景上有{count}{size}{colour}{shape}",
)
ZH_HELDOUT_TEMPLATES = (
    "一个{colour}的{shape}",
    "{background_on}有{count}{colour}的{shape}",
    "{position}的{size}{colour}{shape}",
)
# Broad captions, for training only: a colour or a shape alone ("something red", "a circle").
BROAD_TEMPLATES = ("a {colour} shape", "something {colour}", "a {shape}")
ZH_BROAD_TEMPLATES = ("{colour}的东西", "一个{shape}")
CHINESE_TEMPLATES = frozenset(ZH_TRAIN_TEMPLATES + ZH_HELDOUT_TEMPLATES + ZH_BROAD_TEMPLATES)


@dataclass(frozen=True)
class Scene:
    colour: str
    shape: str
    size: str
    position: str
    count: int
    background: str

    def captions(self, templates: tuple[str, ...]) -> list[str]:
        """This scene in each template's words; a template in Chinese gets the Chinese words."""
        shapes = self.shape + "s" if self.count > 1 else self.shape
        english = {
            "colour": self.colour,
            "shape": self.shape,
            "shapes": shapes,
            "size": self.size,
            "position": self.position,
            "background": self.background,
            "count": COUNT_WORDS[self.count],
        }
        chinese = {
            "colour": ZH_COLOURS[self.colour],
            "shape": ZH_SHAPES[self.shape],
            "size": ZH_SIZES[self.size],
            "position": ZH_POSITIONS[self.position],
            "background": ZH_BACKGROUNDS[self.background],
            "background_on": ZH_BACKGROUNDS_ON[self.background],
            "count": ZH_COUNTS[self.count],
        }
        texts = []
        for template in templates:
            if self.count > 1 and "{count}" not in template:
                continue  # "a red circle" must not describe three red circles
            words = chinese if template in CHINESE_TEMPLATES else english
            texts.append(template.format(**words))
        return texts


def random_scene(rng: random.Random) -> Scene:
    return Scene(
        colour=rng.choice(list(COLOURS)),
        shape=rng.choice(SHAPES),
        size=rng.choice(list(SIZES)),
        position=rng.choice(list(POSITIONS)),
        count=rng.choice((1, 1, 2, 3)),
        background=rng.choice(list(BACKGROUNDS)),
    )


def render(
    scene: Scene, rng: random.Random, varied: bool = True, offset: tuple[float, float] = (0.0, 0.0)
) -> Image.Image:
    """A picture of `scene`, varied in everything its captions leave open; `varied=False` draws the demo's
    original look (flat tones, two sizes, four fixed spots: what data/samples shows).

    `offset` (x, y, shares of the side) moves the shapes and draws nothing more from `rng`, so one seed renders the
    same picture with its shapes elsewhere: a video's frames (data/scene_videos.py). A `count` of 0 draws the
    background alone, the one any scene on it gets from the same seed (in the varied look, grain and JPEG loss
    are drawn after the shapes, so they may differ)."""
    if not varied:
        return _render_flat(scene, rng, offset)
    scale = SUPERSAMPLE if rng.random() < 0.5 else 1  # drawn large and scaled down: anti-aliased edges
    side = SIZE * scale
    image = _background(BACKGROUNDS[scene.background], rng, side)
    pen = ImageDraw.Draw(image)
    low, high = SIZE_RANGES[scene.size][scene.count - 1]
    diameter = rng.uniform(low, high)
    px, py = POSITIONS[scene.position]
    horizontal = scene.position in ("top", "bottom")  # a row at the top or bottom, a column left or right
    shift = rng.uniform(-0.08, 0.08)  # the group moves within its position word: "left" stays left
    cx, cy = (px + shift, py + rng.uniform(-0.04, 0.04)) if horizontal else (px + rng.uniform(-0.04, 0.04), py + shift)
    cx, cy = cx + offset[0], cy + offset[1]
    margin = diameter * 0.6 + 0.01
    colour = _shade(scene.colour, rng)
    for along in _spread(scene.count, diameter):
        x, y = (cx + along, cy) if horizontal else (cx, cy + along)
        x = min(max(x + rng.uniform(-0.015, 0.015), margin), 1 - margin)
        y = min(max(y + rng.uniform(-0.015, 0.015), margin), 1 - margin)
        r = diameter * rng.uniform(0.93, 1.07) / 2 * side
        _draw(pen, scene.shape, x * side, y * side, r, _jitter(colour, rng, 6))
    if scale > 1:
        image = image.resize((SIZE, SIZE), Image.Resampling.LANCZOS if rng.random() < 0.5 else Image.Resampling.BOX)
    if rng.random() < 0.3:
        image = _noisy(image, rng.uniform(2.0, 9.0), rng)
    if rng.random() < JPEG_SHARE:
        image = jpeg_round_trip(image, rng.randint(35, 95))
    return image


def _render_flat(scene: Scene, rng: random.Random, offset: tuple[float, float]) -> Image.Image:
    image = Image.new("RGB", (SIZE, SIZE), _jitter(BACKGROUNDS[scene.background], rng, 12))
    pen = ImageDraw.Draw(image)
    cx, cy = POSITIONS[scene.position]
    cx, cy = cx + offset[0], cy + offset[1]
    radius = SIZES[scene.size] * SIZE / (1.0 if scene.count == 1 else 1.5)
    horizontal = scene.position in ("top", "bottom")
    for along in (
        [0.0]
        if scene.count == 1
        else [(i - (scene.count - 1) / 2) * (0.26 if scene.count == 2 else 0.22) for i in range(scene.count)]
    ):
        ox, oy = (along, 0.0) if horizontal else (0.0, along)
        x = cx * SIZE + ox * SIZE + rng.uniform(-2, 2)
        y = cy * SIZE + oy * SIZE + rng.uniform(-2, 2)
        r = radius * rng.uniform(0.9, 1.1) / 2
        _draw(pen, scene.shape, x, y, r, _jitter(COLOURS[scene.colour], rng, 15))
    return image


def _spread(count: int, diameter: float) -> list[float]:
    """Centre offsets of `count` shapes in a row, a little more than a diameter apart."""
    step = diameter * 1.3 + 0.02
    return [(i - (count - 1) / 2) * step for i in range(count)]


def _jitter(colour: tuple[int, int, int], rng: random.Random, amount: int) -> tuple[int, int, int]:
    r, g, b = (max(0, min(255, c + rng.randint(-amount, amount))) for c in colour)
    return (r, g, b)


def _background(tone: tuple[int, int, int], rng: random.Random, side: int) -> Image.Image:
    """The named tone, shifted and sometimes washed toward grey, as a flat plane or a gradient."""
    base = _jitter(tone, rng, 20)
    if rng.random() < 0.3:
        grey, wash = rng.randint(110, 235), rng.uniform(0.2, 0.55)
        r, g, b = (round(c * (1 - wash) + grey * wash) for c in base)
        base = (r, g, b)
    if rng.random() < 0.6:
        return Image.new("RGB", (side, side), base)
    factor = rng.uniform(0.65, 1.25)
    r, g, b = (max(0, min(255, round(c * factor))) for c in base)
    ramp = Image.linear_gradient("L").resize((side, side))
    if rng.random() < 0.5:
        ramp = ramp.rotate(90)
    return Image.composite(Image.new("RGB", (side, side), (r, g, b)), Image.new("RGB", (side, side), base), ramp)


def _shade(name: str, rng: random.Random) -> tuple[int, int, int]:
    """One shade of a colour name: a hue, saturation and value from that name's ranges."""
    (h0, h1), (s0, s1), (v0, v1) = SHADES[name]
    r, g, b = colorsys.hsv_to_rgb((rng.uniform(h0, h1) % 360) / 360, rng.uniform(s0, s1), rng.uniform(v0, v1))
    return (round(r * 255), round(g * 255), round(b * 255))


def _noisy(image: Image.Image, sigma: float, rng: random.Random) -> Image.Image:
    """Pixel noise: grain in a photo, dither in a scan."""
    noise = np.random.default_rng(rng.randrange(2**32)).normal(0.0, sigma, (image.height, image.width, 1))
    pixels = np.asarray(image, dtype=np.float32) + noise
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def jpeg_round_trip(image: Image.Image, quality: int) -> Image.Image:
    """What a photo library holds: the picture after a lossy save at `quality`."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")


def _draw(pen: ImageDraw.ImageDraw, shape: str, x: float, y: float, r: float, colour: tuple[int, int, int]) -> None:
    if shape == "circle":
        pen.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    elif shape == "square":
        pen.rectangle((x - r, y - r, x + r, y + r), fill=colour)
    else:
        pen.polygon([(x, y - r * 1.15), (x + r * 1.1, y + r * 0.85), (x - r * 1.1, y + r * 0.85)], fill=colour)


def confusers(scene: Scene, rng: random.Random) -> list[Scene]:
    """Scenes one attribute away from `scene`: a different colour, shape, size or position."""
    colour = rng.choice([c for c in COLOURS if c != scene.colour])
    shape = rng.choice([s for s in SHAPES if s != scene.shape])
    size = next(s for s in SIZES if s != scene.size)
    position = rng.choice([p for p in POSITIONS if p != scene.position])
    return [
        replace(scene, colour=colour),
        replace(scene, shape=shape),
        replace(scene, size=size),
        replace(scene, position=position),
    ]


def scene_stream(rng: random.Random, confusable: bool) -> Iterator[Scene]:
    while True:
        scene = random_scene(rng)
        if not confusable:
            yield scene
            continue
        scene = replace(scene, count=1)  # one shape, so every caption template describes it
        yield scene
        yield from confusers(scene, rng)


def generate(
    out: Path,
    count: int,
    seed: int,
    heldout: bool = False,
    sidecars: Sidecars = "same",
    confusable: bool = False,
    varied: bool | None = None,
    chinese: bool = False,
    broad: bool = False,
) -> list[tuple[Path, Scene, list[str]]]:
    """Write `count` scenes; returns (image path, scene, captions) for each, the captions in pairs.csv.

    `varied` defaults to training scenes only: held-out scenes keep the demo's flat look unless asked (the
    shipped model was trained on that look). `chinese` adds Chinese captions and `broad` (training only) "something
    red", "a circle" and theirs to pairs.csv; both off by default, so pairs files stay English as before."""
    rng = random.Random(seed)
    english = HELDOUT_TEMPLATES if heldout else TRAIN_TEMPLATES
    zh = (ZH_HELDOUT_TEMPLATES if heldout else ZH_TRAIN_TEMPLATES) if chinese else ()
    wide = BROAD_TEMPLATES + (ZH_BROAD_TEMPLATES if chinese else ()) if broad and not heldout else ()
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    made = []
    scenes = scene_stream(rng, confusable)
    with open(out / "pairs.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "caption"])
        for i in range(count):
            scene = next(scenes)
            path = images / f"scene-{seed}-{i:05d}.png"
            render(scene, rng, varied=not heldout if varied is None else varied).save(path)
            described = scene.captions(english if sidecars == "same" else TRAIN_TEMPLATES)
            if sidecars != "none":
                path.with_suffix(".txt").write_text("\n".join(described) + "\n")
            captions = scene.captions(english + zh + wide)
            for caption in captions:
                writer.writerow([f"images/{path.name}", caption])
            made.append((path, scene, captions))
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--heldout", action="store_true", help="use wordings never seen in training")
    parser.add_argument("--sidecars", choices=("same", "train", "none"), default="same")
    parser.add_argument("--confusable", action="store_true", help="groups of scenes one attribute apart")
    parser.add_argument("--varied", action=argparse.BooleanOptionalAction, help="default: training scenes only")
    parser.add_argument("--chinese", action="store_true", help="Chinese captions too, in pairs.csv")
    parser.add_argument("--broad", action="store_true", help="broad captions too (training scenes)")
    args = parser.parse_args()
    generate(
        args.out,
        args.count,
        args.seed,
        args.heldout,
        args.sidecars,
        args.confusable,
        args.varied,
        args.chinese,
        args.broad,
    )
    print(f"{args.count} scenes in {args.out}")


if __name__ == "__main__":
    main()
