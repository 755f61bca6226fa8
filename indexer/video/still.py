"""One frame of a video as a picture (a moment's thumbnail, or what a reranker sees of it), decoded on request
in bounded time.

It seeks to the keyframe at or before the time and decodes forward to the first frame at or after it (less than
half a frame early counts, as indexing's samples do): a frame deep in a long video costs one keyframe interval
of decoding, not the video up to it. The opening checks are indexing's (indexer.video.probe), so a hostile file
is refused here as it was there.
"""

from __future__ import annotations

import contextlib
import math
import os
from fractions import Fraction

import av
from av.video.frame import VideoFrame
from PIL import Image

from indexer.video.probe import (
    OpenVideo,
    VideoDecodeError,
    VideoLimits,
    check_frame_pixels,
    fraction,
    open_video,
    reason,
    upright_picture,
)

FRAME_SECONDS = 10.0  # wall-clock budget for one frame, checked between packets: a request never decodes for long
# The duration limit is indexing's concern: one frame costs the same in a long video as in a short one.
LIMITS = VideoLimits(max_duration_seconds=math.inf, max_wall_seconds=FRAME_SECONDS)


def frame_at(path: str | os.PathLike[str], seconds: float, max_side: int, limits: VideoLimits = LIMITS) -> Image.Image:
    """The frame shown `seconds` into the video (its last frame past the end): RGB, upright, square pixels, the
    longest side at most `max_side` (never enlarged). Raises VideoDecodeError for a video that cannot be decoded
    (VideoOverLimit past the budget) and OSError (FileNotFoundError, ...) for one that cannot be read."""
    with open_video(path, limits) as video:
        frame = _decode_to(video, Fraction(seconds).limit_denominator(1_000_000))
        return upright_picture(frame, fraction(video.stream.sample_aspect_ratio), max_side)


def _decode_to(video: OpenVideo, target: Fraction) -> VideoFrame:
    stream = video.stream
    early = 1 / (2 * video.fps) if video.fps else Fraction(1, 1000)
    # A container without an index to seek in is decoded from the start, where it was just opened.
    with contextlib.suppress(av.error.FFmpegError):
        video.container.seek(math.floor((target + video.origin) / video.time_base), stream=stream, backward=True)
    last: VideoFrame | None = None
    try:
        for packet in video.container.demux(stream):
            video.check_budget()
            for frame in stream.decode(packet):
                check_frame_pixels(frame, video.limits)
                if frame.pts is None:
                    continue
                last = frame
                if video.seconds(frame.pts) >= target - early:
                    return frame
    except av.error.FFmpegError as exc:
        if last is None:  # damaged before `target`: the last good frame is the nearest there is
            raise VideoDecodeError(f"cannot decode its video ({video.codec}): {reason(exc)}") from None
    if last is None:
        raise VideoDecodeError(f"no picture could be decoded from its video ({video.codec}): damaged or truncated")
    return last
