"""A video's frames, ready for the model, sampled ahead of the encoder: while the run encodes one batch, a
thread takes the next frames from the video child process and prepares them (resize, normalise), up to `depth`
frames ahead; the next video's thread takes over the child as soon as this one's sampling ends. Whatever a
thread meets (a decode error, a crashed child) reaches the run with the frame after which it happened; the
thread never dies silently."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from PIL import Image

from indexer.video.isolated import IsolatedSampler
from indexer.video.probe import VideoInfo
from indexer.video.sampling import SampledFrame


@dataclass(frozen=True)
class PreparedFrame:
    time: float
    cut: bool
    tensor: torch.Tensor


_END = object()
_PUT_WAIT = 0.2  # seconds between checks of whether the reader went away


class FrameStream:
    """One video's VideoInfo, then its frames as tensors, sampled by a thread that starts at once. Chained `after`
    another stream, it starts sampling as soon as that one's sampling ends: while the run still encodes the last
    frames of one video, the next is already being decoded (one child, one video at a time). Iterating raises what
    the sampler raises, once the frames before it have been taken. `close` stops it, child and all, if it has not
    finished."""

    def __init__(
        self,
        sampler: IsolatedSampler,
        path: str,
        prepare: Callable[[Image.Image], torch.Tensor],
        depth: int,
        after: FrameStream | None = None,
    ) -> None:
        self.path = path
        self.sampler = sampler
        self.released = threading.Event()  # this stream is done with the sampler
        self._ahead: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
        self._left = threading.Event()
        self._ended = False
        self._thread = threading.Thread(target=self._work, args=(prepare, after), name="video-frames", daemon=True)
        self._thread.start()

    def __iter__(self) -> Iterator[VideoInfo | PreparedFrame]:
        try:
            while True:
                item = self._ahead.get()
                if item is _END or isinstance(item, BaseException):
                    self._ended = True
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, VideoInfo | PreparedFrame)
                yield item
        finally:
            self.close()

    def close(self) -> None:
        self._left.set()
        if not self._ended and not self.released.is_set():
            self.sampler.abort()  # the thread may wait on the child: it stops waiting when the child is gone
        self._thread.join()

    def _put(self, item: object) -> bool:
        while not self._left.is_set():
            try:
                self._ahead.put(item, timeout=_PUT_WAIT)
                return True
            except queue.Full:
                continue
        return False

    def _work(self, prepare: Callable[[Image.Image], torch.Tensor], after: FrameStream | None) -> None:
        try:
            while after is not None and not after.released.wait(_PUT_WAIT):
                if self._left.is_set():
                    return
            if self._left.is_set():
                return
            stream = self.sampler.sample(self.path)
            try:
                for sample in stream:
                    item = sample if isinstance(sample, VideoInfo) else _prepared(sample, prepare)
                    if not self._put(item):
                        return
            finally:
                stream.close()  # left early: the sampler stops its child
                self.released.set()
            self._put(_END)
        except BaseException as exc:  # handed to the reader, which raises it in the run's thread
            self._put(exc)
        finally:
            self.released.set()


def _prepared(sample: SampledFrame, prepare: Callable[[Image.Image], torch.Tensor]) -> PreparedFrame:
    return PreparedFrame(sample.time, sample.cut, prepare(sample.image))
