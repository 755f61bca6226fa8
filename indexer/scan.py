"""Discovery: every picture and video under the roots, once, without following symlink loops forever; with the
caption beside a picture, the RAW beside its JPEG (indexer.pairs), and the files xmodal skips and why."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import InputError
from indexer.pairs import pair_of, pairs_among
from indexer.selection import CAPTION_SUFFIX, MEDIA_KINDS, file_kind, included, skip_reason

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FoundFile:
    path: str  # absolute, as reached (symlinks are not resolved: that is the name the user knows)
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class SkippedFile:
    """A picture-looking file that is not indexed (indexer.unindexed), and why."""

    path: str
    size: int
    mtime_ns: int
    reason: str


@dataclass
class ScanResult:
    media: list[FoundFile] = field(default_factory=list)  # pictures and videos
    sidecars: dict[str, FoundFile] = field(default_factory=dict)  # image path -> its caption file
    companions: dict[str, FoundFile] = field(default_factory=dict)  # JPEG/HEIC path -> its RAW (never read)
    skipped: list[SkippedFile] = field(default_factory=list)
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
    """Pictures, videos, their sidecar captions and companion RAW files, and skipped files, under roots; `exclude`
    (the library itself) is skipped."""
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
            if stat.S_ISREG(st.st_mode):
                _add_single(root, st, result, seen_files)
            continue
        for directory, names in _walk(root, seen_dirs, result):
            files: dict[str, FoundFile] = {}
            texts: dict[str, FoundFile] = {}
            for name in names:
                full = os.path.join(directory, name)
                try:
                    st = os.stat(full)
                except OSError:
                    continue  # a dangling symlink, or the file vanished
                if not stat.S_ISREG(st.st_mode):
                    continue  # fifos and devices would block a read forever
                found = FoundFile(full, st.st_size, st.st_mtime_ns)
                if file_kind(name) == "caption":
                    texts[os.path.splitext(full)[0]] = found
                else:
                    files[name] = found
            pairs = pairs_among(files)
            for rendering, raw in pairs.items():
                result.companions[files[rendering].path] = files[raw]
            riding = set(pairs.values())
            for name, found in files.items():
                if name in riding or not _add(found, result, seen_files):
                    continue
                sidecar = texts.get(os.path.splitext(found.path)[0])
                if sidecar is not None:
                    result.sidecars[found.path] = sidecar
    return result


def _add(found: FoundFile, result: ScanResult, seen: set[str]) -> bool:
    """Record a picture or video (True), or a skipped file with its reason."""
    if found.path in seen:
        return False
    seen.add(found.path)
    reason = skip_reason(found.path)
    if reason is not None:
        result.skipped.append(SkippedFile(found.path, found.size, found.mtime_ns, reason))
        return False
    if file_kind(found.path) not in MEDIA_KINDS:
        return False
    result.media.append(found)
    return True


def _add_single(path: str, st: os.stat_result, result: ScanResult, seen: set[str]) -> None:
    """A file named on its own (the watcher's runs): its pair is looked up in its folder as it is now."""
    pair = pair_of(path)
    if pair is not None:
        rendering, raw = pair
        try:
            raw_st = st if raw == path else os.stat(raw)
            result.companions[rendering] = FoundFile(raw, raw_st.st_size, raw_st.st_mtime_ns)
            if raw == path:
                return  # a RAW beside its JPEG: it rides along, and is not indexed itself
        except OSError:
            pass  # the RAW went away meanwhile: the rendering stands alone
    if _add(FoundFile(path, st.st_size, st.st_mtime_ns), result, seen):
        _pair_sidecar(result, path)


def _pair_sidecar(result: ScanResult, image: str) -> None:
    candidate = os.path.splitext(image)[0] + CAPTION_SUFFIX
    try:
        st = os.stat(candidate)
    except OSError:
        return
    if stat.S_ISREG(st.st_mode):
        result.sidecars[image] = FoundFile(candidate, st.st_size, st.st_mtime_ns)


def _walk(root: str, seen_dirs: set[tuple[int, int]], result: ScanResult) -> Iterator[tuple[str, list[str]]]:
    """Depth-first, sorted, following directory symlinks but visiting each real directory once; yields the
    pictures, videos, captions and skipped files of each folder (see indexer.selection)."""
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
