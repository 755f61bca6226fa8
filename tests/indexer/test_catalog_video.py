"""Videos in the catalog: a video row, its sampled frames, and its segments as searchable rows of their own
(the pictures' id space and index), which follow the video when it moves and leave with it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, create_engine

from indexer.catalog import Catalog, MediaRecord, picture_words
from indexer.catalog.fts import create as create_fts_tables
from indexer.catalog.names import SCHEMA_VERSION
from indexer.catalog.records import Segment
from indexer.ocr.pool import Picture, WordsRead

DIM = 4


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


def video(path: str = "/videos/birthday.mp4") -> MediaRecord:
    return MediaRecord(path, 1000, 1, "h-video", "ok", None, "mp4", 1280, 720, duration_s=20.0)


def segments() -> list[Segment]:
    return [Segment(0.0, 5.0, 2.0, unit(1)), Segment(5.0, 12.5, 9.0, unit(2))]


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return Catalog(tmp_path / "catalog.sqlite", readonly=False)


def test_a_video_is_one_file_row_and_its_segments_are_searchable_rows_with_times(catalog: Catalog) -> None:
    frames = [(float(t), unit(10 + t)) for t in range(13)]
    video_id, ids = catalog.write_video(video(), frames, segments())
    rows = catalog.media_rows([video_id, *ids])
    assert rows[video_id].media_type == "video" and rows[video_id].duration_s == 20.0
    assert rows[video_id].parent_id is None
    first, second = rows[ids[0]], rows[ids[1]]
    assert (first.parent_id, first.start_s, first.end_s, first.frame_s) == (video_id, 0.0, 5.0, 2.0)
    assert second.path == "/videos/birthday.mp4#t=5,12.5" and second.media_type == "video"
    found, vectors = catalog.fetch_vectors("media", [video_id, *ids], DIM)
    assert sorted(found.tolist()) == ids  # the video's own row has no vector: its moments are what is found
    assert np.allclose(vectors[found.tolist().index(ids[1])], unit(2))
    times, frame_vectors = catalog.video_frames(video_id, DIM)
    assert times.tolist() == list(range(13)) and np.allclose(frame_vectors[3], unit(13))
    assert list(catalog.known_files(["/videos"])) == ["/videos/birthday.mp4"]  # segments are not files
    counts = catalog.counts()
    assert (counts["segments"], counts["media_vectors"]) == (2, 2)


def test_writing_a_video_again_replaces_its_frames_and_segments_with_new_ids(catalog: Catalog) -> None:
    video_id, old = catalog.write_video(video(), [(0.0, unit(1))], segments())
    again = MediaRecord(**{**video().__dict__, "id": video_id})
    same_id, new = catalog.write_video(again, [(0.0, unit(3)), (1.0, unit(4))], segments()[:1])
    assert same_id == video_id and set(new).isdisjoint(old)  # ids are FAISS ids: never reused
    assert catalog.media_rows(old) == {} and len(catalog.fetch_vectors("media", old, DIM)[0]) == 0
    assert len(catalog.video_frames(video_id, DIM)[0]) == 2


def test_a_moved_video_takes_its_segments_along_and_a_deleted_one_takes_everything(catalog: Catalog) -> None:
    video_id, ids = catalog.write_video(video(), [(0.0, unit(1))], segments())
    catalog.move_media([(video_id, "/archive/2024 party.mp4", 1000, 2)])
    assert catalog.media_rows(ids)[ids[1]].path == "/archive/2024 party.mp4#t=5,12.5"
    with catalog.connection() as conn:  # the words of the new name find the moments too
        matched = conn.execute("SELECT rowid FROM media_fts WHERE media_fts MATCH 'party'").fetchall()
    assert sorted(row[0] for row in matched) == sorted([video_id, *ids])
    catalog.delete_media([video_id])
    assert catalog.media_rows([video_id, *ids]) == {}
    assert len(catalog.fetch_vectors("media", ids, DIM)[0]) == 0 and len(catalog.video_frames(video_id, DIM)[0]) == 0
    with catalog.connection() as conn:
        assert conn.execute("SELECT count(*) FROM media_fts").fetchone()[0] == 0


def test_a_schema_2_library_migrates_and_keeps_its_pictures(tmp_path: Path) -> None:
    """A catalog as xmodal wrote it before videos: the same media table without their columns."""
    path = tmp_path / "catalog.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    old = MetaData()
    Table("meta", old, Column("key", String, primary_key=True), Column("value", String, nullable=False))
    media_columns = [Column("id", Integer, primary_key=True), Column("path", String, nullable=False, unique=True)]
    media_columns += [Column(name, Integer, nullable=False) for name in ("size", "mtime_ns")]
    media_columns += [Column(name, String) for name in ("content_hash", "error", "format", "taken_at")]
    media_columns += [Column(name, String) for name in ("camera_make", "camera_model")]
    media_columns += [Column("status", String, nullable=False), Column("media_type", String, nullable=False)]
    media_columns += [Column("width", Integer), Column("height", Integer), Column("indexed_at", Float, nullable=False)]
    Table("media", old, *media_columns, sqlite_autoincrement=True)
    for name in ("media_vectors", "text_vectors"):
        Table(name, old, Column("id", Integer, primary_key=True), Column("version", Integer), Column("vector", String))
    Table("text_sources", old, Column("path", String, primary_key=True), Column("kind", String))
    texts = [Column("id", Integer, primary_key=True), Column("source", String), Column("position", Integer)]
    Table("texts", old, *texts, Column("text", String), Column("media_id", Integer))
    with engine.begin() as conn:
        old.create_all(conn)
        create_fts_tables(conn)
        conn.exec_driver_sql("INSERT INTO meta VALUES ('schema_version', '2'), ('media_version', '0')")
        conn.exec_driver_sql(
            "INSERT INTO media (path, size, mtime_ns, status, media_type, indexed_at) "
            "VALUES ('/photos/beach.jpg', 1, 1, 'ok', 'image', 0)"
        )
    engine.dispose()
    catalog = Catalog(path, readonly=False)  # a writer migrates
    assert catalog.get_meta("schema_version") == str(SCHEMA_VERSION)  # through every migration since
    picture_words.write(catalog, [WordsRead(Picture(1, "/photos/beach.jpg", None), "text", "Beach Bar")], "test")
    assert picture_words.words_of(catalog, [1]) == {1: "Beach Bar"}  # schema 5: words read in pictures
    row = catalog.media_rows([1])[1]
    assert row.path == "/photos/beach.jpg" and row.parent_id is None and row.duration_s is None
    video_id, ids = catalog.write_video(video(), [], segments())
    assert len(ids) == 2 and catalog.media_rows(ids)[ids[0]].parent_id == video_id
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
