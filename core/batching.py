"""Dynamic batching: callers that arrive while the model is busy share its next call.

A model encodes a batch of queries for little more than the price of one, but a server's request
threads each ask for one. `Batcher.submit` is called from those threads and blocks until its item's
result is ready. There is no background thread (leader/follower): the caller that finds the batcher
idle runs the batch itself at once, so a lone caller waits for nothing but its own `run`. Callers that
arrive meanwhile queue; when a batch ends, its leader hands the lead to the oldest queued caller,
which runs up to `max_batch` queued items together.

`max_wait` is how long that new leader may hold back for more company: until the oldest queued item
has waited `max_wait` since it arrived, or the batch is full. An item queued behind a long batch has
already waited that long, so it runs as soon as the model is free; `max_wait=0` never lingers.

`run` must not call `submit` on its own batcher (the leader would wait for itself).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class BatchError(RuntimeError):
    """`run` broke its contract (not one result per item), or its batch was interrupted."""


@dataclass(frozen=True)
class BatchStats:
    """Counters since the batcher was made, for a metrics endpoint; items / batches is the mean batch."""

    batches: int = 0  # calls of run
    items: int = 0  # submits answered, errors included
    largest: int = 0  # most items in one batch
    failed: int = 0  # batches whose callers all got an error
    deduplicated: int = 0  # items answered by an identical item's result in the same batch
    queued: int = 0  # items waiting now for a batch to start


class _Call(Generic[T, R]):
    """One waiting submit: its item, and where its answer (or its turn to lead) is left."""

    __slots__ = ("arrived", "done", "error", "item", "leads", "result", "wake")
    result: R

    def __init__(self, item: T, wake: threading.Condition) -> None:
        self.item = item
        self.wake = wake  # on the batcher's lock: one waiter, this call's thread
        self.arrived = time.monotonic()
        self.leads = False
        self.done = False
        self.error: BaseException | None = None

    def outcome(self) -> R:
        if self.error is not None:
            raise self.error
        return self.result


class Batcher(Generic[T, R]):
    """Runs `run` on lists of submitted items, one result per item in order; safe from any thread.

    With `dedupe`, identical items in one batch are run once (items must then be hashable).
    """

    def __init__(
        self,
        run: Callable[[list[T]], Sequence[R]],
        *,
        max_batch: int = 32,
        max_wait: float = 0.0,
        dedupe: bool = False,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, not {max_batch}")
        if max_wait < 0:
            raise ValueError(f"max_wait must not be negative, not {max_wait}")
        self._run = run
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.dedupe = dedupe
        self._lock = threading.Lock()
        self._queue: deque[_Call[T, R]] = deque()
        self._led = False  # a caller is running a batch, or gathering the next one
        self._stats = BatchStats()

    def submit(self, item: T) -> R:
        """The result of `run` for `item`; raises what `run` raised for the batch it was in."""
        with self._lock:
            call: _Call[T, R] = _Call(item, threading.Condition(self._lock))
            self._queue.append(call)
            batch: list[_Call[T, R]] | None
            if not self._led:
                self._led = call.leads = True  # idle: lead now, without lingering
                batch = self._take()
            else:
                try:
                    batch = self._wait_turn(call)
                except BaseException:  # interrupted while waiting: leave no lead or item behind
                    self._abandon(call)
                    raise
                if batch is None:
                    return call.outcome()
        self._lead(batch)
        return call.outcome()

    def stats(self) -> BatchStats:
        with self._lock:
            return replace(self._stats, queued=len(self._queue))

    def _wait_turn(self, call: _Call[T, R]) -> list[_Call[T, R]] | None:
        """Wait (lock released) for this call's answer, or for the lead: then the batch it must run."""
        head = self._queue[0]
        if head.leads and len(self._queue) >= self.max_batch:
            head.wake.notify()  # a leader lingering for company starts as soon as its batch is full
        while not (call.done or call.leads):
            call.wake.wait()
        return None if call.done else self._gather(call)

    def _abandon(self, call: _Call[T, R]) -> None:
        if call in self._queue:
            self._queue.remove(call)
        if call.leads and not call.done:
            self._pass_lead()

    def _pass_lead(self) -> None:
        """The oldest queued caller runs the next batch; with none, the next caller leads at once."""
        if self._queue:
            self._queue[0].leads = True
            self._queue[0].wake.notify()
        else:
            self._led = False

    def _gather(self, leader: _Call[T, R]) -> list[_Call[T, R]]:
        """Linger (lock released) until the oldest queued item has waited max_wait or the batch is full."""
        deadline = self._queue[0].arrived + self.max_wait
        while len(self._queue) < self.max_batch:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            leader.wake.wait(remaining)
        return self._take()

    def _take(self) -> list[_Call[T, R]]:
        return [self._queue.popleft() for _ in range(min(len(self._queue), self.max_batch))]

    def _lead(self, batch: list[_Call[T, R]]) -> None:
        """Run one batch, answer its callers and pass the lead on, whatever `run` does."""
        items = [call.item for call in batch]
        results: Sequence[R] = ()
        error: BaseException | None = BatchError(f"the batch of {len(items)} was interrupted before run returned")
        deduplicated = 0
        try:
            results, deduplicated = self._run_items(items)
            error = None
        except Exception as exc:
            error = exc
        finally:  # also on KeyboardInterrupt: no follower is left waiting, the next leader is woken
            self._finish(batch, results, error, deduplicated)

    def _run_items(self, items: list[T]) -> tuple[Sequence[R], int]:
        """One result per item, and how many items were answered by an identical one's result."""
        distinct = list(dict.fromkeys(items)) if self.dedupe else items
        results = self._run(distinct)
        if len(results) != len(distinct):
            raise BatchError(f"run returned {len(results)} results for a batch of {len(distinct)} items")
        if distinct is items:
            return results, 0
        position = {item: i for i, item in enumerate(distinct)}
        return [results[position[item]] for item in items], len(items) - len(distinct)

    def _finish(
        self, batch: list[_Call[T, R]], results: Sequence[R], error: BaseException | None, deduplicated: int
    ) -> None:
        with self._lock:
            for i, call in enumerate(batch):
                if error is None:
                    call.result = results[i]
                call.error = error
                call.done = True
                call.wake.notify()
            self._pass_lead()
            self._stats = replace(
                self._stats,
                batches=self._stats.batches + 1,
                items=self._stats.items + len(batch),
                largest=max(self._stats.largest, len(batch)),
                failed=self._stats.failed + (error is not None),
                deduplicated=self._stats.deduplicated + deduplicated,
            )
