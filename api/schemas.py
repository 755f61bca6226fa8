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


def play_url(video_id: int, start: float, end: float) -> str:
    """The video's file with a W3C media fragment: a player that honours it plays just the moment."""
    return f"/api/media/{video_id}/file#t={start:g},{end:g}"


class MomentOut(BaseModel):
    """Another moment of a video hit's video, ranked further down and folded into the hit."""

    id: int = Field(description="The moment's catalog id: its thumbnail, texts and similar items are under it.")
    start: float = Field(description="Where the moment starts, in seconds from the video's start.")
    end: float = Field(description="Where it ends, in seconds.")
    frame_time: float = Field(description="The frame that shows it best (its thumbnail), in seconds.")
    cosine: float = Field(description="Its cosine similarity to the query.")
    thumbnail_url: str = Field(description="A JPEG of the frame at frame_time.")
    play_url: str = Field(description="The video's file with a media fragment (#t=start,end) for the moment.")


class HitOut(BaseModel):
    id: int = Field(
        description="Catalog id: works with /api/media/{id}. A video hit's is its moment's (video_id: the video's)."
    )
    rank: int = Field(description="1-based position in the whole ranking (offset included).")
    score: float | None = Field(
        description="The number the list is ordered by: the cosine for vector order alone, the fused rank score "
        "(1.0 = first in every list) when names and captions ranked too, the reranker's cosine for its reranked "
        "top (null past it), the MMR value with diversity. Never rises down the list, except with sort=date."
    )
    cosine: float = Field(description="Cosine similarity to the query, exact (from the stored vector).")
    kind: Literal["image", "video", "text"] = Field(
        description="image: a picture; video: a moment of a video (its best-ranked one); text: a caption or note."
    )
    path: str | None = Field(default=None, description="Image and video hits: the file on the server.")
    companion: str | None = Field(
        default=None,
        description="Image hits: the photo's RAW file on the server, beside the JPEG or HEIC of the same name that "
        "was indexed for it (RAW+JPEG: one photo, two files); null when there is none.",
    )
    name: str | None = Field(default=None, description="Image and video hits: the file name.")
    width: int | None = None
    height: int | None = None
    taken_at: str | None = Field(default=None, description="EXIF date taken, ISO 8601.")
    camera: str | None = None
    thumbnail_url: str | None = Field(
        default=None, description="Image hits: a cached thumbnail. Video hits: the moment's best frame (frame_time)."
    )
    file_url: str | None = Field(
        default=None, description="Image hits: the original file. Video hits: the whole video (byte ranges served)."
    )
    play_url: str | None = Field(
        default=None,
        description="Video hits: file_url with a W3C media fragment (#t=start,end) for a player to play the moment.",
    )
    video_id: int | None = Field(default=None, description="Video hits: the video's own id (its metadata, its file).")
    start: float | None = Field(default=None, description="Video hits: the moment's start, in seconds.")
    end: float | None = Field(default=None, description="Video hits: the moment's end, in seconds.")
    frame_time: float | None = Field(
        default=None, description="Video hits: the frame that shows the moment best (the thumbnail), in seconds."
    )
    duration: float | None = Field(default=None, description="Video hits: the whole video's length, in seconds.")
    moments: list[MomentOut] | None = Field(
        default=None,
        description="Video hits: the video's other moments further down the ranking, best first, folded into this "
        "hit so the video is listed once (the moments stage; null when there are none).",
    )
    words: str | None = Field(
        default=None, description="Image hits: the words read in the picture (OCR), one line per line of text."
    )
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
        if hit.kind in ("image", "video"):
            fields["name"] = (hit.path or "").rsplit("/", 1)[-1]
            fields["thumbnail_url"] = f"/api/media/{hit.id}/thumbnail"
            fields["file_url"] = f"/api/media/{hit.id}/file"
        if hit.kind == "video" and hit.video_id is not None:
            fields["file_url"] = f"/api/media/{hit.video_id}/file"
            fields["play_url"] = play_url(hit.video_id, hit.start or 0.0, hit.end or 0.0)
            fields["moments"] = [
                MomentOut(
                    id=moment.id,
                    start=moment.start,
                    end=moment.end,
                    frame_time=moment.frame_time,
                    cosine=moment.cosine,
                    thumbnail_url=f"/api/media/{moment.id}/thumbnail",
                    play_url=play_url(hit.video_id, moment.start, moment.end),
                )
                for moment in hit.moments or ()
            ] or None
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
    path: str = Field(description="The file on the server; for a moment of a video, the video's.")
    companion: str | None = Field(
        default=None, description="The photo's RAW file beside this JPEG or HEIC (RAW+JPEG: one photo), if any."
    )
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
    media_type: Literal["image", "video"] = Field(
        default="image", description="image, or video: a video file, or one moment of one (parent_id set)."
    )
    duration: float | None = Field(default=None, description="Videos and their moments: the video's length, seconds.")
    parent_id: int | None = Field(default=None, description="A moment: its video's id.")
    start: float | None = Field(default=None, description="A moment: where it starts, in seconds.")
    end: float | None = Field(default=None, description="A moment: where it ends, in seconds.")
    frame_time: float | None = Field(default=None, description="A moment: the frame that shows it best, seconds.")
    thumbnail_url: str
    file_url: str = Field(description="The original file; for a moment, its video's (byte ranges served).")
    play_url: str | None = Field(default=None, description="A moment: file_url with a #t=start,end media fragment.")
    words: str | None = Field(default=None, description="A picture: the words read in it (OCR), one line per line.")

    @classmethod
    def of(cls, row: MediaRow, video: MediaRow | None = None, words: str | None = None) -> MediaOut:
        """`video`: a moment's video, whose file, name and length the moment shares."""
        video = video or row
        path = Path(video.path)
        moment = row.parent_id is not None
        start, end = row.start_s or 0.0, row.end_s or 0.0
        return cls(
            id=row.id,
            path=video.path,
            companion=row.companion_path,
            name=path.name,
            folder=str(path.parent),
            size=video.size,
            format=video.format,
            width=video.width,
            height=video.height,
            taken_at=video.taken_at,
            camera_make=video.camera_make,
            camera_model=video.camera_model,
            indexed_at=datetime.fromtimestamp(row.indexed_at, timezone.utc).isoformat(timespec="seconds"),
            media_type="video" if row.media_type == "video" else "image",
            duration=video.duration_s,
            parent_id=row.parent_id,
            start=row.start_s,
            end=row.end_s,
            frame_time=row.frame_s,
            thumbnail_url=f"/api/media/{row.id}/thumbnail",
            file_url=f"/api/media/{video.id}/file",
            play_url=play_url(video.id, start, end) if moment else None,
            words=words,
        )


class IndexOut(BaseModel):
    kind: str = Field(
        description="flat (exact), ivf or ivfpq (compressed codes, re-ranked from the stored vectors), as the "
        "newest index generation on disk was built."
    )
    nlist: int | None
    count: int = Field(description="Vectors in that generation.")
    shards: int = Field(default=1, description="Files the generation is saved in, searched as one (ray.serve_shards).")
    current: bool = Field(description="False while items committed since are searched exactly beside it.")
    delta: int = Field(default=0, description="Vectors written since that generation, searched exactly beside it.")
    vector_bytes: int = Field(default=0, description="Size of the collection's vector file.")
    precision: str = Field(default="", description="float32 or float16: how the vector file stores values.")


class FailureOut(BaseModel):
    path: str
    reason: str


class SkippedOut(BaseModel):
    reason: str = Field(description="Why these files are not indexed.")
    count: int = Field(description="How many files the last scans found skipped for this reason.")
    examples: list[str] = Field(description="The first few of them, by path.")


class QueriesOut(BaseModel):
    runtime: str = Field(description="What encodes queries: onnx, onnx-int8 (words in int8) or torch.")
    why: str | None = Field(default=None, description="Why torch, when it is torch.")
    text_error: float | None = Field(default=None, description="The export's largest difference from torch.")
    image_error: float | None = None
    pictures: str | None = Field(default=None, description="What encodes picture queries.")
    int8_text: str | None = Field(default=None, description="The int8 text tower's verdict from xmodal eval.")


class OcrOut(BaseModel):
    read: int = Field(description="Pictures whose words have been read (with words or not).")
    with_text: int = Field(description="Pictures in which words were found: their words are searched.")
    failed: int = Field(description="Pictures whose words could not be read (listed in failures).")
    to_read: int = Field(description="Pictures still to be read (xmodal ocr reads them; a watcher does by itself).")
    library_choice: str = Field(description="on, off, or on (default): the library's own --ocr/--no-ocr choice.")
    engine: str | None = Field(description="What reads words here: Tesseract's version and languages.")
    problem: str | None = Field(description="Why words cannot be read here (Tesseract or its languages missing).")
    failures: list[FailureOut]


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
    disk_bytes: int = Field(description="Catalog, vector files, index generations, caches and thumbnails.")
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
    skipped: int = Field(
        default=0, description="Picture-looking files the scans left out (a .jxl, a .psd): not indexed, not failed."
    )
    skipped_by_reason: list[SkippedOut] = Field(
        default_factory=list, description="The skipped files by reason, most first, with a few paths of each."
    )
    ocr: OcrOut | None = Field(default=None, description="Reading the words in pictures: how far it has come.")


class HealthOut(BaseModel):
    status: Literal["ok"] = Field(default="ok", description="The process answers; whether it can search is /readyz.")


class ReadyOut(BaseModel):
    status: Literal["ready"] = Field(
        default="ready", description="The library is open and its model loaded: searches answer."
    )
