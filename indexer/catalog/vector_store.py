"""A collection's vectors in one file, addressed by id: row `id` lies at HEADER + id * row_bytes.

In SQLite a 2,048-byte vector took a 4 KiB page of its own (4,106 bytes per item at 1M), and reading the 400 a
query rescores took 18.9 ms (issue 15). Here a row is its bytes, a read is one positioned read per run of ids
from the page cache that every process on the machine shares, and the catalog keeps only which ids have a
vector, and since which version, in a table of integers.

Ids are the catalog's, which SQLite's AUTOINCREMENT never hands out twice once committed: a row is written once,
or again in place when its item's vector changes; a deleted item's row is dead space until the vectors are
dropped (another model) and the file starts again.

Crash safety: the writer writes rows and flushes them to disk before the catalog commits the transaction that
says they exist, so a committed id always has its bytes. A crash before the commit leaves rows nothing points at;
the next writer may be given the same ids (a rolled-back AUTOINCREMENT) and writes over them.
"""

from __future__ import annotations

import os
import struct
import threading
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import XmodalError

MAGIC = b"XMVEC001"
HEADER_BYTES = 4096  # a page: rows stay aligned to pages
_HEADER = struct.Struct("<8sII")  # magic, dim, bytes per value (4: float32, 2: float16)
DTYPES: dict[int, np.dtype[Any]] = {4: np.dtype("<f4"), 2: np.dtype("<f2")}


class VectorStoreDamaged(XmodalError):
    """The file is not a vector store, or lacks rows the catalog has."""


def store_folder(catalog_path: Path) -> Path:
    """Where a catalog's vector files live: beside it, so that a library moves and is backed up as one folder."""
    return catalog_path.parent / "vectors"


class VectorStore:
    """One file of fixed-size rows. Thread-safe; a reader sees rows a writer added as soon as it asks for them."""

    def __init__(self, path: Path, *, readonly: bool, value_bytes: int = 4) -> None:
        self.path = path
        self.readonly = readonly
        self.prefer_value_bytes(value_bytes)  # for a file this store starts
        self._lock = threading.Lock()
        self._fd: int | None = None
        self.dim = 0
        self.dtype = DTYPES[value_bytes]

    # -- reading ------------------------------------------------------------------------------

    def read(self, ids: np.ndarray | list[int], dim: int | None = None) -> np.ndarray:
        """The rows of `ids`, as float32 (n, dim); every id must have been written (the catalog says which).
        `dim`, when given, is checked against the file's.

        Positioned reads, one per run of consecutive ids, rather than a memory map: a mapped page a query touched
        stays in the process's resident set (with the kernel's read-ahead, a 1M-item searcher grew to 2 GB over
        300 queries), while pages read stay in the page cache, which every process shares and the kernel frees."""
        wanted = np.asarray(ids, dtype=np.int64)
        with self._lock:
            fd = self._opened()
            if len(wanted) == 0:
                return np.zeros((0, dim or self.dim), dtype=np.float32)
            if fd is None or not self.dim or wanted.min() < 0:
                raise self._missing()
            if dim is not None and self.dim != dim:
                raise VectorStoreDamaged(f"{self.path} holds {self.dim}-d vectors, not {dim}-d")
            order = np.argsort(wanted, kind="stable")
            ordered = wanted[order]
            out = np.empty((len(wanted), self.dim), dtype=self.dtype)
            row_bytes = self._row_bytes
            for first, last in _runs(ordered):
                size = (last - first) * row_bytes
                data = os.pread(fd, size, HEADER_BYTES + int(ordered[first]) * row_bytes)
                if len(data) < size:
                    raise self._missing()
                out[order[first:last]] = np.frombuffer(data, dtype=self.dtype).reshape(last - first, self.dim)
            return out.astype(np.float32, copy=False)

    def _missing(self) -> VectorStoreDamaged:
        return VectorStoreDamaged(
            f"{self.path} lacks vectors the catalog has (a lost or truncated file)",
            "run `xmodal index PATH --reindex` to encode them again",
        )

    def _opened(self) -> int | None:
        """The file, open and its header read (the file followed if it was replaced); None when there is none."""
        self._follow_replacement()
        fd = self._open_fd()
        if fd is not None and not self.dim:
            self._read_header(fd)
        return fd

    def _follow_replacement(self) -> None:
        """Reopen when the file was dropped and started again (another model): a writer never truncates a file a
        reader may hold open, it replaces it."""
        if self._fd is None:
            return
        try:
            current = os.stat(self.path).st_ino
        except FileNotFoundError:
            current = None
        if current != os.fstat(self._fd).st_ino:
            self._close()
            self.dim = 0

    def _read_header(self, fd: int) -> None:
        header = os.pread(fd, _HEADER.size, 0)
        if len(header) < _HEADER.size:
            return  # a file a writer is starting: no rows yet
        magic, dim, value_bytes = _HEADER.unpack(header)
        if magic != MAGIC or value_bytes not in DTYPES or dim <= 0:
            raise VectorStoreDamaged(f"{self.path} is not an xmodal vector file")
        self.dim, self.dtype = dim, DTYPES[value_bytes]

    def _open_fd(self) -> int | None:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDONLY if self.readonly else os.O_RDWR | os.O_CREAT, 0o644)
            except FileNotFoundError:
                return None
        return self._fd

    @property
    def _row_bytes(self) -> int:
        return self.dim * self.dtype.itemsize

    # -- writing ------------------------------------------------------------------------------

    def prefer_value_bytes(self, value_bytes: int) -> None:
        """4 (float32) or 2 (float16) for a file this store starts; a file already there keeps its own."""
        if value_bytes not in DTYPES:
            raise ValueError(f"value_bytes must be 4 (float32) or 2 (float16), not {value_bytes}")
        self._new_value_bytes = value_bytes

    @property
    def precision(self) -> str:
        """What the file holds: "float32", "float16", or "" before there is one."""
        with self._lock:
            self._opened()
            return {4: "float32", 2: "float16"}[self.dtype.itemsize] if self.dim else ""

    def write(self, ids: np.ndarray | list[int], vectors: np.ndarray) -> None:
        """Write rows (not yet durable: `flush` before the catalog commits them)."""
        if self.readonly:
            raise PermissionError(f"{self.path} is open read-only")
        rows = np.asarray(ids, dtype=np.int64)
        if len(rows) == 0:
            return
        values = np.asarray(vectors, dtype=np.float32)
        with self._lock:
            fd = self._writable(values.shape[1])
            order = np.argsort(rows, kind="stable")
            ordered, data = rows[order], values[order].astype(self.dtype)
            for first, last in _runs(ordered):  # a batch of new items is one run: one write
                _write_all(fd, data[first:last].tobytes(), HEADER_BYTES + int(ordered[first]) * self._row_bytes)

    def _writable(self, dim: int) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = self._open_fd()
        assert fd is not None
        if os.fstat(fd).st_size < HEADER_BYTES:
            header = _HEADER.pack(MAGIC, dim, self._new_value_bytes)
            _write_all(fd, header.ljust(HEADER_BYTES, b"\0"), 0)
            self.dim, self.dtype = dim, DTYPES[self._new_value_bytes]
        elif not self.dim:
            self._read_header(fd)
        if dim != self.dim:
            raise ValueError(f"{self.path} holds {self.dim}-d vectors; drop them before writing {dim}-d ones")
        return fd

    def flush(self) -> None:
        """Make written rows durable: called before the catalog commits the ids that point at them."""
        with self._lock:
            if self._fd is not None and not self.readonly:
                os.fdatasync(self._fd)

    def clear(self) -> None:
        """Forget every row (the model changed): the next write starts the file again, at its dimension."""
        with self._lock:
            self._close()
            self.path.unlink(missing_ok=True)
            self.dim = 0

    def disk_bytes(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _runs(ordered: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) positions of the runs of consecutive ids in sorted `ordered`: one read or write each."""
    breaks = np.flatnonzero(np.diff(ordered) != 1) + 1
    return list(zip(np.r_[0, breaks].tolist(), np.r_[breaks, len(ordered)].tolist(), strict=True))


def _write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written
