"""Where a new shot starts: a cheap test between two sampled frames, on tiny thumbnails.

Frames are sampled about a second apart, so the test has to tolerate a second's motion: a person walking, a pan
across the same room. It therefore compares what the two pictures hold, not where: the distance is the mean
difference between the two thumbnails' sorted pixel values, per colour channel (the earth mover's distance
between their colour distributions), scaled to 0..1. Motion, reframing and rotation within a shot barely move it;
a cut to another shot usually moves it far, as does a fade. Not luma alone: a cut from a red scene to a green
one of the same brightness is still a cut. Two shots with the same colours (two talking heads against one wall)
look alike to it, and that is the price of ignoring motion.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

THUMBNAIL = 32  # pixels a side; aspect does not matter to a distribution
# Distances at or above this start a new shot. 0.1 is a tenth of black-to-white: every pixel 26 levels (of 255)
# brighter, or a tenth of the picture turned from black to white; pure red turning pure blue is 0.67. Chosen by
# reasoning about those cases, not fitted to real footage: a cut between two dim, similar shots can fall below it.
SCENE_CUT_THRESHOLD = 0.1


def thumbnail(image: Image.Image) -> np.ndarray:
    """The picture's colours, sorted per channel: shape (3, THUMBNAIL²), uint8. Box-filtered from the image
    already decoded at reduced size, so it costs microseconds."""
    small = image.convert("RGB").resize((THUMBNAIL, THUMBNAIL), Image.Resampling.BOX)
    pixels = np.asarray(small, dtype=np.uint8).reshape(-1, 3).T
    return np.sort(pixels, axis=1)


def scene_distance(a: np.ndarray, b: np.ndarray) -> float:
    """0 for pictures with the same colours wherever they are, 1 for black against white."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean() / 255.0)


def is_cut(previous: np.ndarray | None, current: np.ndarray, threshold: float = SCENE_CUT_THRESHOLD) -> bool:
    """Whether `current` starts a new shot; the first frame of a video always does."""
    return previous is None or scene_distance(previous, current) >= threshold
