"""What a search returns: one shape for the CLI, the API and the page."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from indexer.catalog import Catalog, Collection
from searcher.candidates import Candidates


@dataclass(frozen=True)
class Hit:
    id: int
    rank: int
    score: float | None  # the number the list is ordered by (cosine, fused rank or reranker's; see stages)
    cosine: float  # cosine similarity to the query, exact (rescored from the stored vector)
    kind: str  # "image" | "text"
    path: str | None = None  # image hits: the file
    text: str | None = None  # text hits: the text
    source: str | None = None  # text hits: the file it came from
    media_id: int | None = None  # text hits: the image it describes, when known
    width: int | None = None
    height: int | None = None
    taken_at: str | None = None
    camera: str | None = None
    stages: dict[str, float] | None = None  # what each ranking stage said: vector, lexical, rerank, fused, z
    duplicates: tuple[int, ...] | None = None  # near-duplicates shown as this one hit

    def to_json(self) -> dict[str, Any]:
        found = {key: value for key, value in asdict(self).items() if value is not None or key == "score"}
        if "duplicates" in found:
            found["duplicates"] = list(found["duplicates"])
        return found


def hits(catalog: Catalog, collection: Collection, page: Candidates, offset: int) -> list[Hit]:
    """One page of ranked candidates as hits; an item deleted since it was ranked is left out."""
    ids = page.ids.tolist()
    found: list[Hit] = []
    if collection == "media":
        pictures = catalog.media_rows(ids)
        for position, item in enumerate(ids):
            if (row := pictures.get(item)) is not None:
                found.append(
                    Hit(
                        **_ranked(page, position, offset),
                        kind="image",
                        path=row.path,
                        width=row.width,
                        height=row.height,
                        taken_at=row.taken_at,
                        camera=row.camera,
                        duplicates=page.duplicates[position] or None,
                    )
                )
        return found
    texts = catalog.text_rows(ids)
    for position, item in enumerate(ids):
        if (text := texts.get(item)) is not None:
            found.append(
                Hit(
                    **_ranked(page, position, offset),
                    kind="text",
                    text=text.text,
                    source=text.source,
                    media_id=text.media_id,
                )
            )
    return found


def _ranked(page: Candidates, position: int, offset: int) -> dict[str, Any]:
    """What every hit says of its place in the ranking, image or text."""
    return {
        "id": int(page.ids[position]),
        "rank": offset + position + 1,
        "score": _shown(page.order_score[position]),
        "cosine": float(page.score[position]),
        "stages": page.stages_of(position),
    }


def _shown(order_score: float) -> float | None:
    """None past a reranked block: those hits were never scored on the reranker's scale."""
    return None if np.isnan(order_score) else float(order_score)
