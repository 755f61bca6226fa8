"""A video's frames, ready for the model, sampled ahead of the encoder: while the run encodes one batch, a
thread takes the next frames from the video child process and prepares them (resize, normalise), up to `depth`
frames ahead. Whatever the thread meets (a decode error, a crashed child) reaches the run with the frame
after which it happened; the thread never dies silently."""

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


def prepared_frames(
    sampler: IsolatedSampler, path: str, prepare: Callable[[Image.Image], torch.Tensor], depth: int
) -> Iterator[VideoInfo | PreparedFrame]:
    """The video's VideoInfo, then its frames as tensors. Raises what the sampler raises, when the frames before
    it have been taken. Left early (an error, Ctrl-C), the thread stops and the child is stopped with it."""
    ahead: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
    left = threading.Event()

    def put(item: object) -> bool:
        while not left.is_set():
            try:
                ahead.put(item, timeout=_PUT_WAIT)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        stream = sampler.sample(path)
        try:
            for sample in stream:
                item = sample if isinstance(sample, VideoInfo) else _prepared(sample, prepare)
                if not put(item):
                    return
            put(_END)
        except BaseException as exc:  # handed to the reader, which raises it in the run's thread
            put(exc)
        finally:
            stream.close()  # left early: the sampler stops its child

    thread = threading.Thread(target=work, name="video-frames", daemon=True)
    thread.start()
    ended = False
    try:
        while True:
            item = ahead.get()
            if item is _END or isinstance(item, BaseException):
                ended = True
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, VideoInfo | PreparedFrame)
            yield item
    finally:
        left.set()
        if not ended:
            sampler.abort()  # the thread may wait on the child: it stops waiting when the child is gone
        thread.join()


def _prepared(sample: SampledFrame, prepare: Callable[[Image.Image], torch.Tensor]) -> PreparedFrame:
    return PreparedFrame(sample.time, sample.cut, prepare(sample.image))
