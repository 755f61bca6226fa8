"""Filters on what a search may return, answered by the catalog as a set of allowed ids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

import numpy as np
from sqlalchemy import and_, func, select

from indexer.catalog import Catalog, media, path_under

Orientation = Literal["landscape", "portrait", "square"]
GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Filters:
    folder: str | None = None  # a folder (and everything under it), or a glob over folder paths
    after: date | None = None  # taken on or after (EXIF date; the file's time when there is none)
    before: date | None = None  # taken on or before
    media_type: str | None = None  # "image" | "video"
    camera: str | None = None  # words in the camera make or model, any case
    min_size: int | None = None  # pixels on the shorter side
    orientation: Orientation | None = None

    def active(self) -> bool:
        return any(value is not None for value in vars(self).values())


def taken_column() -> Any:
    """When a picture was taken: its EXIF date, else its file's modification time (what a person sorts by)."""
    file_time = func.strftime("%Y-%m-%dT%H:%M:%S", media.c.mtime_ns / 1_000_000_000, "unixepoch")
    return func.coalesce(media.c.taken_at, file_time)


def folder_condition(folder: str) -> Any:
    folder = folder.rstrip("/") or "/"
    if GLOB_CHARS & set(folder):
        return media.c.path.op("GLOB")(folder + "/*")  # * also crosses "/": the folder and everything below
    return path_under(media.c.path, folder)


def conditions(filters: Filters) -> list[Any]:
    found: list[Any] = [media.c.status == "ok"]
    if filters.folder:
        found.append(folder_condition(filters.folder))
    if filters.after:
        found.append(taken_column() >= filters.after.isoformat())
    if filters.before:
        found.append(taken_column() < (filters.before + timedelta(days=1)).isoformat())
    if filters.media_type:
        found.append(media.c.media_type == filters.media_type)
    if filters.camera:
        camera = func.lower(func.coalesce(media.c.camera_make, "") + " " + func.coalesce(media.c.camera_model, ""))
        found += [camera.contains(word.lower(), autoescape=True) for word in filters.camera.split()]
    if filters.min_size:
        found.append(func.min(media.c.width, media.c.height) >= filters.min_size)
    if filters.orientation == "landscape":
        found.append(media.c.width > media.c.height)
    elif filters.orientation == "portrait":
        found.append(media.c.width < media.c.height)
    elif filters.orientation == "square":
        found.append(media.c.width == media.c.height)
    return found


def allowed_ids(catalog: Catalog, filters: Filters) -> np.ndarray:
    stmt = select(media.c.id).where(and_(*conditions(filters))).order_by(media.c.id)
    with catalog.engine.connect() as conn:
        return np.fromiter((row[0] for row in conn.execute(stmt)), dtype=np.int64)


def taken_dates(catalog: Catalog, ids: list[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    with catalog.engine.connect() as conn:
        for start in range(0, len(ids), 500):
            stmt = select(media.c.id, taken_column()).where(media.c.id.in_(ids[start : start + 500]))
            found.update((row[0], row[1] or "") for row in conn.execute(stmt))
    return found
