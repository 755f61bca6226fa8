"""Thumbnails made on first request and cached in the library, keyed by content so an edit refreshes them."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from core.errors import NotFound
from core.files import atomic_write_bytes
from indexer.decode import DecodeError, decode_image
from searcher.media import MediaFile, gone

SIZES = (128, 256, 512, 1024)  # a requested size is rounded up to one of these: the cache stays bounded
QUALITY = 82


def bucket(size: int) -> int:
    return next((choice for choice in SIZES if choice >= size), SIZES[-1])


def etag(item: MediaFile, size: int) -> str:
    """Changes when the file's content does: a client revalidates instead of downloading again."""
    return f'"{item.id}-{(item.content_hash or "")[:16]}-{size}"'


class Thumbnails:
    def __init__(self, folder: Path, max_file_bytes: int, max_pixels: int) -> None:
        self.folder = folder
        self.max_file_bytes = max_file_bytes
        self.max_pixels = max_pixels

    def path_for(self, media_id: int, content_hash: str, size: int) -> Path:
        return self.folder / str(size) / f"{media_id}-{content_hash[:16]}.jpg"

    def get(self, item: MediaFile, size: int) -> bytes:
        """JPEG bytes no larger than size×size; `NotFound` when the file is gone or cannot be read now."""
        cached = self.path_for(item.id, item.content_hash or "none", size)
        with contextlib.suppress(FileNotFoundError):
            return cached.read_bytes()
        try:
            data = self._make(item.path, size)
        except FileNotFoundError:
            raise gone(item.id) from None
        except (OSError, DecodeError) as exc:
            raise NotFound(f"image {item.id} cannot be read now: {exc}") from None
        self._store(cached, data)
        return data

    def _make(self, source: Path, size: int) -> bytes:
        if source.stat().st_size > self.max_file_bytes:
            raise OSError(f"{source.name} is larger than the file size limit")
        image, _ = decode_image(source.read_bytes(), size, self.max_pixels)
        image.thumbnail((size, size))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=QUALITY, optimize=True)
        return buffer.getvalue()

    @staticmethod
    def _store(path: Path, data: bytes) -> None:
        """Never fatally: a read-only library still serves thumbnails, uncached. A cache needs no fsync."""
        with contextlib.suppress(OSError):
            atomic_write_bytes(path, data, durable=False)
