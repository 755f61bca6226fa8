"""Thumbnails made on first request and cached in the library, keyed by content so an edit refreshes them.

A video's thumbnail is the frame that stands for the item (a moment's best frame), decoded on request; its
cache key and ETag carry that frame's time as well."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from PIL import Image

from core.errors import NotFound
from core.files import atomic_write_bytes
from indexer.decode import DecodeError, decode_image
from indexer.video.still import frame_at
from searcher.media import MediaFile

SIZES = (128, 256, 512, 1024)  # a requested size is rounded up to one of these: the cache stays bounded
QUALITY = 82


def bucket(size: int) -> int:
    return next((choice for choice in SIZES if choice >= size), SIZES[-1])


def version(item: MediaFile) -> str:
    """What the thumbnail shows: the file's content and, for a video, which of its frames (in milliseconds)."""
    content = (item.content_hash or "none")[:16]
    return content if item.frame_time is None else f"{content}-{round(item.frame_time * 1000)}"


def etag(item: MediaFile, size: int) -> str:
    """Changes when the file's content does: a client revalidates instead of downloading again."""
    return f'"{item.id}-{version(item)}-{size}"'


class Thumbnails:
    def __init__(self, folder: Path, max_file_bytes: int, max_pixels: int) -> None:
        self.folder = folder
        self.max_file_bytes = max_file_bytes
        self.max_pixels = max_pixels

    def path_for(self, item: MediaFile, size: int) -> Path:
        return self.folder / str(size) / f"{item.id}-{version(item)}.jpg"

    def get(self, item: MediaFile, size: int) -> bytes:
        """JPEG bytes no larger than size×size; `NotFound` when the file is gone or cannot be read now."""
        cached = self.path_for(item, size)
        with contextlib.suppress(FileNotFoundError):
            return cached.read_bytes()
        try:
            image = self._picture(item, size)
        except FileNotFoundError:
            raise item.gone() from None
        except (OSError, DecodeError) as exc:
            raise NotFound(f"{item.label} cannot be read now: {exc}") from None
        data = self._jpeg(image, size)
        self._store(cached, data)
        return data

    def _picture(self, item: MediaFile, size: int) -> Image.Image:
        if item.frame_time is not None:  # a video is read a keyframe interval at a time, never whole
            return frame_at(item.path, item.frame_time, size)
        if item.path.stat().st_size > self.max_file_bytes:
            raise OSError(f"{item.name} is larger than the file size limit")
        image, _ = decode_image(item.path.read_bytes(), size, self.max_pixels, item.name)
        return image

    @staticmethod
    def _jpeg(image: Image.Image, size: int) -> bytes:
        image.thumbnail((size, size))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=QUALITY, optimize=True)
        return buffer.getvalue()

    @staticmethod
    def _store(path: Path, data: bytes) -> None:
        """Never fatally: a read-only library still serves thumbnails, uncached. A cache needs no fsync."""
        with contextlib.suppress(OSError):
            atomic_write_bytes(path, data, durable=False)
