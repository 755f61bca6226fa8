"""The catalog's schema guard, versioning, and vector round trips on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import LibraryIncompatible
from indexer.catalog import Catalog, MediaRecord


def record(path: str, **kw: object) -> MediaRecord:
    return MediaRecord(path=path, size=1, mtime_ns=1, content_hash="h" + path, status="ok", **kw)  # type: ignore[arg-type]


def test_vectors_round_trip_and_every_write_bumps_the_version(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "c.sqlite", readonly=False)
    vector = np.linspace(-1, 1, 8, dtype=np.float32)
    [first] = catalog.write_media([record("/p/a.jpg")], [vector])
    assert catalog.version("media") == 1
    ids, vectors = catalog.vectors_since("media", 0, 8)
    assert ids.tolist() == [first] and np.array_equal(vectors[0], vector)
    assert catalog.vectors_since("media", 1, 8)[0].size == 0
    catalog.delete_media([first])
    assert catalog.version("media") == 2
    assert catalog.vector_ids("media").size == 0


def test_ids_are_never_reused_after_a_delete(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "c.sqlite", readonly=False)
    [first] = catalog.write_media([record("/p/a.jpg")], [np.ones(4, np.float32)])
    catalog.delete_media([first])
    [second] = catalog.write_media([record("/p/b.jpg")], [np.ones(4, np.float32)])
    assert second > first


def test_known_files_are_found_under_a_root_whatever_its_characters(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "c.sqlite", readonly=False)
    paths = ["/p/100%_sure/a.jpg", "/p/100%_sure/sub/b.jpg", "/p/100%_sureX/c.jpg", "/p/other.jpg"]
    catalog.write_media([record(p) for p in paths], [np.ones(4, np.float32)] * 4)
    assert set(catalog.known_files(["/p/100%_sure"])) == set(paths[:2])


def test_a_catalog_from_a_newer_xmodal_is_refused(tmp_path: Path) -> None:
    Catalog(tmp_path / "c.sqlite", readonly=False).set_meta("schema_version", "999")
    with pytest.raises(LibraryIncompatible, match="newer xmodal"):
        Catalog(tmp_path / "c.sqlite", readonly=False)
    with pytest.raises(LibraryIncompatible):
        Catalog(tmp_path / "c.sqlite", readonly=True)


def test_names_of_new_updated_and_deleted_rows_are_in_the_word_index_in_step(tmp_path: Path) -> None:
    """New rows' names are indexed per transaction (no trigger per row since schema 7): every row once, a moved
    row under its new name, a deleted one gone, and a row written again not twice."""
    catalog = Catalog(tmp_path / "c.sqlite", readonly=False)

    def indexed() -> dict[int, str]:
        with catalog.connection() as conn:
            return dict(conn.execute("SELECT rowid, name FROM media_fts ORDER BY rowid").fetchall())

    ids = catalog.write_media([record(f"/p/beach-{i}.jpg") for i in range(3)], [np.ones(4, np.float32)] * 3)
    assert indexed() == {ids[0]: "beach-0.jpg", ids[1]: "beach-1.jpg", ids[2]: "beach-2.jpg"}
    catalog.move_media([(ids[0], "/p/harbour.jpg", 1, 1)])
    catalog.delete_media([ids[1]])
    [again] = catalog.write_media([record("/p/beach-2.jpg", id=ids[2])], [np.ones(4, np.float32)])
    [fresh] = catalog.write_media([record("/p/beach-2.jpg")], [np.ones(4, np.float32)])  # the same path, anew
    assert again == ids[2] and fresh > ids[2]
    assert indexed() == {ids[0]: "harbour.jpg", fresh: "beach-2.jpg"}
    with catalog.connection() as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'media_fts_insert'").fetchone()[0] == 0
