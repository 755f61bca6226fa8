"""Indexed media by id, as a reader serves it: the catalog's record and the file behind it.

The web API's media endpoints ask this service, never the catalog: an unknown id, a file that failed to
index, or one gone from disk is a `NotFound` here, with the same words wherever it is asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import NotFound
from indexer.catalog import Catalog, MediaRow

# Pillow's format names → the Content-Type to serve the original file with.
CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
    "HEIF": "image/heif",
    "AVIF": "image/avif",
}
UNKNOWN_CONTENT_TYPE = "application/octet-stream"
GONE_HINT = "the watcher or the next index run drops it"


def unknown(media_id: int) -> NotFound:
    return NotFound(f"no indexed image has id {media_id}")


def gone(media_id: int) -> NotFound:
    """The catalog still lists the file, but it has left the disk since it was indexed."""
    return NotFound(f"image {media_id} is no longer on disk", GONE_HINT)


@dataclass(frozen=True)
class MediaFile:
    """The file behind an indexed item: where it is, how to label it, and what its content was when indexed."""

    id: int
    path: Path
    content_type: str
    content_hash: str | None

    @property
    def name(self) -> str:
        return self.path.name

    def on_disk(self) -> bool:
        return self.path.is_file()


class MediaService:
    """Read-only and thread-safe (the catalog's connection pool is): one per served library."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def record(self, media_id: int) -> MediaRow:
        """The catalog's record of an indexed item; a file that failed to index is not one."""
        row = self.catalog.media_row(media_id)
        if row is None or row.status != "ok":
            raise unknown(media_id)
        return row

    def file(self, media_id: int) -> MediaFile:
        """Where the item's file is, whether or not it is still there (a cached thumbnail may outlive it)."""
        row = self.record(media_id)
        return MediaFile(
            id=row.id,
            path=Path(row.path),
            content_type=CONTENT_TYPES.get(row.format or "", UNKNOWN_CONTENT_TYPE),
            content_hash=row.content_hash,
        )

    def file_on_disk(self, media_id: int) -> MediaFile:
        """The item's file, to be read now: `NotFound` when it has left the disk."""
        found = self.file(media_id)
        if not found.on_disk():
            raise gone(media_id)
        return found
