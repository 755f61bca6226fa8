"""Sampling videos in a child process, so that FFmpeg can crash or hang without taking the run along.

FFmpeg decodes files xmodal does not control. A decoder that crashes (a segfault in native code) would end the
whole indexing process, and one that hangs inside a single FFmpeg call cannot be interrupted from Python. So the
frames are sampled in a child process that lives for the whole run and takes one video at a time; the frames
come back through a pipe as they are sampled. The pipe holds about one frame, so a child runs only a frame ahead
of the run that reads it: memory stays bounded whatever the video's length. A child that dies, or that says
nothing for `stall_seconds` while the run waits for it, costs that video only: it is killed, the video is
recorded as failed with the reason, and the next video starts a fresh child. The child's address space is
capped (`memory_bytes`), so a video that would take all the machine's memory fails instead.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Generator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from PIL import Image

from core.child_process import Child, ChildFailed, limit_memory
from indexer.video.probe import VideoDecodeError, VideoInfo, VideoLimits, VideoOverLimit, VideoTruncated, probe
from indexer.video.sampling import FRAME_SIDE, SampledFrame, sample_frames

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SamplingPlan:
    """How the child samples: passed once, when it starts."""

    limits: VideoLimits
    every_seconds: float
    scene_threshold: float
    max_side: int = FRAME_SIDE
    memory_bytes: int | None = None  # the child's address-space cap (RLIMIT_AS); None: no cap


class DecoderCrashed(VideoDecodeError):
    """The child died or stopped answering while it sampled this video."""


class IsolatedSampler:
    """One child process at a time, started when the first video asks for it; `close` ends it."""

    def __init__(self, plan: SamplingPlan, stall_seconds: float) -> None:
        self.plan = plan
        self.stall_seconds = stall_seconds
        self._child: Child | None = None
        self.started = 0  # children started: a test's way to see that a crash cost a restart

    def sample(self, path: str) -> Generator[VideoInfo | SampledFrame, None, None]:
        """The video's VideoInfo, then its sampled frames. Raises what sample_frames raises (VideoDecodeError and
        its kinds, FileNotFoundError, OSError), and DecoderCrashed when the child dies or stalls. Left before its
        end, the stream's child is stopped (it would go on sampling a video nobody reads)."""
        child = self._running_child()
        child.conn.send(path)
        finished = False
        try:
            while True:
                message = self._receive(child)
                kind = message[0]
                if kind == "info":
                    yield message[1]
                elif kind == "frame":
                    _, time, cut, size, pixels = message
                    yield SampledFrame(time, Image.frombytes("RGB", size, pixels), cut)
                elif kind == "end":
                    finished = True
                    return
                else:
                    finished = True
                    raise _error(message)
        finally:
            if not finished:
                self._stop()

    def abort(self) -> None:
        """Kill the child now, from any thread: the stream reading it ends with DecoderCrashed."""
        child = self._child
        if child is not None:
            child.kill()

    def close(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            child.close()

    def __enter__(self) -> IsolatedSampler:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _running_child(self) -> Child:
        if self._child is not None and self._child.alive:
            return self._child
        self._stop()
        try:
            self._child = Child("indexer.video.isolated", self.plan)
        except ChildFailed as exc:
            raise DecoderCrashed(str(exc).replace("indexer.video.isolated", "video decoder")) from None
        self.started += 1
        return self._child

    def _receive(self, child: Child) -> tuple[Any, ...]:
        silent = f"the decoder stalled: nothing for {self.stall_seconds:g} s (XMODAL_VIDEO__STALL_SECONDS)"
        try:
            message: tuple[Any, ...] = child.receive(self.stall_seconds, silent)
        except ChildFailed as exc:
            self._child = None
            reason = str(exc)
            if reason.startswith("it crashed"):
                reason = f"the decoder crashed on this video{reason.removeprefix('it crashed')}"
            raise DecoderCrashed(reason) from None
        return message

    def _stop(self) -> None:
        """End the child at once; the next video starts another."""
        child, self._child = self._child, None
        if child is not None:
            child.stop()


def _error(message: tuple[Any, ...]) -> Exception:
    kind = message[0]
    if kind == "truncated":
        return VideoTruncated(message[1], message[2], message[3])
    if kind == "over":
        return VideoOverLimit(message[1], message[2])
    if kind == "gone":
        return FileNotFoundError(message[1])
    if kind == "oserror":
        return OSError(message[1])
    return VideoDecodeError(message[1])


def _serve(conn: Connection) -> None:
    """The child: take the plan, then sample each path it is sent until it is sent None or the parent goes away."""
    try:
        plan: SamplingPlan = conn.recv()
        limit_memory(plan.memory_bytes)
        conn.send(("ready",))
        while (path := conn.recv()) is not None:
            _sample_one(conn, path, plan)
    except (EOFError, OSError, KeyboardInterrupt):
        pass  # the parent closed the pipe, or the user pressed Ctrl-C: the parent handles it


def _sample_one(conn: Connection, path: str, plan: SamplingPlan) -> None:
    try:
        conn.send(("info", probe(path, plan.limits)))
        for frame in sample_frames(path, plan.limits, plan.every_seconds, plan.scene_threshold, max_side=plan.max_side):
            conn.send(("frame", frame.time, frame.cut, frame.image.size, frame.image.tobytes()))
        conn.send(("end",))
    except VideoTruncated as exc:
        conn.send(("truncated", str(exc), exc.frames, exc.seconds))
    except VideoOverLimit as exc:
        conn.send(("over", str(exc), exc.limit))
    except VideoDecodeError as exc:
        conn.send(("error", str(exc)))
    except FileNotFoundError as exc:
        conn.send(("gone", str(exc)))
    except MemoryError:
        conn.send(("error", "decoding it needs more memory than one video may take (XMODAL_VIDEO__MAX_MEMORY_BYTES)"))
    except OSError as exc:
        conn.send(("oserror", f"cannot read file: {exc.strerror or exc}"))
    except Exception as exc:  # a bug or a hostile file costs one video, never the child
        log.exception("unexpected error sampling %s", path)
        conn.send(("error", f"unexpected error: {type(exc).__name__}: {exc}"))


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    _serve(Connection(int(sys.argv[1])))
