"""The batcher with real threads. Batches start and finish when the test says (a gated `run`), never
after a sleep, so what ends up batched together does not depend on how busy the machine is. The only
timeouts are guards that turn a hang (a lost wakeup) into a failure."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from core import batching
from core.batching import Batcher, BatchError, BatchStats

HANG = 60.0  # seconds: far beyond any wait these tests expect, only so that a deadlock fails


class GatedRun:
    """A `run` that announces each batch as it starts and returns only when the test allows it."""

    def __init__(self, fail_on: object = None, gated: bool = True) -> None:
        self.batches: list[list[Any]] = []
        self.threads: list[int] = []
        self.fail_on = fail_on
        self.gated = gated
        self.started: queue.Queue[list[Any]] = queue.Queue()
        self.permits = threading.Semaphore(0)

    def __call__(self, items: list[Any]) -> list[str]:
        self.batches.append(list(items))
        self.threads.append(threading.get_ident())
        self.started.put(list(items))
        if self.gated and not self.permits.acquire(timeout=HANG):
            raise AssertionError("the test never let this batch finish")
        if self.fail_on is not None and self.fail_on in items:
            raise ValueError(f"cannot encode {self.fail_on!r}")
        return [f"r{item}" for item in items]

    def next_batch(self) -> list[Any]:
        return self.started.get(timeout=HANG)

    def allow(self, batches: int = 1) -> None:
        self.permits.release(batches)


class Caller(threading.Thread):
    """One client thread: submits one item and keeps what came back."""

    def __init__(self, batcher: Batcher[Any, Any], item: Any, name: str | None = None) -> None:
        super().__init__(name=name, daemon=True)
        self.batcher = batcher
        self.item = item
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.batcher.submit(self.item)
        except BaseException as exc:
            self.error = exc

    def finished(self) -> Caller:
        self.join(HANG)
        assert not self.is_alive(), f"submit({self.item!r}) never returned"
        return self

    def answer(self) -> Any:
        self.finished()
        assert self.error is None, repr(self.error)
        return self.result


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll (a test may; the batcher never does) until `condition`; fail after HANG."""
    deadline = time.monotonic() + HANG
    while not condition():
        assert time.monotonic() < deadline, f"never saw {what}"
        time.sleep(0.001)


def start(batcher: Batcher[Any, Any], item: Any, name: str | None = None) -> Caller:
    """A caller that has joined the queue (so the order of arrivals is the test's); only while the
    encoder is busy, so that the queue cannot drain before the test sees it grow."""
    before = batcher.stats().queued
    caller = Caller(batcher, item, name)
    caller.start()
    wait_until(lambda: batcher.stats().queued > before, f"{item!r} queued")
    return caller


def start_leader(batcher: Batcher[Any, Any], run: GatedRun, item: Any) -> Caller:
    """A caller whose batch (of itself alone) is now inside `run`: the encoder is busy."""
    caller = Caller(batcher, item)
    caller.start()
    assert run.next_batch() == [item]
    return caller


def test_eight_callers_arriving_while_busy_share_one_call_and_each_gets_its_own_result() -> None:
    run = GatedRun()
    batcher: Batcher[int, str] = Batcher(run, max_batch=32, max_wait=0.01)
    busy = start_leader(batcher, run, 100)
    callers = [start(batcher, i) for i in range(8)]
    run.allow(2)
    assert busy.answer() == "r100"
    assert [caller.answer() for caller in callers] == [f"r{i}" for i in range(8)]
    assert run.batches == [[100], list(range(8))]
    assert batcher.stats() == BatchStats(batches=2, items=9, largest=8, failed=0, deduplicated=0, queued=0)


def test_eight_threads_released_together_use_at_most_two_calls() -> None:
    """No caller is the test's: the first to arrive leads alone, the other seven share the next call."""
    run = GatedRun()
    batcher: Batcher[int, str] = Batcher(run, max_batch=32, max_wait=0.01)
    barrier = threading.Barrier(8)

    class Racer(Caller):
        def run(self) -> None:
            barrier.wait(HANG)
            super().run()

    callers = [Racer(batcher, i) for i in range(8)]
    for caller in callers:
        caller.start()
    first = run.next_batch()
    wait_until(lambda: batcher.stats().queued == 7, "the other seven queued")
    run.allow(2)
    assert [caller.answer() for caller in callers] == [f"r{i}" for i in range(8)]
    assert len(run.batches) == 2
    assert sorted(first + run.batches[1]) == list(range(8))


def test_a_lone_caller_runs_at_once_in_its_own_thread() -> None:
    """An hour of max_wait: were a lone call held back for company, these submits would not return."""
    run = GatedRun(gated=False)
    batcher: Batcher[str, str] = Batcher(run, max_batch=32, max_wait=3600)
    callers = [Caller(batcher, word) for word in ("a", "b", "c")]
    for caller in callers:
        caller.start()
        assert caller.answer() == f"r{caller.item}"
    assert run.batches == [["a"], ["b"], ["c"]]
    assert run.threads == [caller.ident for caller in callers]  # no background thread: each caller ran its own


def test_a_full_batch_starts_without_waiting_out_max_wait() -> None:
    """The caller queued behind a busy batch lingers for company, and goes as soon as the batch is full."""
    run = GatedRun()
    batcher: Batcher[int, str] = Batcher(run, max_batch=2, max_wait=3600)
    busy = start_leader(batcher, run, 0)
    lingering = start(batcher, 1)
    run.allow()
    assert busy.answer() == "r0"
    assert batcher.stats().queued == 1  # the lead has passed to 1, which waits for a second item
    late = Caller(batcher, 2)
    late.start()
    assert run.next_batch() == [1, 2]
    run.allow()
    assert (lingering.answer(), late.answer()) == ("r1", "r2")


def test_an_error_reaches_exactly_the_callers_of_its_batch_and_the_next_batch_works() -> None:
    run = GatedRun(fail_on="bad")
    batcher: Batcher[str, str] = Batcher(run, max_batch=32, max_wait=0)
    before = start_leader(batcher, run, "ok-0")
    bad, neighbour = start(batcher, "bad"), start(batcher, "ok-1")
    run.allow()
    assert run.next_batch() == ["bad", "ok-1"]
    after = start(batcher, "ok-2")
    run.allow()
    assert run.next_batch() == ["ok-2"]
    run.allow()

    assert before.answer() == "rok-0"
    assert after.answer() == "rok-2"
    errors = [bad.finished().error, neighbour.finished().error]
    assert all(isinstance(error, ValueError) for error in errors)
    assert errors[0] is errors[1]  # the very exception run raised, so callers can catch its type
    run.allow()  # the next batch may finish at once
    assert batcher.submit("ok-3") == "rok-3"
    stats = batcher.stats()
    assert (stats.batches, stats.items, stats.failed) == (4, 5, 1)


def test_max_batch_is_respected_in_arrival_order() -> None:
    run = GatedRun()
    batcher: Batcher[int, str] = Batcher(run, max_batch=3, max_wait=0.01)
    callers = [start_leader(batcher, run, 0)] + [start(batcher, i) for i in range(1, 8)]
    run.allow(4)
    assert [caller.answer() for caller in callers] == [f"r{i}" for i in range(8)]
    assert run.batches == [[0], [1, 2, 3], [4, 5, 6], [7]]
    assert batcher.stats().largest == 3


@pytest.mark.parametrize("returned", [0, 1, 3])
def test_a_wrong_number_of_results_is_an_error_for_every_caller_of_the_batch(returned: int) -> None:
    gate = threading.Event()
    started = threading.Event()
    calls: list[list[str]] = []

    def run(items: list[str]) -> list[str]:
        calls.append(items)
        started.set()
        gate.wait(HANG)
        return ["x"] * (returned if len(calls) == 2 else len(items))

    batcher: Batcher[str, str] = Batcher(run, max_batch=32, max_wait=0)
    first = Caller(batcher, "a")
    first.start()
    assert started.wait(HANG)
    pair = [start(batcher, "b"), start(batcher, "c")]
    gate.set()
    assert first.answer() == "x"
    for caller in pair:
        error = caller.finished().error
        assert isinstance(error, BatchError)
        assert f"returned {returned} results for a batch of 2 items" in str(error)
    assert batcher.submit("d") == "x"  # and the batcher goes on
    assert batcher.stats().failed == 1


def test_identical_items_in_one_batch_are_run_once_when_asked() -> None:
    run = GatedRun()
    batcher: Batcher[str, str] = Batcher(run, max_batch=32, max_wait=0, dedupe=True)
    busy = start_leader(batcher, run, "z")
    callers = [start(batcher, word) for word in ("a", "b", "a", "a")]
    run.allow(2)
    assert busy.answer() == "rz"
    assert [caller.answer() for caller in callers] == ["ra", "rb", "ra", "ra"]
    assert run.batches == [["z"], ["a", "b"]]
    assert batcher.stats().deduplicated == 2


class Interrupted(BaseException):
    """Stands in for what can end a wait from outside (KeyboardInterrupt in the main thread)."""


def interrupt_wait(monkeypatch: pytest.MonkeyPatch, thread: str, nth: int) -> None:
    """The `nth` wait of the thread named `thread` raises Interrupted; every other wait is a real one."""
    waits = {"count": 0}

    class Interrupting(threading.Condition):
        def wait(self, timeout: float | None = None) -> bool:
            if threading.current_thread().name == thread:
                waits["count"] += 1
                if waits["count"] == nth:
                    raise Interrupted
            return super().wait(timeout)

    monkeypatch.setattr(batching, "threading", SimpleNamespace(Lock=threading.Lock, Condition=Interrupting))


@pytest.mark.parametrize("nth", [1, 2], ids=["while-queued", "while-leading"])
def test_a_caller_interrupted_while_waiting_leaves_no_item_or_lead_behind(
    monkeypatch: pytest.MonkeyPatch, nth: int
) -> None:
    """Its first wait is as a follower; its second, once it leads, is while it lingers for company."""
    interrupt_wait(monkeypatch, "interrupted", nth)
    run = GatedRun()
    batcher: Batcher[int, str] = Batcher(run, max_batch=8, max_wait=3600)
    busy = start_leader(batcher, run, 0)
    gone = Caller(batcher, 1, name="interrupted")
    gone.start()
    if nth == 1:
        assert isinstance(gone.finished().error, Interrupted)
    else:
        wait_until(lambda: batcher.stats().queued == 1, "1 queued")
    run.allow()
    assert busy.answer() == "r0"
    assert isinstance(gone.finished().error, Interrupted)
    assert batcher.stats().queued == 0
    run.allow()
    assert batcher.submit(2) == "r2"  # would hang were the lead still held by the interrupted caller
    assert run.batches == [[0], [2]]


def test_many_threads_each_get_their_own_results() -> None:
    """Free-running: whatever the batches, every submit returns its own answer and the counts add up."""
    sizes: list[int] = []

    def run(items: list[tuple[int, int]]) -> list[tuple[int, int]]:
        sizes.append(len(items))
        return [(thread, n * 2) for thread, n in items]

    batcher: Batcher[tuple[int, int], tuple[int, int]] = Batcher(run, max_batch=5, max_wait=0.0005)
    wrong: list[str] = []

    def client(thread: int) -> None:
        for n in range(200):
            if batcher.submit((thread, n)) != (thread, n * 2):
                wrong.append(f"{thread}/{n}")

    threads = [threading.Thread(target=client, args=(t,), daemon=True) for t in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(HANG)
        assert not thread.is_alive(), "a submit never returned"
    assert wrong == []
    stats = batcher.stats()
    assert (stats.items, stats.batches, stats.queued) == (2400, len(sizes), 0)
    assert sum(sizes) == 2400 and max(sizes) == stats.largest <= 5


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        Batcher(list, max_batch=0)
    with pytest.raises(ValueError, match="max_wait"):
        Batcher(list, max_wait=-1)
