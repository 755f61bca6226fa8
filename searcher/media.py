"""Indexed media by id, as a reader serves it: the catalog's record and the file behind it.

The web API's media endpoints ask this service, never the catalog: an unknown id, a file that failed to
index, or one gone from disk is a `NotFound` here, with the same words wherever it is asked.

A video's moment (a segment) has an id of its own but no file of its own: its file is its video's, and the
frame that stands for it is the moment's best frame (`frame_time`). A video's own id stands for its first moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import NotFound
from indexer.catalog import Catalog, MediaRow, picture_words
from indexer.selection import RAW_EXTENSIONS

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
    "JPEG2000": "image/jp2",
    "PPM": "image/x-portable-anymap",
    "DNG": "image/x-adobe-dng",
}
# Other camera RAW formats (indexer.selection.RAW_EXTENSIONS, named by their extension: CR3, NEF): LibRaw's kind.
RAW_CONTENT_TYPE = "image/x-dcraw"
# A video's Content-Type from its name (indexer.selection.VIDEO_EXTENSIONS): what a browser's <video> checks.
VIDEO_CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
    ".avi": "video/x-msvideo",
    ".3gp": "video/3gpp",
    ".mts": "video/mp2t",
    ".m2ts": "video/mp2t",
    ".mpg": "video/mpeg",
    ".mpeg": "video/mpeg",
}
UNKNOWN_CONTENT_TYPE = "application/octet-stream"
GONE_HINT = "the watcher or the next index run drops it"


def unknown(media_id: int) -> NotFound:
    return NotFound(f"no indexed image has id {media_id}")


def gone(media_id: int, label: str | None = None) -> NotFound:
    """The catalog still lists the file, but it has left the disk since it was indexed."""
    return NotFound(f"{label or f'image {media_id}'} is no longer on disk", GONE_HINT)


def picture_content_type(format_name: str | None) -> str:
    """The Content-Type of a picture's original, from the format the catalog recorded for it."""
    if format_name in CONTENT_TYPES:
        return CONTENT_TYPES[format_name]
    if format_name and f".{format_name.lower()}" in RAW_EXTENSIONS:
        return RAW_CONTENT_TYPE
    return UNKNOWN_CONTENT_TYPE


def video_content_type(path: Path) -> str:
    return VIDEO_CONTENT_TYPES.get(path.suffix.lower(), UNKNOWN_CONTENT_TYPE)


@dataclass(frozen=True)
class MediaFile:
    """The file behind an indexed item: where it is, how to label it, and what its content was when indexed.
    For a video or a moment of one: the video's file, and the time of the frame that shows the item."""

    id: int
    path: Path
    content_type: str
    content_hash: str | None
    frame_time: float | None = None  # videos: seconds from the start to the frame that stands for the item
    video_id: int | None = None  # videos and moments: the video's id

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def label(self) -> str:
        """What the item is called in an error: `image 5`, `video 13`, `video 13 (moment 14)`."""
        if self.video_id is None:
            return f"image {self.id}"
        return f"video {self.video_id}" + ("" if self.video_id == self.id else f" (moment {self.id})")

    def on_disk(self) -> bool:
        return self.path.is_file()

    def gone(self) -> NotFound:
        return gone(self.id, self.label)


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

    def words(self, media_id: int) -> str | None:
        """The words read in a picture (OCR), if any were found."""
        return picture_words.words_of(self.catalog, [media_id]).get(media_id)

    def video_of(self, row: MediaRow) -> MediaRow:
        """A moment's video (a video is its own); `NotFound` under the moment's id should it have gone."""
        if row.parent_id is None:
            return row
        video = self.catalog.media_row(row.parent_id)
        if video is None or video.status != "ok":
            raise unknown(row.id)
        return video

    def file(self, media_id: int) -> MediaFile:
        """Where the item's file is, whether or not it is still there (a cached thumbnail may outlive it)."""
        row = self.record(media_id)
        if row.media_type != "video":
            return MediaFile(
                id=row.id,
                path=Path(row.path),
                content_type=picture_content_type(row.format),
                content_hash=row.content_hash,
            )
        video = self.video_of(row)
        path = Path(video.path)
        # A moment's row has no hash of its own: its content is its video's (an edited video gets new moments).
        return MediaFile(row.id, path, video_content_type(path), video.content_hash, self._frame_time(row), video.id)

    def file_on_disk(self, media_id: int) -> MediaFile:
        """The item's file, to be read now: `NotFound` when it has left the disk."""
        found = self.file(media_id)
        if not found.on_disk():
            raise found.gone()
        return found

    def _frame_time(self, row: MediaRow) -> float:
        """A moment's best frame; for a video, its first moment's (a video's first second is often black)."""
        if row.parent_id is None:
            moments = self.catalog.segments_of(row.id)
            row = moments[0] if moments else row
        return float(row.frame_s or 0.0)
