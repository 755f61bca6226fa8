"""The vector store: a library's searched vectors in one file per collection, row = catalog id, on real files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from indexer.catalog import Catalog, MediaRecord
from indexer.catalog.vector_store import HEADER_BYTES, VectorStore, VectorStoreDamaged, store_folder
from tests.conftest import Cli, make_photo_folder


def record(path: str) -> MediaRecord:
    return MediaRecord(path=path, size=1, mtime_ns=1, content_hash="h" + path, status="ok")


def unit(rows: int, dim: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_a_vector_takes_its_own_bytes_on_disk_and_none_in_sqlite(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite", readonly=False)
    vectors = unit(500, 512, 1)
    ids = catalog.write_media([record(f"/p/{i}.jpg") for i in range(500)], list(vectors))
    store_file = store_folder(tmp_path / "catalog.sqlite") / "media.vec"
    assert store_file.stat().st_size == HEADER_BYTES + (max(ids) + 1) * 512 * 4
    with sqlite3.connect(tmp_path / "catalog.sqlite") as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(media_vectors)")}
    assert columns == {"id", "version"}
    found, read = catalog.fetch_vectors("media", [ids[7], ids[3], 10**9], 512)
    assert found.tolist() == sorted([ids[7], ids[3]])  # an id without a vector is left out, as before
    assert np.array_equal(read, vectors[[3, 7]])
    catalog.close()


def test_a_reader_sees_vectors_written_after_it_opened_and_after_a_new_model(tmp_path: Path) -> None:
    writer = Catalog(tmp_path / "catalog.sqlite", readonly=False)
    first = writer.write_media([record("/p/a.jpg")], [unit(1, 8, 1)[0]])
    reader = Catalog(tmp_path / "catalog.sqlite", readonly=True)
    assert np.array_equal(reader.fetch_vectors("media", first, 8)[1], unit(1, 8, 1))
    more = writer.write_media([record(f"/p/{i}.jpg") for i in range(300)], list(unit(300, 8, 2)))
    assert np.array_equal(reader.fetch_vectors("media", more, 8)[1], unit(300, 8, 2))  # the file grew: remapped

    writer.drop_all_vectors()  # another model: the file starts again, at another dimension
    again = writer.write_media([record("/p/a.jpg")], [unit(1, 16, 3)[0]])
    ids, vectors = reader.fetch_vectors("media", again, 16)
    assert ids.tolist() == again and np.array_equal(vectors, unit(1, 16, 3))
    reader.close()
    writer.close()


def test_a_schema_5_catalog_moves_its_vectors_into_the_files_when_a_writer_opens_it(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    catalog = Catalog(path, readonly=False)
    media_vectors, text_vectors = unit(40, 32, 4), unit(3, 32, 5)
    media_ids = catalog.write_media([record(f"/p/{i}.jpg") for i in range(40)], list(media_vectors))
    catalog.delete_media(media_ids[:5])
    catalog.sync_text_source("/p/notes.txt", "txt", 1, 1, [(f"line {i}", None) for i in range(3)],
                             {f"line {i}": text_vectors[i] for i in range(3)})  # fmt: skip
    catalog.close()
    with sqlite3.connect(path) as conn:  # back to schema 5: the vectors as blobs in their tables, no files
        for name, collection in (("media_vectors", "media"), ("text_vectors", "texts")):
            conn.execute(f"ALTER TABLE {name} ADD COLUMN vector BLOB")
            store = VectorStore(store_folder(path) / f"{collection}.vec", readonly=True)
            for (row_id,) in conn.execute(f"SELECT id FROM {name}").fetchall():
                conn.execute(f"UPDATE {name} SET vector = ? WHERE id = ?", (store.read([row_id])[0].tobytes(), row_id))
            store.close()
        conn.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    for file in store_folder(path).iterdir():
        file.unlink()

    with pytest.raises(Exception, match="schema version 5"):
        Catalog(path, readonly=True)  # a reader asks for a writer to migrate
    migrated = Catalog(path, readonly=False)
    ids, vectors = migrated.vectors_since("media", 0, 32)
    assert ids.tolist() == media_ids[5:] and np.array_equal(vectors, media_vectors[5:])
    assert np.array_equal(migrated.vectors_since("texts", 0, 32)[1], text_vectors)
    assert migrated.text_vectors_for("/p/notes.txt")["line 2"].tolist() == text_vectors[2].tolist()
    [new] = migrated.write_media([record("/p/new.jpg")], [unit(1, 32, 6)[0]])
    assert new > max(media_ids) and np.array_equal(migrated.fetch_vectors("media", [new], 32)[1], unit(1, 32, 6))
    migrated.close()


def test_a_write_that_never_commits_leaves_nothing_the_catalog_points_at(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite", readonly=False)
    [kept] = catalog.write_media([record("/p/kept.jpg")], [unit(1, 8, 7)[0]])

    def disk_full() -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:  # the rows reached the file; making them durable fails, so no commit
        patch.setattr(catalog.vectors["media"], "flush", disk_full)
        with pytest.raises(OSError, match="No space"):
            catalog.write_media([record("/p/a.jpg"), record("/p/b.jpg")], list(unit(2, 8, 8)))
    assert catalog.vector_ids("media").tolist() == [kept] and catalog.version("media") == 1
    [after] = catalog.write_media([record("/p/a.jpg")], [unit(1, 8, 10)[0]])  # may get a rolled-back id again
    ids, vectors = catalog.fetch_vectors("media", [kept, after], 8)
    assert ids.tolist() == [kept, after] and np.array_equal(vectors, np.vstack([unit(1, 8, 7), unit(1, 8, 10)]))
    catalog.close()


def test_a_lost_vector_file_is_a_clear_error_not_garbage(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite", readonly=False)
    ids = catalog.write_media([record("/p/a.jpg")], [unit(1, 8, 11)[0]])
    catalog.close()
    (store_folder(tmp_path / "catalog.sqlite") / "media.vec").unlink()
    reader = Catalog(tmp_path / "catalog.sqlite", readonly=True)
    with pytest.raises(VectorStoreDamaged, match="--reindex"):
        reader.fetch_vectors("media", ids, 8)
    reader.close()


def test_float16_halves_the_file_and_keeps_scores_within_a_thousandth(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite", readonly=False)
    catalog.prefer_precision("float16")
    vectors = unit(200, 512, 12)
    ids = catalog.write_media([record(f"/p/{i}.jpg") for i in range(200)], list(vectors))
    store = catalog.vectors["media"]
    assert store.precision == "float16" and store.disk_bytes() == HEADER_BYTES + (max(ids) + 1) * 512 * 2
    read = catalog.fetch_vectors("media", ids, 512)[1]
    assert np.abs(read - vectors).max() < 1e-3 and np.abs(read @ vectors[0] - vectors @ vectors[0]).max() < 1e-3
    catalog.prefer_precision("float32")  # a file keeps what it started with
    catalog.write_media([record("/p/more.jpg")], [vectors[0]])
    assert store.precision == "float16"
    catalog.close()


def test_a_library_indexed_with_float16_vectors_finds_each_photo(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_photo_folder(tmp_path / "photos", 4)
    monkeypatch.setenv("XMODAL_VECTOR_PRECISION", "float16")
    cli.index(tmp_path / "photos")
    assert VectorStore(cli.library / "vectors" / "media.vec", readonly=True).precision == "float16"
    for photo in sorted((tmp_path / "photos").iterdir()):
        hit = cli.search_json("--image", str(photo), "-k", "1")[0]
        assert hit["path"] == str(photo) and hit["score"] == pytest.approx(1.0, abs=2e-3)
