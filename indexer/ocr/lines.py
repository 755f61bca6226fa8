"""Lines of text in a picture, found without reading it: whether it has any, and how far they lean.

Tesseract reads lines within a few degrees of level and little else: on the project's rendered-text set it read
none of the words at 15 degrees and 0.6 of those at 5, and its own deskew reported 0.0 on them. Reading every
picture again at a few turns would cost a read per turn on every picture, text or not. This finds the lean first,
in 5-20 ms: the pixels that stand out from their surroundings (strokes, either polarity) are projected onto
the vertical at each candidate angle; at the angle of the lines the projection turns into sharp peaks and gaps
(lines and the spaces between them), at any other it blurs. Only a picture whose sharpest angle is clearly
sharper than level is read again, turned level.

The same profile says whether a picture has lines at all: a page, a screenshot or a sign is far sharper at its
sharpest angle than at a typical one; a photo's textures are about as sharp at every angle. That decides whether
a picture is worth a second, more expensive look (`LineStructure.has_lines`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageFilter

SIDE = 800  # px: the long side the lean is measured at; lines of text are still lines there
ANGLES = np.arange(-20.0, 20.5, 1.0)  # degrees, counter-clockwise; beyond this Tesseract's own reading is no help
MIN_LEAN = 4.0  # degrees: nearer level, Tesseract reads the lines as they are
MIN_GAIN = 2.0  # how much sharper than level the lines must be at their angle
MIN_INK = 200  # standing-out pixels below which there are no lines to measure
MIN_STRUCTURE = 2.5  # sharpest angle over the median angle: most text pictures 2.5-40, a quarter of photos


@dataclass(frozen=True)
class LineStructure:
    lean: float | None  # degrees the lines lean, counter-clockwise; None: level, or no lines to speak of
    structure: float  # the sharpest angle's sharpness over the median angle's; 0.0 with nothing standing out
    strokes: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool), compare=False, repr=False)

    @property
    def has_lines(self) -> bool:
        return self.structure >= MIN_STRUCTURE


NO_LINES = LineStructure(None, 0.0)


def line_structure(gray: Image.Image) -> LineStructure:
    """The lean and the structure of a picture's lines (any mode; measured in grey), and the strokes measured,
    for `local_leans`."""
    strokes = _strokes(gray)
    ys, xs = np.nonzero(strokes)
    if len(xs) < MIN_INK:
        return NO_LINES
    sharpness = _profile(ys, xs)
    structure = float(sharpness.max() / max(np.median(sharpness), 1e-9))
    return LineStructure(_leaning(sharpness, MIN_GAIN), structure, strokes)


def _profile(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    return np.array([_sharpness(ys, xs, angle) for angle in ANGLES])


def _leaning(sharpness: np.ndarray, min_gain: float) -> float | None:
    best = int(np.argmax(sharpness))
    level = sharpness[int(np.flatnonzero(ANGLES == 0.0)[0])]
    if abs(ANGLES[best]) < MIN_LEAN or sharpness[best] < min_gain * level:
        return None
    return float(ANGLES[best])


WINDOW = 3  # local leans are measured in windows a third of the picture's sides, overlapping by half
MIN_WINDOW_GAIN = 1.5  # a window holds fewer strokes than the picture: its lines must stand out more
MIN_VOTES = 2  # windows that must agree (within a degree) on a local lean (overlapping ones share strokes)
MOST_LOCAL = 2  # local leans read, the most agreed on first: each costs the picture's reads again


def local_leans(lines: LineStructure) -> list[float]:
    """Leans of words scattered at their own angles (a sign on a wall, a label on a box) among level ones: the
    whole picture's lines are level, so it has no lean. Measured in overlapping windows of its strokes; a lean
    several windows agree on is one to read at."""
    strokes = lines.strokes
    height, width = (side // WINDOW for side in strokes.shape)
    votes: list[float] = []
    for top in range(0, strokes.shape[0] - height + 1, max(1, height // 2)):
        for left in range(0, strokes.shape[1] - width + 1, max(1, width // 2)):
            ys, xs = np.nonzero(strokes[top : top + height, left : left + width])
            found = _leaning(_profile(ys, xs), MIN_WINDOW_GAIN) if len(xs) >= MIN_INK else None
            if found is not None:
                votes.append(found)
    agreed = sorted({angle: sum(abs(vote - angle) <= 1.0 for vote in votes) for angle in votes}.items(),
                    key=lambda item: -item[1])  # fmt: skip
    chosen: list[float] = []
    for angle, count in agreed:
        if count >= MIN_VOTES and all(abs(angle - other) > 2.0 for other in chosen):
            chosen.append(angle)
    return chosen[:MOST_LOCAL]


def levelled(gray: Image.Image, angle: float) -> Image.Image:
    """The picture turned back by `angle`, the corners that come into view filled with its median grey (a black
    or white wedge would be an edge Tesseract reads as strokes)."""
    counts = np.cumsum(gray.histogram()[:256])
    fill = int(np.searchsorted(counts, counts[-1] / 2))
    return gray.rotate(-angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=fill)


def _strokes(gray: Image.Image) -> np.ndarray:
    """Pixels far from the mean of their 17×17 neighbourhood, at SIDE: the edges of strokes, whichever their
    polarity; smooth grounds (sky, gradients, paper) drop out."""
    gray = gray if gray.mode == "L" else gray.convert("L")
    scale = SIDE / max(gray.size)
    if scale < 1:
        size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
        gray = gray.resize(size, Image.Resampling.BOX)
    pixels = np.asarray(gray, np.float32)
    detail = pixels - np.asarray(gray.filter(ImageFilter.BoxBlur(8)), np.float32)
    return np.abs(detail) > max(20.0, 2.5 * float(np.std(detail)))


def _sharpness(ys: np.ndarray, xs: np.ndarray, angle: float) -> float:
    """How peaked the projection of the points across lines at `angle` is: the sum of squared steps between
    neighbouring rows of its histogram (from and to the empty rows around it), per point."""
    theta = np.radians(angle)
    rows = ys * np.cos(theta) + xs * np.sin(theta)
    histogram = np.bincount((rows - rows.min()).astype(np.int64)).astype(np.float64)
    return float(np.sum(np.diff(histogram, prepend=0.0, append=0.0) ** 2)) / len(xs)
