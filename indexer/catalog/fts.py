"""Full-text tables for lexical matching (file names, folders, camera, the texts that describe an item, and the
words read in a picture),
and the queries that ask them.

SQLite triggers keep them in step with `media` and `texts`, so every writer (index, watch, texts,
moves, deletes) updates them inside its own transaction, with no code of its own and no way to
drift. Porter stemming ("beaches" finds "beach"); underscores, dashes and dots split words, so
`IMG_2041_beach-sunset.jpg` is found by "beach" and by "sunset".
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from indexer.ocr.words import searchable

if TYPE_CHECKING:
    from sqlalchemy import Connection

TOKENIZER = "porter unicode61 remove_diacritics 2"

# basename(path) and dirname(path) in SQL: rtrim strips every trailing character that is not a '/'.
_FOLDER = "rtrim({p}, replace({p}, '/', ''))"
_NAME = "substr({p}, length(rtrim({p}, replace({p}, '/', ''))) + 1)"


def _media_values(row: str) -> str:
    path = f"{row}.path"
    camera = f"trim(coalesce({row}.camera_make, '') || ' ' || coalesce({row}.camera_model, ''))"
    return f"{row}.id, {_NAME.format(p=path)}, {_FOLDER.format(p=path)}, {camera}"


DDL = [
    f"CREATE VIRTUAL TABLE media_fts USING fts5(name, folder, camera, tokenize='{TOKENIZER}')",
    f"CREATE VIRTUAL TABLE text_fts USING fts5(body, tokenize='{TOKENIZER}')",
    f"""CREATE TRIGGER media_fts_update AFTER UPDATE OF path, camera_make, camera_model ON media BEGIN
        DELETE FROM media_fts WHERE rowid = old.id;
        INSERT INTO media_fts(rowid, name, folder, camera) VALUES ({_media_values("new")});
    END""",
    """CREATE TRIGGER media_fts_delete AFTER DELETE ON media BEGIN
        DELETE FROM media_fts WHERE rowid = old.id;
    END""",
    """CREATE TRIGGER text_fts_insert AFTER INSERT ON texts BEGIN
        INSERT INTO text_fts(rowid, body) VALUES (new.id, new.text);
    END""",
    """CREATE TRIGGER text_fts_update AFTER UPDATE OF text ON texts BEGIN
        DELETE FROM text_fts WHERE rowid = old.id;
        INSERT INTO text_fts(rowid, body) VALUES (new.id, new.text);
    END""",
    """CREATE TRIGGER text_fts_delete AFTER DELETE ON texts BEGIN
        DELETE FROM text_fts WHERE rowid = old.id;
    END""",
]


# The words read in pictures: only pictures with text are documents here (rowid = the picture's id).
WORDS_DDL = [
    f"CREATE VIRTUAL TABLE IF NOT EXISTS words_fts USING fts5(body, tokenize='{TOKENIZER}')",
    """CREATE TRIGGER IF NOT EXISTS words_fts_insert AFTER INSERT ON picture_words WHEN new.status = 'text' BEGIN
        INSERT INTO words_fts(rowid, body) VALUES (new.media_id, new.body);
    END""",
    """CREATE TRIGGER IF NOT EXISTS words_fts_update AFTER UPDATE ON picture_words BEGIN
        DELETE FROM words_fts WHERE rowid = old.media_id;
        INSERT INTO words_fts(rowid, body) SELECT new.media_id, new.body WHERE new.status = 'text';
    END""",
    """CREATE TRIGGER IF NOT EXISTS words_fts_delete AFTER DELETE ON picture_words BEGIN
        DELETE FROM words_fts WHERE rowid = old.media_id;
    END""",
]


def create_words(conn: Connection) -> None:
    for statement in WORDS_DDL:
        conn.exec_driver_sql(statement)
    conn.exec_driver_sql("DELETE FROM words_fts")
    conn.exec_driver_sql(
        "INSERT INTO words_fts(rowid, body) SELECT media_id, body FROM picture_words WHERE status = 'text'"
    )


# New rows' names go into the word index in one statement per transaction, not by a trigger per row: the trigger cost
# 60 µs a row at 1M items, nine tenths of an insert, where one INSERT ... SELECT over the new ids costs 12
# (bench/cluster_index.py: the writer's items/s). Updates and deletes keep their triggers.
_NEW_NAMES = f"INSERT INTO media_fts(rowid, name, folder, camera) SELECT {_media_values('m')} FROM media AS m "


def index_names(conn: Connection, first: int, last: int) -> None:
    """Put the rows with ids first..last, just inserted, into the file-name word index."""
    conn.exec_driver_sql(_NEW_NAMES + "WHERE m.id BETWEEN ? AND ?", (first, last))


def drop_insert_trigger(conn: Connection) -> None:
    """Schema 7: the catalog indexes new rows' names itself (index_names)."""
    conn.exec_driver_sql("DROP TRIGGER IF EXISTS media_fts_insert")


def create(conn: Connection) -> None:
    """Create the tables and triggers, and fill them from what the catalog already holds."""
    for statement in DDL:
        conn.exec_driver_sql(statement)
    conn.exec_driver_sql(
        f"INSERT INTO media_fts(rowid, name, folder, camera) SELECT {_media_values('media')} FROM media"
    )
    conn.exec_driver_sql("INSERT INTO text_fts(rowid, body) SELECT id, text FROM texts")


# -- asking them -------------------------------------------------------------------------------

# file name/folder/camera of a picture, a text that describes one, or the words read in one
Table = Literal["names", "texts", "words"]
_FTS_TABLE = {"names": "media_fts", "texts": "text_fts", "words": "words_fts"}
# Where each table's documents are counted: a plain table's count(*) reads B-tree entries, an FTS5 one every row.
_DOCUMENTS = {
    "names": "SELECT count(*) FROM media",
    "texts": "SELECT count(*) FROM texts",
    "words": "SELECT count(*) FROM picture_words WHERE status = 'text'",
}
NAME_WEIGHTS = (4.0, 1.0, 1.0)  # bm25(media_fts, name, folder, camera): a name says more than a folder


def _quoted(word: str, table: Table = "names") -> str:
    """One word as an FTS5 string. In the words table CJK characters are words of their own (see
    indexer.ocr.words.searchable), so a Chinese word becomes the phrase of its characters."""
    if table == "words":
        word = " ".join(searchable(word).split())
    return '"' + word.replace('"', '""') + '"'


def any_of(words: Sequence[str], table: Table = "names") -> str:
    return " OR ".join(_quoted(word, table) for word in words)


def all_of(words: Sequence[str], table: Table = "names") -> str:
    return " AND ".join(_quoted(word, table) for word in words)


def document_frequencies(
    conn: sqlite3.Connection, table: Table, words: Sequence[str], common_share: float | None = None
) -> tuple[int, dict[str, int]]:
    """How many documents the table holds, and how many of them hold each word (stemmed as when indexed), counted
    only just past `common_share` of the documents when given: a word in most of a million names costs a count of
    its postings, and past the share that ranks nothing the exact number does not matter.

    The documents are counted in the table the triggers fill it from (one document per row), and again only
    after another connection committed (document_count)."""
    name = _FTS_TABLE[table]
    total = document_count(conn, table)
    limit = f" LIMIT {int(max(1, common_share * total)) + 1}" if common_share is not None else ""
    each_word = ", ".join(f"(SELECT count(*) FROM (SELECT 1 FROM {name} WHERE {name} MATCH ?{limit}))" for _ in words)
    quoted = tuple(_quoted(word, table) for word in words)
    row = conn.execute(f"SELECT {each_word}", quoted).fetchone() if words else ()
    frequencies = {word: int(count or 0) for word, count in zip(words, row, strict=True)}
    return total, frequencies


# connection id -> (the connection, its data_version when counted, counts by table). The connection is held so
# that its id is not reused by another while its entry stands.
_counts: dict[int, tuple[sqlite3.Connection, int, dict[str, int]]] = {}
_counts_lock = threading.Lock()


def document_count(conn: sqlite3.Connection, table: Table) -> int:
    """How many documents the table holds, counted again only after another connection committed: a B-tree
    count is linear in the library (tens of milliseconds at 1M items); SQLite's data_version says, per
    connection, whether anyone else wrote since it last looked."""
    version = int(conn.execute("PRAGMA data_version").fetchone()[0])
    with _counts_lock:
        held = _counts.get(id(conn))
        if held is None or held[0] is not conn or held[1] != version:
            if len(_counts) > 256:  # threads come and go in a server: forget the oldest connections
                _counts.clear()
            held = (conn, version, {})
            _counts[id(conn)] = held
        counts = held[2]
        if table not in counts:
            counts[table] = int(conn.execute(_DOCUMENTS[table]).fetchone()[0] or 0)
        return counts[table]


def holding_all(
    conn: sqlite3.Connection,
    table: Table,
    rare: Sequence[str],
    common: Sequence[str],
    limit: int,
    exclude_sources: Sequence[str] = (),
) -> list[int]:
    """Media ids of the documents that hold every word, the best `limit` by the rare words. The common words are
    checked only on those documents: ANDed into the match, a word in every one of a million names cost 40 ms."""
    if not common:
        return [item for item, _ in match(conn, table, all_of(rare, table), limit, exclude_sources)]
    name = _FTS_TABLE[table]
    rows = conn.execute(
        f"SELECT rowid FROM {name} WHERE {name} MATCH ? ORDER BY rank LIMIT ?", (all_of(rare, table), limit)
    ).fetchall()
    if not rows:
        return []
    candidates = "[" + ",".join(str(row[0]) for row in rows) + "]"
    held = conn.execute(
        f"SELECT rowid FROM {name} WHERE {name} MATCH ? AND rowid IN (SELECT value FROM json_each(?))",
        (all_of(common, table), candidates),
    ).fetchall()
    documents = [int(row[0]) for row in held]
    if table != "texts":
        return documents  # a name's and a picture's words are stored under the media id
    skip = f"AND source NOT IN ({','.join('?' * len(exclude_sources))})" if exclude_sources else ""
    sql = f"SELECT media_id FROM texts WHERE id IN (SELECT value FROM json_each(?)) AND media_id IS NOT NULL {skip}"
    return [int(row[0]) for row in conn.execute(sql, (json.dumps(documents), *exclude_sources)).fetchall()]


def match(
    conn: sqlite3.Connection, table: Table, expression: str, limit: int | None, exclude_sources: Sequence[str] = ()
) -> list[tuple[int, float]]:
    """(media id, BM25 score, higher is better) of the documents matching an FTS5 expression, best first.

    Texts count for the picture they describe; texts from `exclude_sources` do not count at all.
    """
    cap = "LIMIT ?" if limit is not None else ""
    tail = (limit,) if limit is not None else ()
    if table == "names":
        weights = ", ".join(map(str, NAME_WEIGHTS))
        stmt = f"SELECT rowid, -bm25(media_fts, {weights}) FROM media_fts WHERE media_fts MATCH ? ORDER BY rank {cap}"
        rows = conn.execute(stmt, (expression, *tail)).fetchall()
    elif table == "words":
        stmt = f"SELECT rowid, -bm25(words_fts) FROM words_fts WHERE words_fts MATCH ? ORDER BY rank {cap}"
        rows = conn.execute(stmt, (expression, *tail)).fetchall()
    else:
        skip = f"AND t.source NOT IN ({','.join('?' * len(exclude_sources))})" if exclude_sources else ""
        stmt = (
            "SELECT t.media_id, -bm25(text_fts) FROM text_fts JOIN texts t ON t.id = text_fts.rowid "
            f"WHERE text_fts MATCH ? AND t.media_id IS NOT NULL {skip} ORDER BY rank {cap}"
        )
        rows = conn.execute(stmt, (expression, *exclude_sources, *tail)).fetchall()
    return [(int(item), float(score)) for item, score in rows]
