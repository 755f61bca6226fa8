"""Full-text tables for lexical matching: file names, folders, camera, and the texts that describe an item.

SQLite triggers keep them in step with `media` and `texts`, so every writer (index, watch, texts,
moves, deletes) updates them inside its own transaction, with no code of its own and no way to
drift. Porter stemming ("beaches" finds "beach"); underscores, dashes and dots split words, so
`IMG_2041_beach-sunset.jpg` is found by "beach" and by "sunset".
"""

from __future__ import annotations

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
    f"""CREATE TRIGGER media_fts_insert AFTER INSERT ON media BEGIN
        INSERT INTO media_fts(rowid, name, folder, camera) VALUES ({_media_values("new")});
    END""",
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


def create(conn: Connection) -> None:
    """Create the tables and triggers, and fill them from what the catalog already holds."""
    for statement in DDL:
        conn.exec_driver_sql(statement)
    conn.exec_driver_sql(
        f"INSERT INTO media_fts(rowid, name, folder, camera) SELECT {_media_values('media')} FROM media"
    )
    conn.exec_driver_sql("INSERT INTO text_fts(rowid, body) SELECT id, text FROM texts")
