"""Lexical match: the query's words against file names, folders, camera and the texts that describe an image.

CLIP cannot read "IMG_2041" or the caption a person wrote; SQLite FTS5 (BM25) can. Words that most
items share ("a", "photo", the library's own folder) are left out before matching: BM25 gives them
no weight anyway, and under OR they would make everything a match.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection

from indexer.catalog import Catalog, fts
from indexer.catalog.queries import ids_with_vectors
from searcher.query import Term

WORD = re.compile(r"\w+")
MAX_WORDS = 32
# A word in more than this share of the documents ranks nothing.
COMMON_SHARE = 0.5
TABLES: tuple[fts.Table, ...] = ("names", "texts")


@dataclass(frozen=True)
class LexicalQuery:
    include: tuple[str, ...]
    exclude: tuple[str, ...]


def words_of(terms: Sequence[Term]) -> LexicalQuery:
    """Words of the positive terms to match, words of the negative ones to exclude ("beach - people")."""
    include: list[str] = []
    exclude: list[str] = []
    for term in terms:
        bucket = include if term.weight > 0 else exclude
        for word in WORD.findall(term.text.lower()):
            if word not in bucket and len(include) + len(exclude) < MAX_WORDS:
                bucket.append(word)
    return LexicalQuery(tuple(include), tuple(exclude))


class Lexical:
    """BM25 over two FTS5 tables the catalog's triggers keep current (see indexer/catalog/fts.py)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    @staticmethod
    def _useful(table: fts.Table, words: Sequence[str], conn: Connection) -> list[str]:
        """The words that can rank: present in the table, and not in most of its documents."""
        total, counts = fts.document_frequencies(conn, table, words)
        return [word for word in words if counts[word] and counts[word] <= max(1, COMMON_SHARE * total)]

    def rank(
        self, query: LexicalQuery, limit: int, exclude_sources: Sequence[str] = ()
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ids of indexed images matching the query's words, their BM25 scores (higher is better), best first,
        and whether one name or text of the item holds every word that can rank (a match the cutoff keeps).

        `exclude_sources`: texts from these files do not count (evaluation asks with captions it also indexed).
        """
        empty = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), np.zeros(0, dtype=bool)
        if not query.include:
            return empty
        scores: dict[int, float] = {}
        complete: set[int] = set()
        excluded: set[int] = set()
        with self.catalog.engine.connect() as conn:
            for table in TABLES:
                depth = limit if table == "names" else limit * 4  # many texts may describe one picture
                useful = self._useful(table, query.include, conn)
                if not useful:
                    continue
                for item, score in fts.match(conn, table, fts.any_of(useful), depth, exclude_sources):
                    scores[item] = max(scores.get(item, 0.0), score)
                if len(useful) == len(query.include):
                    whole = fts.match(conn, table, fts.all_of(useful), limit, exclude_sources)
                    complete.update(item for item, _ in whole)
            if query.exclude and scores:
                negative = fts.any_of(query.exclude)
                for table in TABLES:
                    excluded.update(item for item, _ in fts.match(conn, table, negative, None, exclude_sources))
        found = [item for item in scores if item not in excluded]
        with_vectors = ids_with_vectors(self.catalog, "media", found)
        found = [item for item in found if item in with_vectors]
        if not found:
            return empty
        ids = np.asarray(found, dtype=np.int64)
        values = np.asarray([scores[item] for item in found], dtype=np.float32)
        whole_words = np.asarray([item in complete for item in found], dtype=bool)
        order = np.lexsort((ids, -values))[:limit]
        return ids[order], values[order], whole_words[order]
