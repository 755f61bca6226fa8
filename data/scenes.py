"""A generated world of captioned scenes: shapes in colours and sizes, at positions, in counts, on backgrounds.

    python -m data.scenes OUT [--count N] [--seed S] [--heldout] [--sidecars same|train|none] [--confusable]

Writes OUT/images/*.png, a sidecar OUT/images/NAME.txt per scene (its captions, one per line) and
OUT/pairs.csv (image,caption). `--heldout` uses wordings never used for training, so evaluation
measures understanding rather than memorised sentences. `--sidecars train` describes each picture
in its sidecar with other words than the pairs file (what a person wrote, not the query itself);
`none` writes no sidecars. `--confusable` makes scenes in groups that differ in one attribute
only (colour, shape, size or position), so only a query's exact words tell them apart.
"""

from __future__ import annotations

import argparse
import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from PIL import Image, ImageDraw

SIZE = 64
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
SIZES = {"small": 0.16, "large": 0.3}

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


@dataclass(frozen=True)
class Scene:
    colour: str
    shape: str
    size: str
    position: str
    count: int
    background: str

    def captions(self, templates: tuple[str, ...]) -> list[str]:
        shapes = self.shape + "s" if self.count > 1 else self.shape
        words = {
            "colour": self.colour,
            "shape": self.shape,
            "shapes": shapes,
            "size": self.size,
            "position": self.position,
            "background": self.background,
            "count": COUNT_WORDS[self.count],
        }
        texts = []
        for template in templates:
            if self.count > 1 and "{count}" not in template:
                continue  # "a red circle" must not describe three red circles
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


def render(scene: Scene, rng: random.Random) -> Image.Image:
    image = Image.new("RGB", (SIZE, SIZE), _jitter(BACKGROUNDS[scene.background], rng, 12))
    pen = ImageDraw.Draw(image)
    cx, cy = POSITIONS[scene.position]
    radius = SIZES[scene.size] * SIZE / (1.0 if scene.count == 1 else 1.5)
    offsets = [(0.0, 0.0)] if scene.count == 1 else [(d, 0.0) for d in _spread(scene.count)]
    horizontal = scene.position in ("top", "bottom")
    for dx, _ in offsets:
        ox, oy = (dx, 0.0) if horizontal else (0.0, dx)
        x = cx * SIZE + ox * SIZE + rng.uniform(-2, 2)
        y = cy * SIZE + oy * SIZE + rng.uniform(-2, 2)
        r = radius * rng.uniform(0.9, 1.1) / 2
        _draw(pen, scene.shape, x, y, r, _jitter(COLOURS[scene.colour], rng, 15))
    return image


def _spread(count: int) -> list[float]:
    step = 0.26 if count == 2 else 0.22
    return [(i - (count - 1) / 2) * step for i in range(count)]


def _jitter(colour: tuple[int, int, int], rng: random.Random, amount: int) -> tuple[int, int, int]:
    r, g, b = (max(0, min(255, c + rng.randint(-amount, amount))) for c in colour)
    return (r, g, b)


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
) -> list[tuple[Path, Scene, list[str]]]:
    """Write `count` scenes; returns (image path, scene, captions) for each."""
    rng = random.Random(seed)
    templates = HELDOUT_TEMPLATES if heldout else TRAIN_TEMPLATES
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
            render(scene, rng).save(path)
            captions = scene.captions(templates)
            described = captions if sidecars == "same" else scene.captions(TRAIN_TEMPLATES)
            if sidecars != "none":
                path.with_suffix(".txt").write_text("\n".join(described) + "\n")
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
    args = parser.parse_args()
    generate(args.out, args.count, args.seed, args.heldout, args.sidecars, args.confusable)
    print(f"{args.count} scenes in {args.out}")


if __name__ == "__main__":
    main()
