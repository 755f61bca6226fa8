"""Sampling a video: about one small upright picture per interval, each marked where a new shot starts.

The samples lie on a grid: one per interval [k·every, (k+1)·every), the first frame at or after the interval's
start (less than half a frame early counts): a 10 s clip gives samples at 0, 1, ..., 9 s whatever its frame rate.

Decoding is the cost, so only what a sample needs reaches the decoder. Packets are read in decode order and the
ones since the last keyframe are held; when a packet's time reaches the next sample, the held packets the decoder
has not had are decoded (from the keyframe, so every picture has its references). A keyframe that arrives before
anything held was needed drops them undecoded and resets the decoder. Once the frame for a sample is sure to be
among those decoded, the decoder is drained rather than fed further if the keyframes so far say the next one
comes before the next sample (the longest of the last few intervals between them says so): a threaded decoder
hands a frame out only several packets after it got it, and those would be decoded for nothing. Should a later
sample fall in the same run after all, the held packets are decoded again from its keyframe. A video whose
keyframes come more often than its samples (phones record one a second) thus decodes a keyframe and the few
frames after it per sample; one with rarer keyframes decodes almost every frame, as it must. Either way the
samples are the frames decoding everything would have picked (`skip=False` does that; the tests hold the two to
the same pictures), except that after an open-GOP keyframe the frames that lean on the run before it are not
decoded. Seeking would save reading the skipped packets too, but needs an index not every container has, and
reading is cheap beside decoding.

Memory is bounded: the decoder holds a few frames, the held packets are capped at HELD_BYTES (beyond that they
are decoded as they come and not kept for another pass), and a sample is yielded before the next is decoded.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
from av.codec.context import ThreadType
from av.packet import Packet
from av.video.frame import VideoFrame
from PIL import Image

from indexer.video.probe import (
    OpenVideo,
    VideoDecodeError,
    VideoLimits,
    VideoTruncated,
    check_frame_pixels,
    fraction,
    open_video,
    reason,
    upright_picture,
)
from indexer.video.scenes import SCENE_CUT_THRESHOLD, is_cut, thumbnail

FRAME_SIDE = 448  # longest side of a sampled picture: 448×252 for 16:9, so a 224-pixel crop is never upscaled
HELD_BYTES = 64 << 20  # packets held back undecoded, at most
KEYFRAME_GAPS = 8  # how many of the last intervals between keyframes predict the next keyframe
TRUNCATION_SLACK = 1.0  # seconds short of the header's duration that still count as the whole video


@dataclass(frozen=True)
class SampledFrame:
    time: float  # seconds from the video's first frame, from the frame's pts and the stream's time base
    image: Image.Image  # RGB, upright, longest side at most max_side (never enlarged), aspect kept
    cut: bool  # this frame starts a new shot (the first one always does)


def sample_frames(
    path: str | os.PathLike[str],
    limits: VideoLimits,
    every_seconds: float = 1.0,
    scene_threshold: float = SCENE_CUT_THRESHOLD,
    *,
    max_side: int = FRAME_SIDE,
    skip: bool = True,
) -> Iterator[SampledFrame]:
    """The video's sampled frames, streamed: nothing is opened until the first one is asked for.

    Raises VideoDecodeError (VideoOverLimit for a limit, wall-clock time included) for a video that cannot be
    indexed, before or between frames. A video that breaks off after some frames (truncated, damaged) yields them
    and then raises VideoTruncated, which says where and why: those frames are good. `skip=False` decodes every
    frame, the reference that skipping is measured and tested against."""
    if every_seconds <= 0 or max_side < 1:
        raise ValueError("every_seconds and max_side must be positive")
    with open_video(path, limits) as video:
        yield from _Sampler(video, Fraction(every_seconds), scene_threshold, max_side, skip).run()


class _Sampler:
    def __init__(self, video: OpenVideo, step: Fraction, threshold: float, max_side: int, skip: bool) -> None:
        self.video = video
        self.step = step
        self.threshold = threshold
        self.max_side = max_side
        self.skip = skip
        self.frame_seconds = 1 / video.fps if video.fps else Fraction(0)
        self.early = self.frame_seconds * 2 / 5  # a frame this close before a sample time counts as at it
        self.due = Fraction(0)  # the next sample time
        self.held: list[Packet] = []  # the packets since the last keyframe, in decode order (while replayable)
        self.held_bytes = 0
        self.replayable = True  # held starts at a keyframe, so the decoder can be reset and fed it again
        self.fed = 0  # held[:fed] went to the decoder since its last reset
        self.fed_until: Fraction | None = None  # the latest packet time the decoder got since its last reset
        self.read_until: Fraction | None = None  # the latest packet time read
        self.keyframe: Fraction | None = None  # the last keyframe's time
        self.keyframe_gaps: deque[Fraction] = deque(maxlen=KEYFRAME_GAPS)  # between the last keyframes
        self.last_time = Fraction(0)  # of the latest frame out of the decoder
        self.previous: np.ndarray | None = None  # the last sample's thumbnail
        self.yielded = 0
        self.sample_aspect = fraction(video.stream.sample_aspect_ratio)
        self.skipping = False  # the decoder skips non-reference pictures (those before the next sample)

    def run(self) -> Iterator[SampledFrame]:
        video = self.video
        video.stream.codec_context.thread_type = ThreadType.AUTO  # frame and slice threads
        try:
            for packet in video.container.demux(video.stream):
                video.check_budget()
                if packet.size:  # not demux's closing dummy: the decoder is drained below, when needed
                    yield from self._read(packet)
            if self._waiting():
                yield from self._drain()
        except av.error.FFmpegError as exc:
            at = float(self.read_until or 0)
            if not self.yielded:
                raise VideoDecodeError(f"cannot decode its video ({video.codec}): {reason(exc)}") from None
            raise VideoTruncated(f"damaged or truncated at {at:.1f} s: {reason(exc)}", self.yielded, at) from None
        self._check_complete()

    def _read(self, packet: Packet) -> Iterator[SampledFrame]:
        time = self.video.seconds(packet.pts) if packet.pts is not None else None
        if time is not None:
            self.video.check_duration(float(time))
            self.read_until = time if self.read_until is None else max(self.read_until, time)
        if self.skip and packet.is_keyframe:
            yield from self._new_run(time)
        elif self.skip and self._drain_pays(time):
            yield from self._drain()
        self.held.append(packet)
        self.held_bytes += packet.size
        needed = (
            not self.skip
            or self._waiting()
            or time is None  # no timestamp to judge by: decode it
            or time >= self.due - self.early
            or self.held_bytes > HELD_BYTES
        )
        if needed:
            yield from self._feed()

    def _new_run(self, time: Fraction | None) -> Iterator[SampledFrame]:
        """A keyframe: what the decoder still owes is drained if a sample needs it, and the packets held before
        it are dropped, decoded or not."""
        if self._waiting():
            yield from self._drain()
        elif self.fed_until is not None or self.fed:
            self._reset()
        self.held, self.held_bytes, self.fed, self.replayable = [], 0, 0, True
        if time is not None:
            if self.keyframe is not None and time > self.keyframe:
                self.keyframe_gaps.append(time - self.keyframe)
            self.keyframe = time

    def _drain_pays(self, time: Fraction | None) -> bool:
        """Whether to drain the decoder before this packet: the frame for the next sample is sure to be out once
        the decoder has what it got (this packet lies beyond everything it got, so no frame reordered before
        those is still to come), and the next keyframe is expected before the sample after: even the longest of
        the last few runs between keyframes would end by then. A wrong guess costs decoding the run again, from its
        keyframe up to the next sample, once: a run that outlasts the guess is not guessed about again."""
        if not (self._waiting() and self.replayable and time is not None and self.fed_until is not None):
            return False
        if time <= self.fed_until or self.keyframe is None or not self.keyframe_gaps:
            return False
        expected = self.keyframe + max(self.keyframe_gaps)  # past already: this run is longer, guess no more
        return time < expected <= self.due + self.step

    def _feed(self) -> Iterator[SampledFrame]:
        """Decode the held packets the decoder has not had. A packet whose picture lies before the next sample is
        needed only as a reference for later pictures: the decoder is told to skip it if no picture refers to it
        (a non-reference B-frame: half the frames of a long-GOP H.264 video), which never changes the pictures
        sampled, since the next sample time only moves later."""
        for packet in self.held[self.fed :]:
            time = self.video.seconds(packet.pts) if packet.pts is not None else None
            if time is not None:
                self.fed_until = time if self.fed_until is None else max(self.fed_until, time)
            self._skip_unreferenced(self.skip and time is not None and time < self.due - self.early)
            yield from self._emit(self.video.stream.decode(packet))
        self.fed = len(self.held)
        if not self.skip or self.held_bytes > HELD_BYTES:  # no other pass, or too much to keep for one
            self.held, self.held_bytes, self.fed, self.replayable = [], 0, 0, False

    def _skip_unreferenced(self, skip: bool) -> None:
        if skip != self.skipping:
            self.video.stream.codec_context.skip_frame = "NONREF" if skip else "DEFAULT"
            self.skipping = skip

    def _drain(self) -> Iterator[SampledFrame]:
        """Everything the decoder got comes out now; then it starts afresh (from the held keyframe, if needed)."""
        yield from self._emit(self.video.stream.decode(None))
        self._reset()

    def _reset(self) -> None:
        self.video.stream.codec_context.flush_buffers()
        self.fed, self.fed_until = 0, None

    def _waiting(self) -> bool:
        """Whether a packet decoded since the last reset lies at or after the next sample time: its frame (or an
        earlier one that is due) has yet to come out of the decoder."""
        return self.fed_until is not None and self.fed_until >= self.due - self.early

    def _emit(self, frames: list[VideoFrame]) -> Iterator[SampledFrame]:
        for frame in frames:
            self.video.check_budget()
            check_frame_pixels(frame, self.video.limits)
            if frame.pts is not None:
                time = max(self.video.seconds(frame.pts), Fraction(0))
            else:  # no timestamp: the frame after the last one
                time = self.last_time + self.frame_seconds
            self.last_time = time
            if time < self.due - self.early:
                continue
            image = upright_picture(frame, self.sample_aspect, self.max_side)
            small = thumbnail(image)
            cut = is_cut(self.previous, small, self.threshold)
            self.previous = small
            self.due = self.step * (math.floor((time + self.early) / self.step) + 1)
            self.yielded += 1
            yield SampledFrame(float(time), image, cut)

    def _check_complete(self) -> None:
        """A video that ends well before its header says it should was cut short (a copy that stopped, a
        download in progress); one with no picture at all fails."""
        video = self.video
        end = float(self.read_until + self.frame_seconds) if self.read_until is not None else 0.0
        if not self.yielded:
            raise VideoDecodeError(f"no picture could be decoded from its video ({video.codec}): damaged or truncated")
        if video.duration is not None and end < video.duration - TRUNCATION_SLACK:
            raise VideoTruncated(
                f"truncated: its video ends at {end:.1f} s of the {video.duration:.1f} s its header declares",
                self.yielded,
                end,
            )
