"""Drawing words and recording them as drawn: each word is inked on its own mask, so its height is measured
from its own pixels (the rows at least half covered), whatever the font, the case or the script.

A word's height is that of its ink, upright: "mono" in lower case is the font's x-height, "Hg" runs from cap
top to descender, a Chinese word the height of its characters. Rotation happens after measuring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from PIL import Image, ImageDraw, ImageFont

from data.rendered_text.fonts import Fonts

Box = tuple[int, int, int, int]  # left, top, right, bottom
Colour = tuple[int, ...]  # RGB, or RGBA on a layer that is pasted later
FontSet = dict[str, ImageFont.FreeTypeFont]  # by language: "en", "zh"
Line = list[tuple[str, str]]  # (text, lang) words


@dataclass(frozen=True)
class Drawn:
    """A word as the truth records it."""

    text: str
    lang: str  # "en" | "zh"
    height: int  # ink height in pixels, upright
    angle: int  # degrees, counter-clockwise


@dataclass(frozen=True)
class Tile:
    mask: Image.Image  # "L": the word's coverage
    height: int
    left: int  # where the mask's corner lies from the baseline origin (anchor "ls")
    top: int
    advance: int  # how far the next word starts, without the space


def tile(text: str, font: ImageFont.FreeTypeFont) -> Tile:
    x0, y0, x1, y1 = (int(edge) for edge in font.getbbox(text, anchor="ls"))
    mask = Image.new("L", (x1 - x0 + 4, y1 - y0 + 4))
    ImageDraw.Draw(mask).text((2 - x0, 2 - y0), text, font=font, fill=255, anchor="ls")
    ink = mask.point(lambda value: 255 if value >= 128 else 0).getbbox()
    height = 0 if ink is None else ink[3] - ink[1]
    return Tile(mask, height, x0 - 2, y0 - 2, round(font.getlength(text)))


def cap_size(fonts: Fonts, role: str, cap_height: float) -> int:
    """The font size whose capitals (Chinese: whose characters) are `cap_height` pixels tall."""
    return max(6, round(cap_height / _cap_ratio(str(fonts.files[role]), role == "cjk")))


@cache
def _cap_ratio(path: str, cjk: bool) -> float:
    font = ImageFont.truetype(path, 200)
    _, top, _, bottom = font.getbbox("国" if cjk else "H", anchor="ls")
    return (bottom - top) / 200


def stamp(image: Image.Image, word: Tile, origin: tuple[int, int], colour: Colour) -> Box:
    """Ink an upright word with its baseline starting at `origin`; returns the box it covers."""
    left, top = origin[0] + word.left, origin[1] + word.top
    image.paste(colour, (left, top), word.mask)
    return (left, top, left + word.mask.width, top + word.mask.height)


def stamp_turned(image: Image.Image, word: Tile, centre: tuple[int, int], angle: int, colour: Colour) -> Box:
    """Ink a word turned by `angle` degrees about `centre`; returns the box it covers."""
    turned = word.mask.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    left, top = centre[0] - turned.width // 2, centre[1] - turned.height // 2
    image.paste(colour, (left, top), turned)
    return (left, top, left + turned.width, top + turned.height)


def turned_size(word: Tile, angle: int) -> tuple[int, int]:
    return word.mask.rotate(angle, expand=True).size


def overlaps(box: Box, others: list[Box], margin: int) -> bool:
    return any(
        box[0] < other[2] + margin and other[0] < box[2] + margin and box[1] < other[3] + margin
        and other[1] < box[3] + margin
        for other in others
    )  # fmt: skip


@dataclass
class Pen:
    """Writes words along a line, left to right, and keeps what it wrote."""

    image: Image.Image
    colour: Colour
    angle: int = 0  # the angle the words will have once the layer they are on is turned
    drawn: list[Drawn] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)

    def write(self, words: Line, origin: tuple[int, int], font: FontSet) -> int:
        """Write (text, lang) words from a baseline origin; Chinese next to Chinese runs on without a space (as
        it is written). Returns where the line ends."""
        x, y = origin
        previous = ""
        for text, lang in words:
            if previous and not (previous == lang == "zh"):
                x += round(font[lang].getlength(" ")) if lang == "en" else round(font[lang].size * 0.3)
            word = tile(text, font[lang])
            self.boxes.append(stamp(self.image, word, (x, y), self.colour))
            self.drawn.append(Drawn(text, lang, word.height, self.angle))
            x += word.advance
            previous = lang
        return x

    def width(self, words: Line, font: FontSet) -> int:
        """How long `write` would make the line."""
        total, previous = 0, ""
        for text, lang in words:
            if previous and not (previous == lang == "zh"):
                total += round(font[lang].getlength(" ")) if lang == "en" else round(font[lang].size * 0.3)
            total += round(font[lang].getlength(text))
            previous = lang
        return total


def fitting(pen: Pen, words: Line, fonts: FontSet, width: int) -> Line:
    """The words that fit in `width`, from the first; the first is always kept."""
    while len(words) > 1 and pen.width(words, fonts) > width:
        words = words[:-1]
    return words
