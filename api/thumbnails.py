"""Thumbnails made on first request and cached in the library, keyed by content so an edit refreshes them."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from core.files import atomic_write_bytes
from indexer.decode import decode_image

SIZES = (128, 256, 512, 1024)  # a requested size is rounded up to one of these: the cache stays bounded
QUALITY = 82


def bucket(size: int) -> int:
    return next((choice for choice in SIZES if choice >= size), SIZES[-1])


class Thumbnails:
    def __init__(self, folder: Path, max_file_bytes: int, max_pixels: int) -> None:
        self.folder = folder
        self.max_file_bytes = max_file_bytes
        self.max_pixels = max_pixels

    def path_for(self, media_id: int, content_hash: str, size: int) -> Path:
        return self.folder / str(size) / f"{media_id}-{content_hash[:16]}.jpg"

    def get(self, media_id: int, source: Path, content_hash: str, size: int) -> bytes:
        """JPEG bytes no larger than size×size. Raises OSError or DecodeError for an unreadable source."""
        cached = self.path_for(media_id, content_hash, size)
        with contextlib.suppress(FileNotFoundError):
            return cached.read_bytes()
        if source.stat().st_size > self.max_file_bytes:
            raise OSError(f"{source.name} is larger than the file size limit")
        image, _ = decode_image(source.read_bytes(), size, self.max_pixels)
        image.thumbnail((size, size))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=QUALITY, optimize=True)
        data = buffer.getvalue()
        self._store(cached, data)
        return data

    @staticmethod
    def _store(path: Path, data: bytes) -> None:
        """Never fatally: a read-only library still serves thumbnails, uncached. A cache needs no fsync."""
        with contextlib.suppress(OSError):
            atomic_write_bytes(path, data, durable=False)
