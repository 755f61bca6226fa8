"""The query language: `a + b - c`, weights (`2:beach + sunset - 0.5:people`), combined into one vector.

Terms are split only on a `+` or `-` with spaces around it, so "t-shirt" and "5+ people" stay whole.
A picture can be one more term (`--image PHOTO` with text: "this photo, but at night").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.errors import InputError

_OPERATOR = re.compile(r"\s+([+-])\s+")
_WEIGHT = re.compile(r"^(\d+(?:\.\d+)?|\.\d+)\s*:\s*(.*)$")
MAX_TERMS = 16
SYNTAX_HINT = 'combine terms like "2:beach + sunset - people" (a weight is NUMBER:, + adds, - subtracts)'


@dataclass(frozen=True)
class Term:
    text: str
    weight: float  # negative for a subtracted term


def parse_query(query: str) -> list[Term]:
    query = " ".join(query.split())
    if not query:
        raise InputError("the query is empty", 'type what you are looking for, e.g. xmodal search "a red car"')
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
