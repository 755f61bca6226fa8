"""The catalog records a run writes for a file: indexed with its picture metadata, or failed with the reason."""

from __future__ import annotations

from indexer.catalog import MediaRecord
from indexer.decode import ImageInfo
from indexer.ingest.plan import PlannedFile
from indexer.selection import file_kind


def ok_record(item: PlannedFile, content_hash: str, info: ImageInfo) -> MediaRecord:
    file = item.file
    return MediaRecord(
        file.path,
        file.size,
        file.mtime_ns,
        content_hash,
        "ok",
        None,
        info.format,
        info.width,
        info.height,
        info.taken_at,
        info.camera_make,
        info.camera_model,
        id=item.known.id if item.known is not None else None,
    )


def failed_record(item: PlannedFile, content_hash: str | None, reason: str) -> MediaRecord:
    file = item.file
    row_id = item.known.id if item.known is not None else None
    kind = "video" if file_kind(file.path) == "video" else "image"
    return MediaRecord(
        file.path, file.size, file.mtime_ns, content_hash, "failed", error=reason, id=row_id, media_type=kind
    )
