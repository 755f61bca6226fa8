"""Discovery: every image under the roots, once, without following symlink loops forever."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import InputError
from indexer.selection import CAPTION_SUFFIX, MEDIA_KINDS, file_kind, included

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FoundFile:
    path: str  # absolute, as reached (symlinks are not resolved: that is the name the user knows)
    size: int
    mtime_ns: int


@dataclass
class ScanResult:
    media: list[FoundFile] = field(default_factory=list)  # pictures and videos
    sidecars: dict[str, FoundFile] = field(default_factory=dict)  # image path -> its caption file
    unreadable_dirs: list[str] = field(default_factory=list)


def normalize_roots(paths: Iterable[str | Path]) -> list[str]:
    roots = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise InputError(f"no such file or folder: {raw}", "check the path; nothing was indexed")
        roots.append(os.path.abspath(path))
    return roots


def scan(roots: Iterable[str], exclude: str | None = None) -> ScanResult:
    """Images and their sidecar captions under roots; `exclude` (the library itself) is skipped."""
    result = ScanResult()
    seen_dirs: set[tuple[int, int]] = set()
    if exclude and os.path.isdir(exclude):
        st = os.stat(exclude)
        seen_dirs.add((st.st_dev, st.st_ino))
    seen_files: set[str] = set()
    for root in roots:
        try:
            st = os.stat(root)
        except OSError:
            continue  # vanished since it was named: whatever the catalog holds there is missing now
        if not stat.S_ISDIR(st.st_mode):
            if stat.S_ISREG(st.st_mode) and _add_file(root, st, result, seen_files):
                _pair_sidecars(result, [root])
            continue
        for directory, names in _walk(root, seen_dirs, result):
            images = []
            texts = {}
            for name in names:
                full = os.path.join(directory, name)
                kind = file_kind(name)
                try:
                    st = os.stat(full)
                except OSError:
                    continue  # a dangling symlink, or the file vanished
                if not stat.S_ISREG(st.st_mode):
                    continue  # fifos and devices would block a read forever
                if kind == "caption":
                    texts[os.path.splitext(full)[0]] = FoundFile(full, st.st_size, st.st_mtime_ns)
                elif _add_file(full, st, result, seen_files):
                    images.append(full)
            for image in images:
                sidecar = texts.get(os.path.splitext(image)[0])
                if sidecar is not None:
                    result.sidecars[image] = sidecar
    return result


def _add_file(path: str, st: os.stat_result, result: ScanResult, seen: set[str]) -> bool:
    if path in seen or file_kind(path) not in MEDIA_KINDS:
        return False
    seen.add(path)
    result.media.append(FoundFile(path, st.st_size, st.st_mtime_ns))
    return True


def _pair_sidecars(result: ScanResult, images: list[str]) -> None:
    for image in images:
        candidate = os.path.splitext(image)[0] + CAPTION_SUFFIX
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            result.sidecars[image] = FoundFile(candidate, st.st_size, st.st_mtime_ns)


def _walk(root: str, seen_dirs: set[tuple[int, int]], result: ScanResult) -> Iterator[tuple[str, list[str]]]:
    """Depth-first, sorted, following directory symlinks but visiting each real directory once; yields the
    pictures and captions of each folder (see indexer.selection)."""
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            st = os.stat(directory)
        except OSError:
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:
            continue
        seen_dirs.add(key)
        try:
            with os.scandir(directory) as entries:
                listing = sorted(entries, key=lambda entry: entry.name)
        except OSError as exc:
            log.warning("cannot read folder %s: %s", directory, exc.strerror or exc)
            result.unreadable_dirs.append(directory)
            continue
        files = []
        subdirs = []
        for entry in listing:
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                continue
            if not included(entry.name, is_dir):
                continue
            if is_dir:
                subdirs.append(entry.path)
            else:
                files.append(entry.name)
        yield directory, files
        stack.extend(reversed(subdirs))
