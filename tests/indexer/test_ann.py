"""Index shape choice, id bookkeeping, and IVF quality against exact search."""

from __future__ import annotations

import numpy as np

from indexer import ann


def unit_vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_small_libraries_are_flat_and_large_ones_ivf_with_enough_training_points() -> None:
    assert ann.desired_shape(500, None, ivf_threshold=1000).kind == "flat"
    shape = ann.desired_shape(10_000, None, ivf_threshold=1000)
    assert shape.kind == "ivf"
    assert 10_000 / shape.nlist >= ann.MIN_POINTS_PER_LIST
    assert shape.nlist == min(int(4 * np.sqrt(10_000)), 10_000 // ann.MIN_POINTS_PER_LIST)


def test_ivf_is_retrained_only_when_the_library_doubles_and_falls_back_with_hysteresis() -> None:
    trained = ann.desired_shape(4000, None, ivf_threshold=1000)
    assert ann.desired_shape(7000, trained, 1000) == trained
    assert ann.desired_shape(8000, trained, 1000).trained_on == 8000
    assert ann.desired_shape(700, trained, 1000) == trained  # between half the threshold and it
    assert ann.desired_shape(400, trained, 1000).kind == "flat"


def test_ids_can_be_read_back_from_flat_and_ivf_after_removals() -> None:
    vectors = unit_vectors(2000)
    ids = np.arange(10, 2010, dtype=np.int64)
    for shape in (ann.AnnShape("flat"), ann.AnnShape("ivf", 16, 2000)):
        index = ann.build(shape, 32, ids, vectors)
        ann.remove(index, np.array([10, 11, 500]))
        held = np.sort(ann.index_ids(index))
        assert len(held) == 1997
        assert not np.isin([10, 11, 500], held).any()


def clustered(n: int, dim: int, seed: int) -> np.ndarray:
    """Embeddings cluster by topic; uniform random vectors (IVF's worst case) are nothing like them."""
    rng = np.random.default_rng(seed)
    centers = unit_vectors(200, dim, seed=99)  # the same topics for corpus and queries
    vectors = centers[rng.integers(0, 200, n)] + 0.08 * rng.standard_normal((n, dim)).astype(np.float32)
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def test_ivf_recall_at_10_is_high_with_default_nprobe() -> None:
    vectors = clustered(20_000, 64, seed=1)
    ids = np.arange(20_000, dtype=np.int64)
    queries = clustered(100, 64, seed=5)
    flat = ann.build(ann.AnnShape("flat"), 64, ids, vectors)
    ivf = ann.build(ann.desired_shape(20_000, None, 1000), 64, ids, vectors)
    _, exact = ann.search(flat, queries, 10, nprobe=1)
    _, approx = ann.search(ivf, queries, 10, nprobe=32)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact, strict=True)])
    assert recall >= 0.9


def test_searching_an_empty_index_returns_nothing() -> None:
    index = ann.build(ann.AnnShape("flat"), 8, np.zeros(0, np.int64), np.zeros((0, 8), np.float32))
    _, ids = ann.search(index, unit_vectors(1, 8), 5, nprobe=4)
    assert ids.shape == (1, 0)
