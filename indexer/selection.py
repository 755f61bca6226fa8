"""Which files xmodal indexes, defined once: pictures, videos and their .txt captions, never hidden files or
folders.

The scan walks folders with this rule and the watcher filters filesystem events with it, so the two
cannot disagree about what belongs in the library.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".hif"}
)
# Videos xmodal samples frames from (indexer.video): what phones and cameras write, and what FFmpeg reads well.
VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".3gp", ".mts", ".m2ts", ".mpg", ".mpeg"}
)
CAPTION_SUFFIX = ".txt"  # photo.txt next to photo.jpg: its caption

FileKind = Literal["image", "video", "caption"]
MEDIA_KINDS = frozenset({"image", "video"})  # what the catalog holds rows for; captions attach to them


def is_hidden(name: str) -> bool:
    """Editors' swap files, .thumbnails, .git, a library kept inside a photo folder: all start with a dot."""
    return name.startswith(".")


def file_kind(name: str) -> FileKind | None:
    """What a file is to xmodal, from its name; None for every file it leaves alone (photo.jpg~, notes.pdf)."""
    suffix = os.path.splitext(name)[1].lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    if suffix == CAPTION_SUFFIX:
        return "caption"
    return None


def included(name: str, is_dir: bool) -> bool:
    """Whether an entry of a folder being indexed counts: a visible folder, picture, video or caption."""
    return not is_hidden(name) and (is_dir or file_kind(name) is not None)


def containing_root(path: str, roots: Iterable[str]) -> str | None:
    """The root a path lies in (the deepest, when roots nest), or None when it lies in none of them."""
    inside = [root for root in roots if is_inside(path, root)]
    return max(inside, key=len) if inside else None


def is_inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def included_below(path: str, root: str, is_dir: bool) -> bool:
    """`included`, for a path under a root: only what lies below the root counts, so a root may itself be
    hidden (~/.local/photos) while a hidden folder inside it is skipped, as the scan skips it."""
    parts = Path(os.path.relpath(path, root)).parts
    if parts in ((), (".",)):
        return True  # the root itself
    *folders, name = parts
    return all(included(folder, is_dir=True) for folder in folders) and included(name, is_dir)
