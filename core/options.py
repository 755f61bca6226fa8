"""Search options, declared once: what a search may be asked (paging, filters, ordering) and the ranking
stages' switches. Help texts and bounds live here and nowhere else.

- `Ranking` holds every stage's parameters. The settings' `ranking` section is one (its defaults are the
  shipped defaults); the fields declared with `switch()` can also be set per query.
- `SearchOptions` is what one query may set. Its switch fields are made from `Ranking`'s, so a new switch
  is one `switch()` field here and the stage module that reads it. `xmodal search` turns these fields into
  flags (api/cli_options.py), the API into query parameters (FastAPI reads the model), with the same help.
"""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, create_model

Sort = Literal["relevance", "date"]
MediaType = Literal["image", "video", "text"]
Orientation = Literal["landscape", "portrait", "square"]
CutoffMethod = Literal["z", "relative", "gap", "calibrated"]

MAX_K = 10_000
DEFAULT_TEMPLATES = ("{}", "a photo of {}", "a picture of {}", "an image of {}")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def switch(default: Any, description: str, **constraints: Any) -> Any:
    """A ranking parameter that a single query may also set (`--hybrid/--no-hybrid`, `hybrid=false`)."""
    return Field(default=default, description=description, json_schema_extra={"switch": True}, **constraints)


def _strict_day(value: object) -> object:
    """Strictly YYYY-MM-DD: a bare number is not quietly read as a Unix timestamp."""
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DAY.match(value):
        return value
    raise ValueError(f"{value!r} is not a day written as YYYY-MM-DD")


Day = Annotated[
    date,
    BeforeValidator(_strict_day),
    WithJsonSchema({"type": "string", "format": "date", "pattern": _DAY.pattern}),
]


class Ranking(BaseModel):
    """The ranking stages after the vector search (searcher/stages/); XMODAL_RANKING__HYBRID=false etc."""

    model_config = ConfigDict(frozen=True)

    candidates: int = Field(default=100, ge=1, le=10_000, description="Items every stage sees, at least.")
    hybrid: bool = switch(True, "Also match names, folders, captions and camera (lexical, fused by rank).")
    vector_weight: float = Field(default=1.0, ge=0, description="Weight of the vector ranking in the fusion.")
    lexical_weight: float = Field(default=1.0, ge=0, description="Weight of the lexical ranking in the fusion.")
    rrf_k: int = Field(default=60, ge=1, description="Reciprocal rank fusion constant: 1/(k + rank).")
    expand: bool = switch(False, 'Average each word term over prompts ("a photo of …").')
    templates: tuple[str, ...] = Field(default=DEFAULT_TEMPLATES, min_length=1, description="Prompts for expand.")
    rerank: bool = switch(True, "Rescore the top with the second model (ranking.rerank_model), when one is set.")
    rerank_model: str | None = Field(default=None, description="A second open_clip model to rescore the top.")
    rerank_pretrained: str | None = Field(default=None, description="Its pretrained tag or checkpoint.")
    rerank_depth: int = Field(default=100, ge=1, le=2000, description="How many top items the reranker sees.")
    # Off: every method measured also hid true matches of broad queries (bench/RESULTS.md, ranking_quality).
    cutoff: bool = switch(False, "Hide weak matches (how: cutoff_method).")
    cutoff_method: CutoffMethod = switch(
        "z",
        "How the cutoff decides: z (standard deviations above the query's mean over the library), relative "
        "(a share of the best hit's z), gap (the largest drop in the query's top scores) or calibrated "
        "(the model's cosine threshold learnt by `xmodal eval --pairs`; keeps all when none).",
    )
    cutoff_z: float = Field(default=1.75, description="Standard deviations above the query's mean score.")
    cutoff_fraction: float = Field(default=0.5, ge=0, le=1, description="relative: share of the best hit's z.")
    collapse: bool = switch(False, "Show near-duplicates (bursts, copies) as one hit.")
    duplicate_similarity: float = Field(default=0.99, gt=0, le=1, description="Cosine at which two are one.")
    moments: bool = switch(True, "Show each video once: its best moment, with its other moments under it.")
    mmr: float | None = switch(None, "Diversify: MMR lambda (1 = relevance only); off when unset.", ge=0, le=1)

    @property
    def reranks(self) -> bool:
        return self.rerank and self.rerank_model is not None


SWITCHES: tuple[str, ...] = tuple(
    name
    for name, field in Ranking.model_fields.items()
    if isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("switch")
)


class Paging(BaseModel):
    """Which slice of the ranking to return. Pages are consistent: ties are broken by id."""

    model_config = ConfigDict(frozen=True)

    k: int = Field(default=10, ge=1, le=MAX_K, description="How many results.")
    offset: int = Field(default=0, ge=0, le=2**62, description="Skip this many results (paging; no cap).")


class _Query(Paging):
    folder: str | None = Field(
        default=None, max_length=4096, description="Only under this folder, or folders matching a glob."
    )
    after: Day | None = Field(default=None, description="Taken on or after this day (YYYY-MM-DD).")
    before: Day | None = Field(default=None, description="Taken on or before this day (YYYY-MM-DD).")
    type: MediaType | None = Field(default=None, description="image, video, or text (searches the text corpus).")
    camera: str | None = Field(default=None, max_length=200, description="Camera make or model contains these words.")
    min_size: int | None = Field(default=None, ge=1, le=1_000_000, description="Shorter side at least this, pixels.")
    orientation: Orientation | None = Field(default=None, description="landscape, portrait or square.")
    video: int | None = Field(default=None, ge=1, le=2**63 - 1, description="Only moments of this video (its id).")
    sort: Sort = Field(default="relevance", description="relevance, or date (newest first) among the relevant.")
    min_score: float | None = Field(default=None, ge=-1, le=1, description="Drop hits below this cosine similarity.")

    def filters(self) -> Filters:
        return Filters(
            folder=self.folder,
            after=self.after,
            before=self.before,
            media_type=self.type if self.type in ("image", "video") else None,
            camera=self.camera,
            min_size=self.min_size,
            orientation=self.orientation,
            video=self.video,
        )

    def overrides(self) -> dict[str, Any]:
        """The switches this query set, by name (None: keep the setting)."""
        return {name: getattr(self, name) for name in SWITCHES if getattr(self, name) is not None}


def _switch_overrides() -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in SWITCHES:
        field = Ranking.model_fields[name]
        constraints = {key: getattr(meta, key) for meta in field.metadata for key in ("ge", "le") if hasattr(meta, key)}
        optional = field.annotation | None  # type: ignore[operator]
        fields[name] = (optional, Field(default=None, description=field.description, **constraints))
    return fields


if TYPE_CHECKING:

    class SearchOptions(_Query):
        """What one search may ask (its switch fields are made from Ranking's when the module loads)."""

else:
    SearchOptions = create_model(
        "SearchOptions",
        __base__=_Query,
        __doc__="What one search may ask: paging, filters, ordering, and the ranking switches (None: the setting).",
        **_switch_overrides(),
    )


class Filters(BaseModel):
    """What a search may return, answered by the catalog as a set of allowed ids."""

    model_config = ConfigDict(frozen=True)

    folder: str | None = None  # a folder (and everything under it), or a glob over folder paths
    after: date | None = None  # taken on or after (EXIF date; the file's time when there is none)
    before: date | None = None  # taken on or before
    media_type: Literal["image", "video"] | None = None
    camera: str | None = None  # words in the camera make or model, any case
    min_size: int | None = None  # pixels on the shorter side
    orientation: Orientation | None = None
    video: int | None = None  # moments of this video only

    def active(self) -> bool:
        return any(value is not None for value in self.model_dump().values())
