"""The text corpus for image→text search: .txt, .md and .csv files added by hand (`xmodal texts add`)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from core.settings import Settings
from indexer.encoder import Encoder
from indexer.library import Library
from indexer.scan import normalize_roots
from indexer.texts import parse_text_file, sync_source, text_kind
from indexer.vector_index import IndexPolicy


def add_texts(library: Library, encoder: Encoder, files: Iterable[str | Path], settings: Settings) -> int:
    """Ingest .txt/.md/.csv files into the text corpus; re-adding a file replaces its texts."""
    count = 0
    for path in normalize_roots(files):
        kind = text_kind(Path(path))
        entries = parse_text_file(Path(path), kind)
        count += sync_source(library.catalog, path, kind, entries, encoder.encode_texts)
    library.vector_index("texts").update(IndexPolicy.of(settings))
    return count
