"""Caption files next to pictures (photo.txt beside photo.jpg): texts linked to their picture's row."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from core.errors import InputError
from indexer.catalog import Catalog
from indexer.scan import FoundFile
from indexer.texts import parse_text_file, source_unchanged, sync_source

log = logging.getLogger(__name__)


def sync_sidecars(
    catalog: Catalog,
    encode_texts: Callable[[Sequence[str]], np.ndarray],
    roots: list[str],
    sidecars: dict[str, FoundFile],
) -> int:
    """Make the catalog's sidecar texts under roots match the caption files found; returns texts (re)written."""
    current = {sidecar.path: image for image, sidecar in sidecars.items()}
    stale = [path for path in catalog.sidecar_sources_under(roots) if path not in current]
    catalog.delete_text_sources(stale)
    count = 0
    for path, image in current.items():
        try:
            if source_unchanged(catalog, path):
                continue
            media_id = catalog.media_id_for_path(image)
            if media_id is None:
                continue
            entries = parse_text_file(Path(path), "sidecar")
            count += sync_source(catalog, path, "sidecar", entries, encode_texts, media_id)
        except (OSError, InputError) as exc:  # gone or unreadable since the scan: the next run sees it again
            log.warning("cannot read caption %s: %s", path, exc)
    return count
