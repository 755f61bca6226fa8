"""A video's moments: runs of consecutive sampled frames that look alike to the model, each one searchable.

A moment ends where the decoder saw a cut (a new shot always starts a new moment), where a frame strays from
the moment's mean (cosine below `similarity`: something appeared, left or changed), or where it has lasted
`max_seconds` (a long static shot still gets moments short enough to point at). Its vector is the normalised
mean of its frames' vectors, and its thumbnail the frame nearest that mean. Boundaries lie halfway between the
last frame of one moment and the first of the next: with samples a second apart, what changed at 3.4 s is
placed at 3.5 s, not at 4.0. Frames are kept with the video, so moments can be made again with other
parameters without decoding.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from indexer.catalog import Segment


def make_moments(
    times: Sequence[float],
    cuts: Sequence[bool],
    vectors: np.ndarray,
    end: float,
    similarity: float,
    max_seconds: float,
) -> list[Segment]:
    """Moments of frames sampled at `times` (ascending; `cuts[i]`: frame i starts a shot), ending at `end`."""
    if not len(times):
        return []
    starts = [0]
    total = vectors[0].astype(np.float64).copy()
    for i in range(1, len(times)):
        first = starts[-1]
        mean = total / np.linalg.norm(total)
        if cuts[i] or float(vectors[i] @ mean) < similarity or times[i] - times[first] >= max_seconds:
            starts.append(i)
            total = vectors[i].astype(np.float64).copy()
        else:
            total += vectors[i]
    bounds = [*starts, len(times)]
    moments = []
    for number, (first, last) in enumerate(itertools.pairwise(bounds)):
        start = 0.0 if number == 0 else (times[first - 1] + times[first]) / 2
        stop = end if last == len(times) else (times[last - 1] + times[last]) / 2
        members = vectors[first:last].astype(np.float64)
        mean = members.sum(axis=0)
        mean /= np.linalg.norm(mean)
        best = first + int(np.argmax(members @ mean))
        vector = mean.astype(np.float32)
        moments.append(Segment(round(start, 3), round(max(stop, start), 3), float(times[best]), vector))
    return moments
