"""Reading pictures' words in a pool of worker processes, each with its own Tesseract, each picture bounded in
time. A worker that crashes or hangs costs the picture it held: it is recorded as failed with the reason, and
the next picture gets a fresh worker."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Literal

from core.child_process import Child, ChildFailed
from indexer.ocr.worker import WorkerPlan

log = logging.getLogger(__name__)
Status = Literal["text", "none", "failed"]
DECODE_GRACE_SECONDS = 30.0  # beyond Tesseract's own time limit: reading and decoding the file


@dataclass(frozen=True)
class Picture:
    """A picture whose words are to be read."""

    id: int
    path: str
    content_hash: str | None


@dataclass(frozen=True)
class WordsRead:
    picture: Picture
    status: Status
    text: str = ""
    reason: str | None = None
    seconds: float = 0.0
    probed_only: bool = False  # the cheap look found no word and the full read was skipped


class OcrPool:
    """`workers` children at most, started as threads first need them; `close` ends them."""

    def __init__(self, plan: WorkerPlan, workers: int) -> None:
        self.plan = plan
        self.workers = workers
        self._local = threading.local()
        self._children: list[Child] = []
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ocr")
        self.started = 0  # children started: a test's way to see that a crash cost a restart

    def read(self, pictures: Iterable[Picture]) -> Iterator[WordsRead]:
        """Each picture's words, in the order they finish; at most two pictures per worker are in hand."""
        waiting: set[Future[WordsRead]] = set()
        for picture in pictures:
            waiting.add(self._executor.submit(self._read_one, picture))
            if len(waiting) >= 2 * self.workers:
                done, waiting = wait(waiting, return_when=FIRST_COMPLETED)
                yield from (future.result() for future in done)
        while waiting:
            done, waiting = wait(waiting, return_when=FIRST_COMPLETED)
            yield from (future.result() for future in done)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            children, self._children = self._children, []
        for child in children:
            child.close()

    def __enter__(self) -> OcrPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _read_one(self, picture: Picture, attempts: int = 2) -> WordsRead:
        """A worker that crashed reading a picture gets one more try with a fresh worker: it may have died before
        the picture reached it (killed while idle, out of memory on the one before)."""
        try:
            child = self._child()
            child.conn.send(picture.path)
            limit = self.plan.read.timeout_seconds + DECODE_GRACE_SECONDS
            message = child.receive(limit, f"it took over {limit:g} s (XMODAL_OCR__TIMEOUT_SECONDS)")
        except (ChildFailed, OSError) as exc:
            self._local.child = None
            if attempts > 1 and not str(exc).startswith("it took over"):
                return self._read_one(picture, attempts - 1)
            return WordsRead(picture, "failed", reason=f"the OCR worker failed on it: {exc}")
        except Exception as exc:  # never lose the run to one picture
            log.exception("OCR of %s failed", picture.path)
            self._local.child = None
            return WordsRead(picture, "failed", reason=f"unexpected error: {type(exc).__name__}: {exc}")
        if message[0] == "failed":
            return WordsRead(picture, "failed", reason=str(message[1]))
        _, text, _words, probed_only, seconds = message
        return WordsRead(picture, "text" if text else "none", text, None, float(seconds), bool(probed_only))

    def _child(self) -> Child:
        child: Child | None = getattr(self._local, "child", None)
        if child is not None and child.alive:
            return child
        child = Child("indexer.ocr.worker", self.plan)
        with self._lock:
            self._children = [known for known in self._children if known.alive]
            self._children.append(child)
            self.started += 1
        self._local.child = child
        return child
