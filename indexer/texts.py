"""The text corpus for image→text search: captions, notes and documents, one vector per text."""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import InputError
from indexer.catalog import Catalog

TEXT_SUFFIXES = {".txt": "txt", ".md": "md", ".markdown": "md", ".csv": "csv"}
MAX_TEXT_CHARS = 2000
IMAGE_COLUMNS = ("image", "file", "filename", "path")
CAPTION_COLUMNS = ("caption", "text", "description")


@dataclass(frozen=True)
class TextEntry:
    text: str
    image: str | None = None  # an image path the text describes, if the source says so


def parse_text_file(path: Path, kind: str) -> list[TextEntry]:
    """.txt: one text per non-empty line. .md: one per paragraph. .csv: image,caption rows."""
    try:
        raw = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if kind in ("txt", "sidecar"):
        return [TextEntry(_clean(line)) for line in raw.splitlines() if _clean(line)]
    if kind == "md":
        paragraphs = re.split(r"\n\s*\n", raw)
        return [TextEntry(_clean(_strip_markdown(p))) for p in paragraphs if _clean(_strip_markdown(p))]
    if kind == "csv":
        return _parse_csv(raw, path)
    raise InputError(f"{path.name}: unsupported text file", "use .txt, .md or an image,caption .csv")


def _clean(text: str) -> str:
    return " ".join(text.split())[:MAX_TEXT_CHARS]


def _strip_markdown(paragraph: str) -> str:
    lines = [re.sub(r"^\s{0,3}(#{1,6}\s+|[-*+]\s+|>\s?)", "", line) for line in paragraph.splitlines()]
    return " ".join(lines)


def _parse_csv(raw: str, path: Path) -> list[TextEntry]:
    rows = list(csv.reader(raw.splitlines()))
    if not rows:
        return []
    header = [cell.strip().lower() for cell in rows[0]]
    image_col = next((header.index(c) for c in IMAGE_COLUMNS if c in header), None)
    caption_col = next((header.index(c) for c in CAPTION_COLUMNS if c in header), None)
    if caption_col is None:
        if len(header) < 2:
            raise InputError(f"{path}: a caption CSV needs image and caption columns", "write rows as image,caption")
        image_col, caption_col = 0, 1  # no header: plain image,caption rows
    else:
        rows = rows[1:]
    entries = []
    for row in rows:
        if caption_col >= len(row) or not _clean(row[caption_col]):
            continue
        image = row[image_col].strip() if image_col is not None and image_col < len(row) else ""
        image_path = os.path.abspath(path.parent / image) if image else None
        entries.append(TextEntry(_clean(row[caption_col]), image_path))
    return entries


def text_kind(path: Path) -> str:
    kind = TEXT_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"{path.name}: not a text corpus file", "xmodal texts add takes .txt, .md and .csv files")
    return kind


def sync_source(
    catalog: Catalog,
    path: str,
    kind: str,
    entries: Sequence[TextEntry],
    encode: Callable[[Sequence[str]], np.ndarray],
    media_id: int | None = None,
) -> int:
    """Store exactly these texts for this source, encoding only the ones not seen there before."""
    st = os.stat(path)
    reusable = catalog.text_vectors_for(path)
    unique = list(dict.fromkeys(entry.text for entry in entries))
    fresh = [text for text in unique if text not in reusable]
    vectors = dict(reusable)
    if fresh:
        vectors.update(zip(fresh, encode(fresh), strict=True))
    linked = [(entry.text, media_id if media_id is not None else _media_for(catalog, entry.image)) for entry in entries]
    return catalog.sync_text_source(path, kind, st.st_size, st.st_mtime_ns, linked, vectors)


def _media_for(catalog: Catalog, image: str | None) -> int | None:
    return catalog.media_id_for_path(image) if image else None


def source_unchanged(catalog: Catalog, path: str) -> bool:
    known = catalog.text_source(path)
    if known is None:
        return False
    st = os.stat(path)
    return known == (st.st_size, st.st_mtime_ns)
