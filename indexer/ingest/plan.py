"""Planning a run: what is on disk under the paths, compared with what the catalog knows about them.

Incremental by size and mtime: a file the catalog knows with the same size and mtime is not read again.
A row whose file is no longer where the catalog says is "missing": a move if its content shows up at
another path during the run, a removal otherwise. A RAW indexed on its own that now has a JPEG beside it is
"absorbed": the pair is one photo, indexed from the JPEG, so the RAW's row leaves.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from indexer.catalog import Catalog, KnownFile
from indexer.scan import FoundFile, ScanResult, SkippedFile
from indexer.selection import is_inside


@dataclass(frozen=True)
class PlannedFile:
    """A file to read: new, or changed since the catalog's row for it (`known`) was written."""

    file: FoundFile
    known: KnownFile | None


class MissingRows:
    """Rows whose file is gone from its path. Those with a vector can still turn into a move (claimed by the
    content hash of a file found elsewhere); whatever is left when the run ends is removed."""

    def __init__(self, rows: Iterable[KnownFile] = ()) -> None:
        self._by_hash: dict[str, list[KnownFile]] = {}
        self._without_content: list[KnownFile] = []
        for row in rows:
            self.add(row)

    def add(self, row: KnownFile) -> None:
        if row.has_vector and row.content_hash:
            self._by_hash.setdefault(row.content_hash, []).append(row)
        else:
            self._without_content.append(row)

    def claim(self, content_hash: str) -> KnownFile | None:
        """A missing row with this content, taken: the file moved to where this content was found."""
        rows = self._by_hash.get(content_hash)
        return rows.pop() if rows else None

    def movable(self) -> list[KnownFile]:
        """Left over rows whose content could still appear elsewhere (a move reported in pieces)."""
        return [row for rows in self._by_hash.values() for row in rows]

    def unmovable(self) -> list[KnownFile]:
        """Left over rows without a vector (files that had failed): nothing to keep them for."""
        return list(self._without_content)


@dataclass
class Plan:
    roots: list[str]  # existing files and folders, scanned
    gone: list[str]  # paths that do not exist: what the catalog holds there is missing
    todo: list[PlannedFile]
    missing: MissingRows
    sidecars: dict[str, FoundFile]  # image path -> its caption file
    companions: dict[str, FoundFile] = field(default_factory=dict)  # JPEG/HEIC path -> its RAW (indexer.pairs)
    skipped: list[SkippedFile] = field(default_factory=list)  # not indexed, and why (indexer.unindexed)
    absorbed: list[KnownFile] = field(default_factory=list)  # rows of RAW files now riding along with a JPEG
    unchanged: int = 0
    settling: list[str] = field(default_factory=list)  # modified too recently: left for a later run
    known_hashes: set[str] = field(default_factory=set)  # content that has a vector already: no decoding needed


def split_existing(paths: Iterable[str | Path], gone: Iterable[str | Path]) -> tuple[list[str], list[str], list[str]]:
    """(roots to scan, gone paths, named paths that vanished): a path that does not exist is gone, not an error,
    since a file can disappear at any moment between an event and the run that handles it."""
    roots: list[str] = []
    vanished: list[str] = []
    for raw in paths:
        path = _absolute(raw)
        (roots if os.path.exists(path) else vanished).append(path)
    return roots, [*vanished, *map(_absolute, gone)], vanished


def _absolute(path: str | Path) -> str:
    return os.path.abspath(Path(path).expanduser())


def plan_run(
    catalog: Catalog, found: ScanResult, roots: list[str], gone: list[str], settle_seconds: float, now: float
) -> Plan:
    """Compare a scan with the catalog. A file modified less than `settle_seconds` ago (before or after `now`) is
    still being written: it is neither read nor counted missing, only listed as settling. A skipped file keeps
    whatever the catalog holds for it (a video, while videos are switched off)."""
    raws = {raw.path: rendering for rendering, raw in found.companions.items()}
    beyond = [path for path in raws if not any(is_inside(path, scope) for scope in [*roots, *gone])]
    known = catalog.known_files([*roots, *gone, *beyond])
    plan = Plan(roots, gone, [], MissingRows(), found.sidecars, found.companions, found.skipped)
    for file in found.media:
        row = known.get(file.path)
        if row is not None and row.size == file.size and row.mtime_ns == file.mtime_ns:
            plan.unchanged += 1
        elif settle_seconds > 0 and abs(now - file.mtime_ns / 1e9) < settle_seconds:
            plan.settling.append(file.path)
        else:
            plan.todo.append(PlannedFile(file, row))
    present = {file.path for file in found.media} | {file.path for file in found.skipped}
    settling = set(plan.settling)
    for path, row in known.items():
        if path in present:
            continue
        if path in raws:  # its JPEG stands for the photo now; kept until a JPEG still being written is read
            if raws[path] not in settling:
                plan.absorbed.append(row)
        else:
            plan.missing.add(row)
    plan.known_hashes = catalog.ok_hashes()
    return plan
