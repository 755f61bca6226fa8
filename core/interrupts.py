"""Interrupts held back while the library is written: Ctrl-C and SIGTERM wait for the transaction in hand.

Both arrive as a KeyboardInterrupt raised wherever the main thread happens to be. Inside a catalog
transaction that can be between SQLAlchemy's statement and its rollback: the connection is thrown away still
holding SQLite's write lock, and the run's last flush then finds the database locked (seen under load: exit 1
instead of 130). Held back, the interrupt is raised as the write ends, where the run handles it as always.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

HELD = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM arriving inside the block are raised as KeyboardInterrupt when it ends (in the main
    thread; other threads cannot be interrupted by signals, and the block runs as it is)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def hold(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    previous: dict[signal.Signals, Any] = {number: signal.getsignal(number) for number in HELD}
    for number in HELD:
        signal.signal(number, hold)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
    if received:
        raise KeyboardInterrupt
