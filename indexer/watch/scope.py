"""The smallest set of files and folders to rescan for a set of changed paths."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable

from indexer.pairs import pair_siblings
from indexer.selection import MEDIA_KINDS, file_kind

COLLAPSE_TO_FOLDER = 20  # this many changed entries in one folder: rescan the folder instead


def rescan_scope(paths: Iterable[str]) -> list[str]:
    """A caption brings its picture (the pair is indexed together), a RAW or JPEG brings the other file of its
    RAW+JPEG pair (one photo: a JPEG that leaves lets its RAW be indexed alone), a busy folder is rescanned whole,
    and a path inside another path of the scope is covered by it."""
    scope: set[str] = set()
    for path in paths:
        if file_kind(path) == "caption":
            stem = os.path.splitext(path)[0]
            scope.update(stem + ext for ext in _sibling_image_suffixes(stem))
            if not os.path.exists(path):
                scope.add(path)  # a deleted caption: its text source goes
        else:
            scope.add(path)
            scope.update(pair_siblings(path))
    by_folder: dict[str, list[str]] = defaultdict(list)
    for path in scope:
        by_folder[os.path.dirname(path)].append(path)
    collapsed: set[str] = set()
    for folder, members in by_folder.items():
        if len(members) >= COLLAPSE_TO_FOLDER and os.path.isdir(folder):
            collapsed.add(folder)
        else:
            collapsed.update(members)
    ordered = sorted(collapsed)
    return [p for i, p in enumerate(ordered) if not any(p.startswith(q.rstrip("/") + "/") for q in ordered[:i])]


def _sibling_image_suffixes(stem: str) -> list[str]:
    folder, name = os.path.split(stem)
    try:
        entries = os.listdir(folder or ".")
    except OSError:
        return []
    return [
        os.path.splitext(entry)[1]
        for entry in entries
        if os.path.splitext(entry)[0] == name and file_kind(entry) in MEDIA_KINDS
    ]
