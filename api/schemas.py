"""The JSON shapes of the web API: typed, so the OpenAPI document at /docs is the real contract."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from indexer.catalog import MediaRow
from searcher.hits import Hit

SearchKind = Literal["text-to-image", "image-to-image", "image-to-text"]


class ErrorBody(BaseModel):
    """Every error: what went wrong and, where there is one, what to do about it."""

    detail: str = Field(description="What went wrong.")
    hint: str | None = Field(default=None, description="What to do next.")


class HitOut(BaseModel):
    id: int = Field(description="Catalog id: image ids work with /api/media/{id}.")
    rank: int = Field(description="1-based position in the whole ranking (offset included).")
    score: float | None = Field(
        description="The number the list is ordered by: the cosine for vector order alone, the fused rank score "
        "(1.0 = first in every list) when names and captions ranked too, the reranker's cosine for its reranked "
        "top (null past it), the MMR value with diversity. Never rises down the list, except with sort=date."
    )
    cosine: float = Field(description="Cosine similarity to the query, exact (from the stored vector).")
    kind: Literal["image", "text"]
    path: str | None = Field(default=None, description="Image hits: the file on the server.")
    name: str | None = Field(default=None, description="Image hits: the file name.")
    width: int | None = None
    height: int | None = None
    taken_at: str | None = Field(default=None, description="EXIF date taken, ISO 8601.")
    camera: str | None = None
    thumbnail_url: str | None = Field(default=None, description="Image hits: a cached thumbnail.")
    file_url: str | None = Field(default=None, description="Image hits: the original file.")
    text: str | None = Field(default=None, description="Text hits: the text.")
    source: str | None = Field(default=None, description="Text hits: the file it came from.")
    media_id: int | None = Field(default=None, description="Text hits: the image it captions, when known.")
    stages: dict[str, float] | None = Field(
        default=None,
        description="What each ranking stage said: vector (cosine) and vector_rank, lexical (BM25) and lexical_rank, "
        "rerank and rerank_rank, fused (reciprocal rank fusion), z (standard deviations above the query's mean).",
    )
    duplicates: list[int] | None = Field(default=None, description="Ids of near-duplicates shown as this hit.")

    @classmethod
    def of(cls, hit: Hit) -> HitOut:
        fields: dict[str, Any] = hit.to_json()
        if hit.kind == "image":
            fields["name"] = (hit.path or "").rsplit("/", 1)[-1]
            fields["thumbnail_url"] = f"/api/media/{hit.id}/thumbnail"
            fields["file_url"] = f"/api/media/{hit.id}/file"
        return cls(**fields)


class SearchResponse(BaseModel):
    query: str = Field(description="The text query, or what the image query was.")
    kind: SearchKind
    k: int
    offset: int
    hits: list[HitOut]
    next_offset: int | None = Field(description="Offset of the next page; null when this page was the last.")
    took_ms: float = Field(description="Time spent answering, in milliseconds.")


class MediaOut(BaseModel):
    id: int
    path: str
    name: str
    folder: str
    size: int = Field(description="File size in bytes.")
    format: str | None
    width: int | None
    height: int | None
    taken_at: str | None
    camera_make: str | None
    camera_model: str | None
    indexed_at: str | None
    thumbnail_url: str
    file_url: str

    @classmethod
    def of(cls, row: MediaRow) -> MediaOut:
        path = Path(row.path)
        return cls(
            id=row.id,
            path=row.path,
            name=path.name,
            folder=str(path.parent),
            size=row.size,
            format=row.format,
            width=row.width,
            height=row.height,
            taken_at=row.taken_at,
            camera_make=row.camera_make,
            camera_model=row.camera_model,
            indexed_at=datetime.fromtimestamp(row.indexed_at, timezone.utc).isoformat(timespec="seconds"),
            thumbnail_url=f"/api/media/{row.id}/thumbnail",
            file_url=f"/api/media/{row.id}/file",
        )


class IndexOut(BaseModel):
    kind: str = Field(description="flat (exact) or ivf, as the newest index generation on disk was built.")
    nlist: int | None
    count: int = Field(description="Vectors in that generation.")
    current: bool = Field(description="False while items committed since are searched exactly beside it.")


class FailureOut(BaseModel):
    path: str
    reason: str


class QueriesOut(BaseModel):
    runtime: str = Field(description="What encodes queries: onnx, onnx-int8 (words in int8) or torch.")
    why: str | None = Field(default=None, description="Why torch, when it is torch.")
    text_error: float | None = Field(default=None, description="The export's largest difference from torch.")
    image_error: float | None = None
    pictures: str | None = Field(default=None, description="What encodes picture queries.")
    int8_text: str | None = Field(default=None, description="The int8 text tower's verdict from xmodal eval.")


class StatsOut(BaseModel):
    library: str
    model: str | None
    dim: int | None
    images: int
    videos: int = Field(default=0, description="Videos indexed (whole or in part).")
    moments: int = Field(default=0, description="The videos' moments: what video searches return.")
    failed: int
    texts: int
    text_sources: int
    disk_bytes: int = Field(description="Catalog, index generations, caches and thumbnails.")
    thumbnail_bytes: int = Field(description="The thumbnail cache's part, counted at most every few minutes.")
    indexes: dict[str, IndexOut]
    pictures_encoded_by: list[str] = Field(
        default_factory=list,
        description="What encoded the library's picture vectors (torch, onnx, onnx-int8); more than one: mixed.",
    )
    queries: QueriesOut | None
    failures: list[FailureOut]
    partial_videos: list[FailureOut] = Field(
        default_factory=list, description="Videos indexed up to where they broke off, and why."
    )


class HealthOut(BaseModel):
    status: Literal["ok"] = Field(default="ok", description="The process answers; whether it can search is /readyz.")


class ReadyOut(BaseModel):
    status: Literal["ready"] = Field(
        default="ready", description="The library is open and its model loaded: searches answer."
    )
