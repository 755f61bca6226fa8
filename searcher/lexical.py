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

from indexer.catalog import Catalog
from searcher.query import Term

WORD = re.compile(r"\w+")
MAX_WORDS = 32
# A word in more than this share of the documents ranks nothing.
COMMON_SHARE = 0.5
# Names weigh more than folders and camera: bm25(media_fts, name, folder, camera).
NAME_WEIGHTS = (4.0, 1.0, 1.0)


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


def _quoted(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def _any(words: Sequence[str]) -> str:
    return " OR ".join(_quoted(word) for word in words)


def _all(words: Sequence[str]) -> str:
    return " AND ".join(_quoted(word) for word in words)


class Lexical:
    """BM25 over two FTS5 tables the catalog's triggers keep current (see indexer/fts.py)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    @staticmethod
    def _useful(table: str, words: Sequence[str], conn: Connection) -> list[str]:
        """The words that can rank: present in the table, and not in most of its documents."""
        total = conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() or 0
        useful = []
        for word in words:
            count = conn.exec_driver_sql(
                f"SELECT count(*) FROM {table} WHERE {table} MATCH ?", (_quoted(word),)
            ).scalar()
            if count and count <= max(1, COMMON_SHARE * total):
                useful.append(word)
        return useful

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
            name_words = self._useful("media_fts", query.include, conn)
            text_words = self._useful("text_fts", query.include, conn)
            skip = ",".join("?" * len(exclude_sources))
            not_from = f"AND t.source NOT IN ({skip})" if exclude_sources else ""
            if name_words:
                stmt = (
                    f"SELECT rowid, -bm25(media_fts, {', '.join(map(str, NAME_WEIGHTS))}) FROM media_fts "
                    "WHERE media_fts MATCH ? ORDER BY rank LIMIT ?"
                )
                for item_id, score in conn.exec_driver_sql(stmt, (_any(name_words), limit)):
                    scores[item_id] = max(scores.get(item_id, 0.0), float(score))
                if len(name_words) == len(query.include):
                    stmt = "SELECT rowid FROM media_fts WHERE media_fts MATCH ? LIMIT ?"
                    complete.update(conn.exec_driver_sql(stmt, (_all(name_words), limit)).scalars())
            if text_words:
                stmt = (
                    "SELECT t.media_id, -bm25(text_fts) FROM text_fts JOIN texts t ON t.id = text_fts.rowid "
                    f"WHERE text_fts MATCH ? AND t.media_id IS NOT NULL {not_from} ORDER BY rank LIMIT ?"
                )
                for item_id, score in conn.exec_driver_sql(stmt, (_any(text_words), *exclude_sources, limit * 4)):
                    scores[item_id] = max(scores.get(item_id, 0.0), float(score))
                if len(text_words) == len(query.include):
                    stmt = (
                        "SELECT t.media_id FROM text_fts JOIN texts t ON t.id = text_fts.rowid "
                        f"WHERE text_fts MATCH ? AND t.media_id IS NOT NULL {not_from} LIMIT ?"
                    )
                    complete.update(conn.exec_driver_sql(stmt, (_all(text_words), *exclude_sources, limit)).scalars())
            if query.exclude and scores:
                negative = _any(query.exclude)
                excluded.update(
                    conn.exec_driver_sql("SELECT rowid FROM media_fts WHERE media_fts MATCH ?", (negative,)).scalars()
                )
                stmt = (
                    "SELECT t.media_id FROM text_fts JOIN texts t ON t.id = text_fts.rowid "
                    f"WHERE text_fts MATCH ? AND t.media_id IS NOT NULL {not_from}"
                )
                excluded.update(conn.exec_driver_sql(stmt, (negative, *exclude_sources)).scalars())
            found = [item for item in scores if item not in excluded]
            if found:
                ok = set(
                    conn.exec_driver_sql(
                        "SELECT id FROM media_vectors WHERE id IN (SELECT value FROM json_each(?))",
                        (f"[{','.join(map(str, found))}]",),
                    ).scalars()
                )
                found = [item for item in found if item in ok]
        if not found:
            return empty
        ids = np.asarray(found, dtype=np.int64)
        values = np.asarray([scores[item] for item in found], dtype=np.float32)
        whole = np.asarray([item in complete for item in found], dtype=bool)
        order = np.lexsort((ids, -values))[:limit]
        return ids[order], values[order], whole[order]
