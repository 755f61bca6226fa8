"""What a person asks, and the query language it is asked in.

`a + b - c` with weights (`2:beach + sunset - 0.5:people`) combines terms into one vector. Terms are split
only on a `+` or `-` with spaces around it, so "t-shirt" and "5+ people" stay whole. A picture can be one
more term (`--image PHOTO` with text: "this photo, but at night").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core.errors import InputError

if TYPE_CHECKING:
    from PIL import Image

_OPERATOR = re.compile(r"\s+([+-])\s+")
_WEIGHT = re.compile(r"^(\d+(?:\.\d+)?|\.\d+)\s*:\s*(.*)$")
MAX_TERMS = 16
SYNTAX_HINT = 'combine terms like "2:beach + sunset - people" (a weight is NUMBER:, + adds, - subtracts)'


MAX_QUERY_CHARS = 1000


@dataclass(frozen=True)
class Term:
    text: str
    weight: float  # negative for a subtracted term


@dataclass(frozen=True)
class Query:
    """What a person asks: words in the query language, a picture, an indexed image ("more like this"),
    or a vector someone already has (evaluation asks with stored caption vectors)."""

    text: str | None = None
    image: bytes | None = None
    image_name: str = "query image"
    media_id: int | None = None
    vector: np.ndarray | None = None
    max_pixels: int | None = None  # uploads are held to a tighter bound than indexed files
    pixel_setting: str = "max_image_pixels"  # the setting that bound is, to name it when a picture is refused


@dataclass(frozen=True)
class PreparedQuery:
    """A query as the stages need it: its vector, and what the lexical stage and the reranker read."""

    vector: np.ndarray
    terms: tuple[Term, ...] = ()
    picture: Image.Image | None = None
    media_id: int | None = None

    @property
    def words_only(self) -> bool:
        """Words with no picture: only then do names and captions rank, and does the relevance cutoff apply."""
        return self.picture is None and self.media_id is None and any(term.weight > 0 for term in self.terms)


def clean_text(text: str) -> str:
    """Words with their spacing made regular; empty or over-long words are refused here, and only here."""
    text = " ".join(text.split())
    if not text:
        raise InputError("the query is empty", 'type what you are looking for, e.g. xmodal search "a red car"')
    if len(text) > MAX_QUERY_CHARS:
        raise InputError(f"the query is {len(text)} characters long; the limit is {MAX_QUERY_CHARS}")
    return text


def parse_query(query: str) -> list[Term]:
    query = clean_text(query)
    pieces = _OPERATOR.split(" " + query)  # a leading "+ x" or "- x" adds to or takes from a picture
    first = pieces.pop(0).strip()
    signed = ([("+", first)] if first else []) + list(zip(pieces[0::2], pieces[1::2], strict=True))
    terms = []
    for operator, piece in signed:
        text, weight = piece.strip(), 1.0
        match = _WEIGHT.match(text)
        if match:
            weight, text = float(match.group(1)), match.group(2).strip()
        if not text or weight == 0:
            raise InputError(f"a term of {query!r} is empty or weighs 0", SYNTAX_HINT)
        terms.append(Term(text, -weight if operator == "-" else weight))
    if len(terms) > MAX_TERMS:
        raise InputError(f"the query has {len(terms)} terms; the limit is {MAX_TERMS}", SYNTAX_HINT)
    return terms


def combine(terms: list[Term], encode: Callable[[str], np.ndarray], image: np.ndarray | None = None) -> np.ndarray:
    """The weighted sum of the terms' unit vectors (plus the image's, weight 1), normalized again."""
    if image is None and all(term.weight < 0 for term in terms):
        raise InputError("the query only subtracts: say what to look for first", SYNTAX_HINT)
    total = np.zeros_like(image) if image is not None else None
    for term in terms:
        vector = term.weight * encode(term.text)
        total = vector if total is None else total + vector
    if image is not None:
        total = image if total is None else total + image
    if total is None:
        raise InputError("nothing to search for", SYNTAX_HINT)
    norm = float(np.linalg.norm(total))
    if norm < 1e-6:
        raise InputError("the terms cancel each other out", SYNTAX_HINT)
    return (total / norm).astype(np.float32)
