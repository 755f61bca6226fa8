"""The catalog's side of OCR: which pictures are still to be read, what was read, and counts for stats.

A picture is to be read when it is a searchable picture (ok, with a vector: searchable by meaning first) and
holds no words row for its present content. Rows are written with an upsert, whose UPDATE the full-text
triggers follow (a REPLACE would delete without firing them).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from indexer.ocr.pool import Picture, WordsRead
from indexer.ocr.words import searchable

if TYPE_CHECKING:
    from indexer.catalog import Catalog

_TO_READ = """
    FROM media m JOIN media_vectors v ON v.id = m.id LEFT JOIN picture_words w ON w.media_id = m.id
    WHERE m.media_type = 'image' AND m.status = 'ok' AND m.parent_id IS NULL
      AND (w.media_id IS NULL OR w.content_hash IS NOT m.content_hash)
"""


def to_read(catalog: Catalog, after: int, limit: int) -> list[Picture]:
    """The next pictures to read, by id after `after`: a pass walks them in order and can stop anywhere."""
    sql = f"SELECT m.id, m.path, m.content_hash {_TO_READ} AND m.id > ? ORDER BY m.id LIMIT ?"
    rows = catalog._rows(sql, (after, limit))
    return [Picture(int(item), str(path), content_hash) for item, path, content_hash in rows]


def count_to_read(catalog: Catalog) -> int:
    return int(catalog._rows(f"SELECT count(*) {_TO_READ}")[0][0])


def write(catalog: Catalog, results: Sequence[WordsRead], engine: str) -> None:
    """Store what was read; a picture deleted meanwhile is skipped (its row would have nothing to point at)."""
    if not results:
        return
    now = time.time()
    rows = [
        (r.picture.id, r.picture.content_hash, r.status, r.text, searchable(r.text), r.reason, engine, r.seconds, now)
        for r in results
    ]
    with catalog.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO picture_words (media_id, content_hash, status, text, body, reason, engine, seconds, read_at) "
            "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM media WHERE id = ?1) "
            "ON CONFLICT (media_id) DO UPDATE SET content_hash = excluded.content_hash, status = excluded.status, "
            "text = excluded.text, body = excluded.body, reason = excluded.reason, engine = excluded.engine, "
            "seconds = excluded.seconds, read_at = excluded.read_at",
            rows,
        )


def read_before(catalog: Catalog, pictures: Sequence[Picture], engine: str) -> dict[str, tuple[str, str]]:
    """content hash → (status, text) of pictures already read by this engine with the same content as these: a
    copy's words are the original's, with nothing to read again. Failures are not copied (a copy may fare better)."""
    hashes = sorted({picture.content_hash for picture in pictures if picture.content_hash})
    if not hashes:
        return {}
    sql = (
        "SELECT w.content_hash, w.status, w.text FROM picture_words w WHERE w.engine = ? AND w.status != 'failed' "
        f"AND w.content_hash IN ({','.join('?' * len(hashes))})"
    )
    return {
        str(content_hash): (str(status), str(text))
        for content_hash, status, text in catalog._rows(sql, [engine, *hashes])
    }


def words_of(catalog: Catalog, ids: Sequence[int]) -> dict[int, str]:
    """The words read in these pictures, where there are any."""
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    sql = f"SELECT media_id, text FROM picture_words WHERE status = 'text' AND media_id IN ({marks})"
    rows = catalog._rows(sql, ids)
    return {int(item): str(text) for item, text in rows}


def forget(catalog: Catalog) -> None:
    """Every picture is to be read again (another language set, another Tesseract)."""
    with catalog.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM picture_words")


def counts(catalog: Catalog) -> dict[str, int]:
    by_status = dict(catalog._rows("SELECT status, count(*) FROM picture_words GROUP BY status"))
    return {
        "read": sum(int(count) for count in by_status.values()),
        "with_text": int(by_status.get("text", 0)),
        "failed": int(by_status.get("failed", 0)),
        "to_read": count_to_read(catalog),
    }


def failures(catalog: Catalog, limit: int = 20) -> list[tuple[str, str]]:
    rows = catalog._rows(
        "SELECT m.path, w.reason FROM picture_words w JOIN media m ON m.id = w.media_id "
        "WHERE w.status = 'failed' ORDER BY m.path LIMIT ?",
        (limit,),
    )
    return [(str(path), str(reason)) for path, reason in rows]
