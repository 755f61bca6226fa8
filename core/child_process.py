"""Native code xmodal does not control (FFmpeg on a hostile video, Tesseract on a hostile scan) runs in a child
process that can crash, hang or run out of memory without taking the run along.

A child is a fresh interpreter (`python -m MODULE FD`), not multiprocessing: a fork would copy a parent that
holds torch's threads, and multiprocessing's spawn runs the parent's __main__ again (a user's script, a
benchmark) in the child. Parent and child talk over a socket pair with multiprocessing's Connection; the parent
sends the child its plan first, and the child answers ("ready",) when it can take work.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

STARTUP_SECONDS = 120.0  # to start an interpreter and import what a child needs, on a busy machine


class ChildFailed(Exception):
    """The child did not start, died, or stopped answering."""


class Child:
    """One running child: its process and its end of the socket pair."""

    def __init__(self, module: str, plan: Any, startup_seconds: float = STARTUP_SECONDS) -> None:
        mine, theirs = socket.socketpair()
        package_root = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        env["OMP_NUM_THREADS"] = "1"  # one core per child: the parent decides how many children run
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            env=env,
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self.conn = Connection(mine.detach())
        try:
            self.conn.send(plan)
            ready = self.conn.poll(startup_seconds) and self.conn.recv() == ("ready",)
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.stop()
            raise ChildFailed(f"the {module} process did not start within {startup_seconds:g} s")

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def receive(self, seconds: float, silent: str) -> Any:
        """The child's next message within `seconds`; ChildFailed (the child stopped) when there is none, with
        `silent` as the reason, or with how it died."""
        if not self.conn.poll(seconds):
            self.stop()
            raise ChildFailed(silent)
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            raise ChildFailed(f"it crashed ({self.exit_status()})") from None

    def exit_status(self) -> str:
        try:
            code: int | None = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        self.stop()
        return f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"

    def kill(self) -> None:
        """From any thread: the reader of this child then sees it crash."""
        if self.process.poll() is None:
            self.process.kill()

    def close(self, wait: float = 2.0) -> None:
        """Ask the child to leave (it is sent None), then stop it."""
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.stop(wait)

    def stop(self, wait: float = 0.0) -> None:
        self.conn.close()
        try:
            self.process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def limit_memory(max_bytes: int | None) -> None:
    """In a child: cap its address space, so that a file that would take all the machine's memory fails."""
    if max_bytes is not None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (max_bytes, max_bytes))
