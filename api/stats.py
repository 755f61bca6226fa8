"""Library statistics, shared by the CLI and (later) the API."""

from __future__ import annotations

import os
from typing import Any

from indexer.catalog import COLLECTIONS
from indexer.library import Library


def library_stats(library: Library) -> dict[str, Any]:
    catalog = library.catalog
    counts = catalog.counts()
    spec = library.model_spec()
    indexes: dict[str, Any] = {}
    if spec is not None:
        for name in COLLECTIONS:
            vector_index = library.vector_index(name)
            indexes[name] = {
                "kind": vector_index.shape.kind,
                "nlist": vector_index.shape.nlist,
                "count": int(vector_index.index.ntotal),
                "current": vector_index.is_current(),
            }
    disk = sum(
        os.path.getsize(os.path.join(folder, name)) for folder, _, names in os.walk(library.path) for name in names
    )
    return {
        "library": str(library.path),
        "model": spec.describe() if spec else None,
        "dim": int(catalog.get_meta("dim") or 0) or None,
        "images": counts["media"],
        "failed": counts["failed"],
        "texts": counts["texts"],
        "text_sources": counts["text_sources"],
        "disk_bytes": disk,
        "indexes": indexes,
        "failures": [{"path": path, "reason": reason} for path, reason in catalog.failures()],
    }
