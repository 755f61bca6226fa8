"""Which files xmodal indexes, defined once: pictures (camera RAW files among them), videos and their .txt
captions, never hidden files or folders; and which media-looking files it leaves out, so that they can be listed
(indexer.unindexed) instead of skipped in silence.

The scan walks folders with this rule and the watcher filters filesystem events with it, so the two
cannot disagree about what belongs in the library.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from indexer.unindexed import HEIF_WITHOUT_READER, RAW_WITHOUT_READER, SKIPPED_EXTENSIONS, reader_installed

HEIF_EXTENSIONS = frozenset({".heic", ".heif", ".hif"})
# Pictures Pillow reads (pillow-heif reads HEIC): indexer.decode.ACCEPTED_FORMATS names their formats.
PILLOW_EXTENSIONS = frozenset(
    {
        *(".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".avif"),
        *HEIF_EXTENSIONS,
        *(".jp2", ".j2k", ".jpf", ".jpx"),  # JPEG 2000
        *(".pnm", ".pbm", ".pgm", ".ppm"),  # Netpbm
    }
)
# Camera RAW files LibRaw reads (through rawpy; indexer.raw). Not ".raw": too many other programs' files share it.
RAW_EXTENSIONS = frozenset(
    {
        *(".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf", ".orf", ".rw2"),
        *(".rwl", ".pef", ".srw", ".x3f", ".3fr", ".fff", ".iiq", ".erf", ".kdc", ".dcr", ".mrw", ".mos", ".mef"),
    }
)
# A camera's own rendering of a photo, beside which a RAW of the same name is the same photo (indexer.pairs).
RENDERING_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", *HEIF_EXTENSIONS})
IMAGE_EXTENSIONS = PILLOW_EXTENSIONS | RAW_EXTENSIONS
# Videos xmodal samples frames from (indexer.video): what phones and cameras write, and what FFmpeg reads well.
VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".3gp", ".mts", ".m2ts", ".mpg", ".mpeg"}
)
CAPTION_SUFFIX = ".txt"  # photo.txt next to photo.jpg: its caption

FileKind = Literal["image", "video", "caption", "skipped"]
MEDIA_KINDS = frozenset({"image", "video"})  # what the catalog holds rows for; captions attach to them


def is_hidden(name: str) -> bool:
    """Editors' swap files, .thumbnails, .git, a library kept inside a photo folder: all start with a dot."""
    return name.startswith(".")


def suffix_of(name: str) -> str:
    return os.path.splitext(name)[1].lower()


def is_raw(name: str) -> bool:
    return suffix_of(name) in RAW_EXTENSIONS


def skip_reason(name: str) -> str | None:
    """Why a picture-looking file is not indexed here (indexer.unindexed), or None for one that is, or that
    does not look like a picture at all."""
    suffix = suffix_of(name)
    if suffix in SKIPPED_EXTENSIONS:
        return SKIPPED_EXTENSIONS[suffix]
    if suffix in RAW_EXTENSIONS and not reader_installed("rawpy"):
        return RAW_WITHOUT_READER
    if suffix in HEIF_EXTENSIONS and not reader_installed("pillow_heif"):
        return HEIF_WITHOUT_READER
    return None


def file_kind(name: str) -> FileKind | None:
    """What a file is to xmodal, from its name; None for every file it leaves alone (photo.jpg~, notes.pdf).
    "skipped": a picture xmodal cannot read here (a .jxl, or a RAW without rawpy), listed by `xmodal stats`."""
    if skip_reason(name) is not None:
        return "skipped"
    suffix = suffix_of(name)
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    if suffix == CAPTION_SUFFIX:
        return "caption"
    return None


def included(name: str, is_dir: bool) -> bool:
    """Whether an entry of a folder being indexed counts: a visible folder, picture, video or caption, or a
    picture xmodal skips (so that stats can say why)."""
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
