"""The single-writer lock: one process writes a library, any number read it."""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path
from types import TracebackType

from core.errors import LibraryLocked


class WriterLock:
    """An flock on <library>/writer.lock. The kernel drops it when the holder dies, even on kill -9."""

    def __init__(self, path: Path, purpose: str) -> None:
        self.path = path
        self.purpose = purpose
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise LibraryLocked(
                f"the library at {self.path.parent} is being written by another process ({holder})",
                "wait for it to finish, or stop it (Ctrl-C or SIGTERM) and run this command again; "
                "searches keep working meanwhile",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}: {self.purpose}\n".encode())
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode(errors="replace").strip()
    except OSError:
        text = ""
    return text or "unknown holder"


def describe_command() -> str:
    return "xmodal " + " ".join(sys.argv[1:2]) if len(sys.argv) > 1 else "xmodal"
