"""Opening a video: the checks every video passes before a frame of it is decoded, and what `probe` reports.

A video is refused from its header where that suffices (empty, not a video, no picture in it, a codec FFmpeg
cannot decode, over the pixel or duration limit), so a hostile file costs milliseconds. A stream without a codec
context is refused before anything is decoded: PyAV before 18.1 crashes the process decoding one (PyAV #2344).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction

import av
from av.container import InputContainer
from av.stream import Disposition
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from PIL import Image

from indexer.decode import DecodeError

NOT_A_VIDEO = "not a video, or one xmodal cannot read (damaged, or cut short before its index)"
# FFmpeg opens a lone picture as a one-frame video (image2, jpeg_pipe, png_pipe, ...): that is no video.
_PICTURE_FORMATS = frozenset({"image2", "image2pipe"})


class VideoDecodeError(DecodeError):
    """A video that cannot be indexed, or no further; the message is what `stats` shows."""


class VideoOverLimit(VideoDecodeError):
    """A video over one of the VideoLimits; `limit` names the field, so the caller can name the setting."""

    def __init__(self, message: str, limit: str) -> None:
        super().__init__(message)
        self.limit = limit


class VideoTruncated(VideoDecodeError):
    """Raised by sample_frames after it has yielded frames, when the video breaks off or is damaged there: the
    frames so far are good and may be kept, and this says where and why the rest is missing. A video that
    breaks before its first frame raises a plain VideoDecodeError instead."""

    def __init__(self, message: str, frames: int, seconds: float) -> None:
        super().__init__(message)
        self.frames = frames  # how many frames were yielded
        self.seconds = seconds  # how far into the video it broke


@dataclass(frozen=True)
class VideoLimits:
    """What one video may cost. The wall-clock budget is checked between packets and frames, so a single FFmpeg
    call that hangs is not interrupted (that would take a process of its own)."""

    max_pixels: int = 8192 * 4320  # per frame, as coded: 8K DCI
    max_duration_seconds: float = 4 * 3600.0
    max_wall_seconds: float = 30 * 60.0


@dataclass(frozen=True)
class VideoInfo:
    duration: float | None  # seconds, from the header (None where the container does not say)
    fps: float | None  # average frame rate
    width: int  # as displayed: after rotation and with non-square pixels made square
    height: int
    codec: str  # FFmpeg's decoder name: h264, hevc, vp9, ...
    frames: int | None  # frame count, where the container says
    rotation: int  # degrees the picture is turned counter-clockwise for display (0, 90, 180, -90)


@dataclass
class OpenVideo:
    """A container and its video stream, checked against the limits; times are in seconds from `origin`."""

    container: InputContainer
    stream: VideoStream
    time_base: Fraction
    origin: Fraction  # the stream's start: a player's 0:00
    duration: float | None
    fps: Fraction | None
    codec: str
    limits: VideoLimits
    started: float  # time.monotonic() when opening began: the wall-clock budget counts from here

    def seconds(self, pts: int) -> Fraction:
        return pts * self.time_base - self.origin

    def check_budget(self) -> None:
        spent = time.monotonic() - self.started
        if spent > self.limits.max_wall_seconds:
            raise VideoOverLimit(
                f"decoding took over {self.limits.max_wall_seconds:g} s, the limit for one video", "max_wall_seconds"
            )

    def check_duration(self, seconds: float) -> None:
        if seconds > self.limits.max_duration_seconds:
            raise VideoOverLimit(_too_long(seconds, self.limits), "max_duration_seconds")


@contextmanager
def open_video(path: str | os.PathLike[str], limits: VideoLimits) -> Iterator[OpenVideo]:
    """The video's container, open, with its video stream checked; closed on leaving. Raises VideoDecodeError
    (VideoOverLimit for a limit) for what cannot be indexed, OSError (FileNotFoundError, ...) for what cannot be
    read at all."""
    started = time.monotonic()
    if os.stat(path).st_size == 0:
        raise VideoDecodeError("empty file (0 bytes)")
    try:
        container = av.open(os.fspath(path), metadata_errors="replace")
    except OSError:
        raise  # missing, unreadable, a folder: av's errors for these are OSErrors too
    except av.error.InvalidDataError:
        raise VideoDecodeError(NOT_A_VIDEO) from None
    except av.error.FFmpegError as exc:
        raise VideoDecodeError(f"unreadable video: {reason(exc)}") from None
    try:
        yield _checked(container, limits, started)
    finally:
        container.close()


def _checked(container: InputContainer, limits: VideoLimits, started: float) -> OpenVideo:
    if container.format.name in _PICTURE_FORMATS or container.format.name.endswith("_pipe"):
        raise VideoDecodeError("a picture, not a video")
    streams = [s for s in container.streams.video if not s.disposition & Disposition.attached_pic]
    if not streams:
        audio = "an audio-only file: " if container.streams.audio else ""
        raise VideoDecodeError(f"{audio}no video stream")
    stream = streams[0]
    context = stream.codec_context
    if context is None:
        raise VideoDecodeError("its video is in a codec xmodal cannot decode")
    codec = context.name
    width, height = context.width, context.height
    if width * height > limits.max_pixels:
        raise VideoOverLimit(_too_many_pixels(width, height, limits), "max_pixels")
    # FFmpeg's decoder holds every frame to the same limit before allocating it: a stream that grows past its
    # header, or whose header says nothing, is refused by the decoder (an FFmpegError) rather than decoded.
    context.options = {**context.options, "max_pixels": str(min(limits.max_pixels, 2**31 - 1))}
    time_base = fraction(stream.time_base) or Fraction(1, 1_000_000)
    if stream.start_time is not None:
        origin = stream.start_time * time_base
    else:
        origin = Fraction(container.start_time or 0, 1_000_000)
    duration: float | None = None
    if stream.duration:
        duration = float(stream.duration * time_base)
    elif container.duration:
        duration = container.duration / 1_000_000
    video = OpenVideo(
        container, stream, time_base, origin, duration, fraction(stream.average_rate), codec, limits, started
    )
    if duration is not None:
        video.check_duration(duration)
    return video


def probe(path: str | os.PathLike[str], limits: VideoLimits) -> VideoInfo:
    """What the video is, from its header and its first frame (decoded to learn its rotation, and that it decodes
    at all). Raises VideoDecodeError with a reason a person understands for every video that cannot be indexed."""
    with open_video(path, limits) as video:
        first = first_frame(video)
        stream = video.stream
        width, height = display_size(first.width, first.height, fraction(stream.sample_aspect_ratio))
        turns = quarter_turns(first.rotation)
        rotation = (0, 90, 180, -90)[turns]
        if turns % 2:
            width, height = height, width
        return VideoInfo(
            duration=video.duration,
            fps=float(video.fps) if video.fps else None,
            width=width,
            height=height,
            codec=video.codec,
            frames=stream.frames or None,
            rotation=rotation,
        )


def first_frame(video: OpenVideo) -> VideoFrame:
    """The video's first picture; VideoDecodeError where there is none."""
    try:
        for packet in video.container.demux(video.stream):
            video.check_budget()
            for frame in video.stream.decode(packet):
                check_frame_pixels(frame, video.limits)
                return frame
    except av.error.FFmpegError as exc:
        raise VideoDecodeError(f"cannot decode its video ({video.codec}): {reason(exc)}") from None
    raise VideoDecodeError(f"no picture could be decoded from its video ({video.codec}): damaged or truncated")


def check_frame_pixels(frame: VideoFrame, limits: VideoLimits) -> None:
    """Every frame is checked too: a stream may change its resolution after the header."""
    if frame.width * frame.height > limits.max_pixels:
        raise VideoOverLimit(_too_many_pixels(frame.width, frame.height, limits), "max_pixels")


def display_size(width: int, height: int, sample_aspect: Fraction | None) -> tuple[int, int]:
    """Coded size → displayed size, before rotation: non-square pixels (DV, anamorphic DVDs) are widened."""
    if sample_aspect and sample_aspect != 1:
        return max(1, round(width * sample_aspect)), height
    return width, height


def upright_picture(frame: VideoFrame, sample_aspect: Fraction | None, max_side: int) -> Image.Image:
    """The frame as displayed, RGB, its longest side at most `max_side` (never enlarged): scaled by swscale as it
    converts to RGB (a 4K frame never exists as 4K RGB), with square pixels, then turned upright."""
    width, height = display_size(frame.width, frame.height, sample_aspect)
    scale = min(1.0, max_side / max(width, height))
    image = frame.to_image(width=max(1, round(width * scale)), height=max(1, round(height * scale)))
    turn = _TURNS[quarter_turns(frame.rotation)]
    return image.transpose(turn) if turn is not None else image


_TURNS = (None, Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270)


def quarter_turns(rotation: int) -> int:
    """FFmpeg's display rotation (degrees counter-clockwise, -180..180) as quarter turns, 0..3."""
    return round(rotation / 90) % 4


def fraction(value: object) -> Fraction | None:
    """PyAV's rationals (Fraction, or AVRational from PyAV 19) as a Fraction; None for an unset one."""
    if not value:
        return None
    numerator, denominator = getattr(value, "numerator", 0), getattr(value, "denominator", 0)
    return Fraction(numerator, denominator) if numerator and denominator else None


def reason(exc: av.error.FFmpegError) -> str:
    return str(exc.strerror or exc)


def _too_many_pixels(width: int, height: int, limits: VideoLimits) -> str:
    return f"video is {width}×{height} ({width * height:,} pixels a frame), over the limit of {limits.max_pixels:,}"


def _too_long(seconds: float, limits: VideoLimits) -> str:
    return f"video is {seconds:,.0f} s long, over the limit of {limits.max_duration_seconds:,.0f} s"
