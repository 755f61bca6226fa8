"""Writes data/samples/: small captioned pictures of shapes for the offline demo (deterministic).

Run `python data/make_samples.py` to regenerate them; the output is committed so the demo needs
nothing but the repository.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

COLOURS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220), "yellow": (235, 200, 40)}
BACKGROUNDS = {"sand": (222, 200, 160), "grass": (110, 160, 90), "sky": (170, 205, 240)}
SHAPES = ("circle", "square", "triangle")
SIZE = 160


def draw(shape: str, colour: tuple[int, int, int], background: tuple[int, int, int]) -> Image.Image:
    image = Image.new("RGB", (SIZE, SIZE), background)
    pen = ImageDraw.Draw(image)
    box = (40, 40, 120, 120)
    if shape == "circle":
        pen.ellipse(box, fill=colour)
    elif shape == "square":
        pen.rectangle(box, fill=colour)
    else:
        pen.polygon([(80, 35), (125, 120), (35, 120)], fill=colour)
    return image


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    backgrounds = list(BACKGROUNDS)
    for i, (colour_name, colour) in enumerate(COLOURS.items()):
        for j, shape in enumerate(SHAPES):
            background = backgrounds[(i + j) % len(backgrounds)]
            name = f"{colour_name}-{shape}"
            draw(shape, colour, BACKGROUNDS[background]).save(out / f"{name}.jpg", "JPEG", quality=90)
            (out / f"{name}.txt").write_text(f"a {colour_name} {shape} on {background}\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "samples")
