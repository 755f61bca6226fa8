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

import contextlib
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Generator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from PIL import Image

from indexer.video.probe import VideoDecodeError, VideoInfo, VideoLimits, VideoOverLimit, VideoTruncated, probe
from indexer.video.sampling import FRAME_SIDE, SampledFrame, sample_frames

log = logging.getLogger(__name__)
STARTUP_SECONDS = 120.0  # for a child to start and import what it needs, apart from the stall timer


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
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self.started = 0  # children started: a test's way to see that a crash cost a restart

    def sample(self, path: str) -> Generator[VideoInfo | SampledFrame, None, None]:
        """The video's VideoInfo, then its sampled frames. Raises what sample_frames raises (VideoDecodeError and
        its kinds, FileNotFoundError, OSError), and DecoderCrashed when the child dies or stalls. Left before its
        end, the stream's child is stopped (it would go on sampling a video nobody reads)."""
        conn = self._connection()
        conn.send(path)
        finished = False
        try:
            while True:
                message = self._receive(conn, path)
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
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.send(None)  # the child's signal to leave
        self._stop(wait=2.0)

    def __enter__(self) -> IsolatedSampler:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _connection(self) -> Connection:
        if self._process is not None and self._process.poll() is None and self._conn is not None:
            return self._conn
        self._stop()
        # A fresh interpreter, not multiprocessing: a fork would copy a parent that holds torch's threads, and
        # multiprocessing's spawn runs the parent's __main__ again (a user's script, a benchmark) in the child.
        mine, theirs = socket.socketpair()
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        env["OMP_NUM_THREADS"] = "1"
        process = subprocess.Popen(
            [sys.executable, "-m", "indexer.video.isolated", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            env=env,
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        conn = Connection(mine.detach())
        conn.send(self.plan)
        self._process, self._conn = process, conn
        self.started += 1
        # Starting an interpreter and importing PyAV takes a second or more on a busy machine: that is not a stall.
        if not conn.poll(STARTUP_SECONDS) or conn.recv() != ("ready",):
            self._stop()
            raise DecoderCrashed(f"the video decoder process did not start within {STARTUP_SECONDS:g} s")
        return conn

    def _receive(self, conn: Connection, path: str) -> tuple[Any, ...]:
        process = self._process
        assert process is not None
        if not conn.poll(self.stall_seconds):
            self._stop()
            raise DecoderCrashed(
                f"the decoder stalled: nothing for {self.stall_seconds:g} s (XMODAL_VIDEO__STALL_SECONDS)"
            )
        try:
            message: tuple[Any, ...] = conn.recv()
        except (EOFError, OSError):
            try:
                code: int | None = process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None
            self._stop()
            how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            raise DecoderCrashed(f"the decoder crashed on this video ({how})") from None
        return message

    def _stop(self, wait: float = 0.0) -> None:
        """End the child (at once unless `wait`); the next video starts another."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()
        if process is None:
            return
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


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
        if plan.memory_bytes is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (plan.memory_bytes, plan.memory_bytes))
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
