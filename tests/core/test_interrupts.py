"""Interrupts wait for a write: a signal inside the block is raised as it ends, and the handlers come back."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from core.interrupts import interrupts_held


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_inside_the_block_is_raised_when_it_ends(number: signal.Signals) -> None:
    before = signal.getsignal(number)
    finished = []
    with pytest.raises(KeyboardInterrupt), interrupts_held():
        os.kill(os.getpid(), number)
        finished.append(True)  # the write went on to its end
    assert finished == [True]
    assert signal.getsignal(number) == before


def test_without_a_signal_nothing_is_raised_and_an_error_inside_stays_that_error() -> None:
    # The handler the process had before (Python's own, or SIG_IGN under nohup or a background shell job).
    before = signal.getsignal(signal.SIGINT)
    with interrupts_held():
        pass
    with pytest.raises(ValueError), interrupts_held():
        raise ValueError("the write failed")
    assert signal.getsignal(signal.SIGINT) == before


def test_outside_the_main_thread_the_block_just_runs() -> None:
    ran: list[bool] = []

    def work() -> None:
        with interrupts_held():
            ran.append(True)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert ran == [True]
