"""Lexical match: the query's words against file names, folders, camera, the texts that describe a picture and
the words read in it (`hybrid`). Items the words find that the vector ranking missed join the candidates.

CLIP cannot read "IMG_2041" or the caption a person wrote; SQLite FTS5 (BM25) can. Words that most items
share ("a", "photo", the library's own folder) are left out before matching: BM25 gives them no weight
anyway, and under OR they would make everything a match. Where some item holds every word that ranks, only
such items rank lexically.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from indexer.catalog import Catalog, Collection, fts
from searcher.candidates import Candidates
from searcher.query import Term
from searcher.stages import RankRequest

WORD = re.compile(r"\w+")
MAX_WORDS = 32
COMMON_SHARE = 0.5  # a word in more than this share of a table's documents ranks nothing
TABLES: tuple[fts.Table, ...] = ("names", "texts", "words")
TEXTS_PER_PICTURE = 4  # many texts may describe one picture: read deeper into the texts table
# Words that hold a sentence together but say nothing a file name would: "a cat" must find cat.jpg as
# holding every word. Only when a query is nothing but these do they count.
_STOP_WORDS = (
    "a an the of on in at to with and or for by from into onto over under is are was were be this that these "
    "those some any my our your his her its their there here it as"
)
STOP_WORDS = frozenset(_STOP_WORDS.split())


@dataclass(frozen=True)
class Words:
    include: tuple[str, ...]
    exclude: tuple[str, ...]


@dataclass(frozen=True)
class LexicalMatches:
    """Pictures the words found, best BM25 first."""

    ids: np.ndarray
    bm25: np.ndarray
    all_words: np.ndarray  # one name or text holds every query word (all of them rank in its table)
    # one name or text holds every word that ranks in its table (the common ones left out, as BM25 leaves them)
    useful_words: np.ndarray

    @classmethod
    def none(cls) -> LexicalMatches:
        nothing = np.zeros(0, dtype=bool)
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64), nothing, nothing)

    def take(self, rows: np.ndarray) -> LexicalMatches:
        return LexicalMatches(self.ids[rows], self.bm25[rows], self.all_words[rows], self.useful_words[rows])


def words_of(terms: Sequence[Term]) -> Words:
    """Words of the positive terms to match, words of the negative ones to exclude ("beach - people");
    stop words are left out of both unless a side has nothing else."""
    include: list[str] = []
    exclude: list[str] = []
    for term in terms:
        bucket = include if term.weight > 0 else exclude
        for word in WORD.findall(term.text.lower()):
            if word not in bucket and len(include) + len(exclude) < MAX_WORDS:
                bucket.append(word)
    return Words(_without_stop_words(include), _without_stop_words(exclude))


def _without_stop_words(words: list[str]) -> tuple[str, ...]:
    meaningful = tuple(word for word in words if word not in STOP_WORDS)
    return meaningful or tuple(words)


def useful_words(total: int, frequencies: dict[str, int], words: Sequence[str]) -> list[str]:
    """The words that can rank in a table: present, and not in most of its documents."""
    return [word for word in words if frequencies.get(word) and frequencies[word] <= max(1, COMMON_SHARE * total)]


def lexical_matches(catalog: Catalog, words: Words, limit: int, exclude_sources: Sequence[str] = ()) -> LexicalMatches:
    """The pictures whose names or describing texts match the words, best first (at most `limit`).

    A picture that a subtracted word matches is left out; `exclude_sources`: texts from these files do not
    count (evaluation asks with captions it also indexed).
    """
    if not words.include:
        return LexicalMatches.none()
    scores: dict[int, float] = {}
    complete: set[int] = set()
    complete_useful: set[int] = set()
    excluded: set[int] = set()
    with catalog.connection() as conn:
        for table in TABLES:
            total, frequencies = fts.document_frequencies(conn, table, words.include, common_share=COMMON_SHARE)
            useful = useful_words(total, frequencies, words.include)
            if not useful:
                continue
            depth = limit if table == "names" else limit * TEXTS_PER_PICTURE
            matched = fts.match(conn, table, fts.any_of(useful, table), depth, exclude_sources)
            for item, score in matched:
                scores[item] = max(scores.get(item, 0.0), score)
            common = [word for word in words.include if word not in useful]
            # with one ranking word, what matched holds it (the same query again would find the same items)
            holding_useful = [item for item, _ in matched]
            if len(useful) > 1:
                holding_useful = fts.holding_all(conn, table, useful, [], depth, exclude_sources)
            complete_useful.update(holding_useful)
            if all(frequencies.get(word) for word in words.include):  # as deep as the match: all are judged
                held = holding_useful
                if common:
                    held = fts.holding_all(conn, table, useful, common, depth, exclude_sources)
                complete.update(held)
        if words.exclude and scores:
            for table in TABLES:
                negative = fts.any_of(words.exclude, table)
                excluded.update(item for item, _ in fts.match(conn, table, negative, None, exclude_sources))
    found = [item for item in scores if item not in excluded]
    searchable = catalog.ids_with_vectors("media", found)
    found = [item for item in found if item in searchable]
    if not found:
        return LexicalMatches.none()
    ids = np.asarray(found, dtype=np.int64)
    bm25 = np.asarray([scores[item] for item in found], dtype=np.float64)
    all_words = np.asarray([item in complete for item in found], dtype=bool)
    holds_useful = np.asarray([item in complete_useful for item in found], dtype=bool)
    order = np.lexsort((ids, -bm25))[:limit]
    return LexicalMatches(ids, bm25, all_words, holds_useful).take(order)


Scorer = Callable[[np.ndarray, Collection, np.ndarray], Candidates]


class LexicalStage:
    name = "lexical"

    def __init__(self, catalog: Catalog, score: Scorer) -> None:
        self.catalog = catalog
        self.score = score  # stored vectors and exact scores of items the vector ranking did not bring

    def applies(self, request: RankRequest) -> bool:
        return request.ranking.hybrid and request.words

    def __call__(self, candidates: Candidates, request: RankRequest) -> Candidates:
        limit = request.ranking.candidates
        matches = lexical_matches(self.catalog, words_of(request.query.terms), limit, request.lexical_exclude_sources)
        keep = matches.ids != request.exclude if request.exclude is not None else np.ones(len(matches.ids), bool)
        if request.allowed is not None:
            keep &= np.isin(matches.ids, request.allowed)
        if matches.useful_words[keep].any():
            # Where some item holds every word that ranks, one holding some is no lexical match: among 33
            # invoices, all saying INVOICE and 2024, "invoice 2024 flivucham" found its receipt first 1 time in
            # 14, the others' lexical credit lifting those the vectors liked; 14 in 14 like this
            # (bench/RESULTS.md, ocr_quality). Words most texts hold do not count ("photo of bramble").
            keep &= matches.useful_words
        matches = matches.take(np.flatnonzero(keep))
        if not len(matches.ids):
            return candidates
        known = set(candidates.ids.tolist())
        new = np.asarray([item for item in matches.ids.tolist() if item not in known], dtype=np.int64)
        if len(new):
            found = self.score(request.query.vector, request.collection, new)
            candidates = candidates.extend(found.ids, found.score, found.vectors)
        position = candidates.position_of()
        rows = np.asarray([position[item] for item in matches.ids.tolist() if item in position], dtype=np.int64)
        matched = np.asarray([item in position for item in matches.ids.tolist()], dtype=bool)
        lexical, lexical_rank = candidates.lexical.copy(), candidates.lexical_rank.copy()
        all_words = candidates.lexical_all_words.copy()
        lexical[rows] = matches.bm25[matched]
        lexical_rank[rows] = np.arange(1, len(matches.ids) + 1)[matched]
        all_words[rows] = matches.all_words[matched]
        return candidates.with_columns(lexical=lexical, lexical_rank=lexical_rank, lexical_all_words=all_words)
