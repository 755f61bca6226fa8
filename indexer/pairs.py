"""RAW+JPEG pairs: a camera set to RAW+JPEG writes IMG_0001.CR2 and IMG_0001.JPG, one photo in two files.

The JPEG (or HEIC), the camera's own full-size rendering, is what is indexed; the RAW is remembered as its
companion and never read. The rule: same folder, same name but for the extension, compared without case. Where
a name has more than one RAW or rendering, the first of each by name pair up and the others stand alone.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable

from indexer.selection import RENDERING_EXTENSIONS, file_kind, is_hidden, is_raw, suffix_of


def pair_key(name: str) -> str | None:
    """What two files of one photo share (their name without extension, any case); None for files that never
    pair: neither a RAW nor a rendering xmodal reads (a HEIC without pillow-heif leaves its RAW to stand alone;
    a RAW pairs even where rawpy is missing, since it is never read)."""
    if is_hidden(name):
        return None
    if not is_raw(name) and (suffix_of(name) not in RENDERING_EXTENSIONS or file_kind(name) != "image"):
        return None
    return os.path.splitext(name)[0].casefold()


def pairs_among(names: Iterable[str]) -> dict[str, str]:
    """{rendering: its RAW} among the names of one folder's files."""
    groups: dict[str, list[str]] = defaultdict(list)
    for name in names:
        key = pair_key(name)
        if key is not None:
            groups[key].append(name)
    found: dict[str, str] = {}
    for members in groups.values():
        raws = sorted(name for name in members if is_raw(name))
        renderings = sorted(name for name in members if not is_raw(name))
        if raws and renderings:
            found[renderings[0]] = raws[0]
    return found


def pair_of(path: str) -> tuple[str, str] | None:
    """(rendering, RAW) paths of the pair a file belongs to, from its folder as it is now; None when it stands
    alone (or is gone, or neither a RAW nor a rendering)."""
    folder, name = os.path.split(path)
    key = pair_key(name)
    if key is None:
        return None
    try:
        names = [entry for entry in os.listdir(folder or ".") if pair_key(entry) == key]
    except OSError:
        return None
    for rendering, raw in pairs_among(names).items():
        if name in (rendering, raw):
            return os.path.join(folder, rendering), os.path.join(folder, raw)
    return None


def pair_siblings(path: str) -> list[str]:
    """The other files of a folder that could pair with this path's name (its RAW or rendering, present now):
    a change to one file of a pair concerns the other too."""
    folder, name = os.path.split(path)
    key = pair_key(name)
    if key is None:
        return []
    try:
        entries = os.listdir(folder or ".")
    except OSError:
        return []
    return [os.path.join(folder, entry) for entry in entries if entry != name and pair_key(entry) == key]
