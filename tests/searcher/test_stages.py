"""Each ranking stage on its own, on small hand-made candidates where the right answer is known."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from core.options import Ranking
from indexer.catalog import Catalog, MediaRecord, fts
from indexer.model_spec import ModelSpec
from searcher.candidates import NO_RANK, Candidates
from searcher.pipeline import rank
from searcher.query import PreparedQuery, Term
from searcher.stages import RankRequest
from searcher.stages.bounds import MinScoreStage
from searcher.stages.collapse import CollapseStage, collapse_duplicates
from searcher.stages.cutoff import CALIBRATION_KEY, CutoffStage, largest_gap, score_norm
from searcher.stages.fusion import FusionStage, reciprocal_rank_fusion
from searcher.stages.lexical import LexicalStage, Words, lexical_matches, useful_words, words_of
from searcher.stages.mmr import MmrStage, mmr_order
from searcher.stages.rerank import RerankStage


def unit(*rows: list[float]) -> np.ndarray:
    array = np.asarray(rows, dtype=np.float32)
    return array / np.linalg.norm(array, axis=1, keepdims=True)


def candidates(ids: list[int], vectors: np.ndarray, query: np.ndarray, floor: float = -np.inf) -> Candidates:
    """The vector ranking of these items for the query, as the retrieval would hand it on."""
    scores = vectors @ query
    order = np.lexsort((np.asarray(ids), -scores))
    return Candidates.from_vectors(np.asarray(ids)[order], scores[order], vectors[order], False, floor)


def request(query: np.ndarray, words: str | None = "a word", **ranking: object) -> RankRequest:
    terms = (Term(words, 1.0),) if words else ()
    return RankRequest(PreparedQuery(query, terms), "media", Ranking(**ranking), need=10)  # type: ignore[arg-type]


# -- fusion ------------------------------------------------------------------------------------


def test_reciprocal_rank_fusion_adds_weighted_inverse_ranks() -> None:
    fused = reciprocal_rank_fusion(
        {"vector": np.asarray([1, 2, NO_RANK]), "lexical": np.asarray([NO_RANK, 1, 2])},
        {"vector": 1.0, "lexical": 2.0},
        k=60,
    )
    assert fused == pytest.approx([1 / 61, 1 / 62 + 2 / 61, 2 / 62])


def test_fusion_orders_by_the_fused_score_and_breaks_ties_by_id() -> None:
    query = unit([1, 0])[0]
    found = candidates([5, 3, 9], unit([1, 0.1], [1, 0.2], [1, 0.3]), query)  # vector order 5, 3, 9
    # Only item 9 matched the words, first: 9 gets vector 3rd + lexical 1st; 5 and 3 keep vector ranks.
    found = found.with_columns(lexical_rank=np.asarray([0, 0, 1]), lexical=np.asarray([np.nan, np.nan, 7.0]))
    fused = FusionStage()(found, request(query))
    assert fused.ids.tolist() == [9, 5, 3]
    assert fused.fused[0] == pytest.approx(1 / 63 + 1 / 61)
    # What a hit shows is the fused score over the best possible (first in both lists): it never rises.
    assert fused.order_score.tolist() == pytest.approx((fused.fused / (2 / 61)).tolist())
    assert list(fused.order_score) == sorted(fused.order_score, reverse=True)
    assert fused.score.tolist() != sorted(fused.score, reverse=True)  # the cosine does not follow the order
    tied = candidates([4, 2], unit([1, 0], [1, 0]), query)  # same vector rank impossible; same fused score:
    tied = tied.with_columns(vector_rank=np.asarray([1, 2]), lexical_rank=np.asarray([2, 1]))
    assert FusionStage()(tied, request(query)).ids.tolist() == [2, 4]  # equal scores: the smaller id first


def test_fusion_leaves_the_vector_order_when_no_word_matched() -> None:
    query = unit([1, 0])[0]
    found = candidates([1, 2, 3], unit([1, 0], [1, 1], [0, 1]), query)
    assert FusionStage()(found, request(query)) is found


# -- bounds, cutoff ----------------------------------------------------------------------------


def test_min_score_drops_what_is_below_and_knows_when_a_bigger_pool_cannot_help() -> None:
    query = unit([1, 0])[0]
    found = candidates([1, 2, 3], unit([1, 0], [1, 1], [0, 1]), query, floor=0.0)
    stage = MinScoreStage()
    kept = stage(found, RankRequest(PreparedQuery(query), "media", Ranking(), need=10, min_score=0.5))
    assert kept.ids.tolist() == [1, 2] and kept.complete  # beyond the pool everything scores <= 0.0 < 0.5
    loose = stage(found, RankRequest(PreparedQuery(query), "media", Ranking(), need=10, min_score=-0.5))
    assert loose.ids.tolist() == [1, 2, 3] and not loose.complete


@dataclass
class FixedSample:
    rows: np.ndarray

    def vectors(self, collection: str, dim: int) -> np.ndarray:
        return self.rows


def test_the_cutoff_keeps_what_stands_out_and_what_names_every_word() -> None:
    rng = np.random.default_rng(0)
    library = unit(*rng.normal(size=(200, 8)).tolist())
    query = library[0]
    found = candidates(list(range(200)), library, query)
    found = found.with_columns(lexical_all_words=found.ids == 150)  # its caption holds every word
    stage = CutoffStage(FixedSample(library))  # type: ignore[arg-type]
    kept = stage(found, request(query, cutoff_z=2.0))
    norm = score_norm(query, library)
    assert norm is not None
    expected = {int(i) for i, s in zip(found.ids, found.score, strict=True) if (s - norm.mean) / norm.std >= 2.0}
    assert set(kept.ids.tolist()) == expected | {150} and 0 in expected
    assert np.all(np.isfinite(kept.z))
    assert not stage.applies(request(query, words=None))  # a picture query is never cut
    assert not stage.applies(request(query, cutoff=False))


def test_a_library_too_small_to_judge_is_not_cut() -> None:
    query = unit([1, 0])[0]
    found = candidates([1, 2], unit([1, 0], [0, 1]), query)
    assert CutoffStage(FixedSample(unit([1, 0], [0, 1])))(found, request(query)) is found  # type: ignore[arg-type]


# -- collapse, MMR -----------------------------------------------------------------------------


def test_collapse_keeps_the_best_of_each_near_duplicate_group_and_lists_the_rest() -> None:
    vectors = unit([1, 0, 0], [1, 0.01, 0], [0, 1, 0], [1, 0.02, 0], [0, 1, 0.01])
    assert collapse_duplicates(vectors, 0.99).tolist() == [-1, 0, -1, 0, 2]
    found = Candidates.from_vectors(np.asarray([10, 11, 12, 13, 14]), np.ones(5), vectors, False, -np.inf)
    collapsed = CollapseStage()(found, request(unit([1, 0, 0])[0], collapse=True))
    assert collapsed.ids.tolist() == [10, 12]
    assert collapsed.duplicates == ((11, 13), (14,))


def test_collapse_of_a_longer_list_agrees_with_a_shorter_one() -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(size=(6, 16))
    vectors = unit(*np.repeat(base, 3, axis=0).tolist()) + 0.001 * rng.normal(size=(18, 16)).astype(np.float32)
    long, short = collapse_duplicates(vectors, 0.99), collapse_duplicates(vectors[:10], 0.99)
    assert long[:10].tolist() == short.tolist()  # an item's fate depends only on the items above it


def test_mmr_moves_a_repeat_below_something_new() -> None:
    vectors = unit([1, 0], [1, 0.01], [0.6, 0.8])
    relevance = np.asarray([0.0, -1.0, -2.0])
    assert mmr_order(relevance, vectors, 1.0)[0].tolist() == [0, 1, 2]  # λ = 1: relevance only
    assert mmr_order(relevance, vectors, 0.3)[0].tolist() == [0, 2, 1]  # the near-copy waits
    found = Candidates.from_vectors(np.asarray([7, 8, 9]), np.ones(3), vectors, False, -np.inf)
    diverse = MmrStage()(found, request(unit([1, 0])[0], mmr=0.3))
    assert diverse.ids.tolist() == [7, 9, 8]
    assert list(diverse.order_score) == sorted(diverse.order_score, reverse=True)  # shown values never rise


# -- rerank ------------------------------------------------------------------------------------


@dataclass
class StubReranker:
    """A second model that knows three images, in its own 2-d space."""

    embeddings: dict[int, np.ndarray]
    target: np.ndarray

    def query_vector(self, query: PreparedQuery) -> np.ndarray:
        return self.target

    def image_vectors(self, ids: list[int]) -> dict[int, np.ndarray]:
        return {item: self.embeddings[item] for item in ids if item in self.embeddings}


@dataclass
class StubRerankers:
    reranker: StubReranker

    def get(self, ranking: Ranking) -> StubReranker:
        return self.reranker


def test_the_reranker_orders_the_top_it_sees_and_leaves_the_rest() -> None:
    query = unit([1, 0, 0])[0]
    found = candidates([1, 2, 3, 4, 5], unit([1, 0, 0], [1, 0.1, 0], [1, 0.2, 0], [1, 0.3, 0], [1, 0.4, 0]), query)
    second = StubReranker({1: unit([0, 1])[0], 2: unit([1, 1])[0], 3: unit([1, 0])[0]}, unit([1, 0])[0])
    stage = RerankStage(StubRerankers(second))  # type: ignore[arg-type]
    ranking = {"rerank_model": "second", "rerank_depth": 4}
    reranked = stage(found, request(query, **ranking))
    # 1..3 reordered by the second model; 4 (in the depth, unknown to it) after them; 5 (beyond) untouched.
    assert reranked.ids.tolist() == [3, 2, 1, 4, 5]
    assert reranked.rerank_rank.tolist() == [1, 2, 3, NO_RANK, NO_RANK]
    shown = reranked.order_score
    assert shown[:3].tolist() == pytest.approx(reranked.rerank[:3].tolist()) and np.isnan(shown[3:]).all()
    assert not stage.applies(request(query, rerank_model="second", rerank=False))
    assert not stage.applies(request(query))  # no second model configured


# -- lexical -----------------------------------------------------------------------------------


def test_words_are_split_into_those_to_match_and_those_to_exclude() -> None:
    words = words_of([Term("Sunset at the BEACH", 2.0), Term("people", -1.0), Term("beach", 1.0)])
    assert words == Words(("sunset", "beach"), ("people",))  # "at", "the": stop words
    assert words_of([Term("The Who", 1.0)]) == Words(("who",), ())
    assert words_of([Term("to be or not", 1.0)]) == Words(("not",), ())
    assert words_of([Term("the", 1.0)]) == Words(("the",), ())  # nothing but stop words: they are the query


def test_a_stop_word_does_not_keep_a_name_from_holding_every_word(tmp_path: Path) -> None:
    """ "a cat" asks for a cat: cat.jpg holds every word that matters, whatever 'a' does in the library."""
    catalog = Catalog(tmp_path / "catalog.sqlite", readonly=False)
    names = ["cat.jpg", "black cat in a box.jpg", "dog.jpg", "car.jpg", "tree.jpg"]
    records = [MediaRecord(f"/photos/{name}", 1, 1, f"hash{i}", "ok") for i, name in enumerate(names)]
    ids = catalog.write_media(records, [np.eye(4, dtype=np.float32)[i % 4] for i in range(len(names))])
    found = lexical_matches(catalog, words_of([Term("a cat", 1.0)]), 10)
    assert set(found.ids.tolist()) == {ids[0], ids[1]} and found.all_words.all()
    sitting = lexical_matches(catalog, words_of([Term("a cat in the box", 1.0)]), 10)
    assert sitting.ids.tolist()[0] == ids[1]
    assert dict(zip(sitting.ids.tolist(), sitting.all_words.tolist(), strict=True)) == {ids[1]: True, ids[0]: False}


def test_words_most_documents_hold_cannot_rank() -> None:
    assert useful_words(10, {"jpg": 10, "beach": 2, "dog": 0, "the": 5}, ["jpg", "beach", "dog", "the"]) == [
        "beach",
        "the",
    ]


@pytest.fixture
def named(tmp_path: Path) -> Catalog:
    catalog = Catalog(tmp_path / "catalog.sqlite", readonly=False)
    names = ["sunset-at-the-lake.jpg", "IMG_2041.jpg", "beach_people.jpg", "beach.jpg", "a.jpg", "b.jpg", "c.jpg"]
    records = [MediaRecord(f"/photos/{name}", 1, 1, f"hash{i}", "ok") for i, name in enumerate(names)]
    catalog.write_media(records, [np.eye(4, dtype=np.float32)[i % 4] for i in range(len(records))])
    return catalog


def test_document_frequencies_count_every_document_of_the_full_text_tables(named: Catalog) -> None:
    """The total is counted in the tables the triggers fill them from: it must stay the full-text count."""
    vector = np.eye(4, dtype=np.float32)[0]
    named.sync_text_source(
        "/c.csv", "csv", 1, 1, [("a beach at dusk", 2), ("beach", None)], {"a beach at dusk": vector, "beach": vector}
    )
    named.delete_media([7])
    with named.connection() as conn:
        for table, fts_table in (("names", "media_fts"), ("texts", "text_fts")):
            total, frequencies = fts.document_frequencies(conn, table, ["beach", "zebra"])  # type: ignore[arg-type]
            assert total == conn.execute(f"SELECT count(*) FROM {fts_table}").fetchone()[0]
            assert frequencies == {"beach": 2, "zebra": 0}
    assert total == 2
    named.delete_text_sources(["/c.csv"])
    with named.connection() as conn:
        assert fts.document_frequencies(conn, "texts", ["beach"]) == (0, {"beach": 0})
        assert fts.document_frequencies(conn, "names", ["beach"]) == (6, {"beach": 2})


def test_a_word_in_most_names_still_counts_toward_holding_every_word(tmp_path: Path) -> None:
    """'img' is in most names: it ranks nothing, and is checked only on what the rare word found."""
    catalog = Catalog(tmp_path / "catalog.sqlite", readonly=False)
    names = ["IMG_beach.jpg", "beach.jpg", "IMG_1.jpg", "IMG_2.jpg", "IMG_3.jpg", "IMG_4.jpg"]
    records = [MediaRecord(f"/photos/{name}", 1, 1, f"hash{i}", "ok") for i, name in enumerate(names)]
    ids = catalog.write_media(records, [np.eye(4, dtype=np.float32)[i % 4] for i in range(len(records))])
    matches = lexical_matches(catalog, Words(("img", "beach"), ()), 10)
    assert sorted(matches.ids.tolist()) == sorted([ids[0], ids[1]])  # found by the rare word
    assert dict(zip(matches.ids.tolist(), matches.all_words.tolist(), strict=True)) == {ids[0]: True, ids[1]: False}


def test_lexical_matches_rank_names_and_leave_out_subtracted_words(named: Catalog) -> None:
    assert lexical_matches(named, Words(("img", "2041"), ()), 10).ids.tolist() == [2]
    beach = lexical_matches(named, Words(("beach",), ()), 10)
    assert set(beach.ids.tolist()) == {3, 4} and beach.all_words.all()
    assert lexical_matches(named, Words(("beach",), ("people",)), 10).ids.tolist() == [4]
    lake = lexical_matches(named, Words(("sunset", "lake", "zebra"), ()), 10)
    assert lake.ids.tolist() == [1] and not lake.all_words[0]  # "zebra" matches nothing anywhere


def test_the_lexical_stage_adds_what_only_the_words_found(named: Catalog) -> None:
    query = np.eye(4, dtype=np.float32)[0]
    found = Candidates.from_vectors(np.asarray([1, 5]), np.asarray([1.0, 1.0]), np.stack([query, query]), False, 0.0)

    def score(vector: np.ndarray, collection: str, ids: np.ndarray) -> Candidates:
        vectors = np.eye(4, dtype=np.float32)[(ids - 1) % 4]
        return Candidates.from_vectors(ids, vectors @ vector, vectors, True, -np.inf)

    stage = LexicalStage(named, score)  # type: ignore[arg-type]
    matched = stage(found, request(query, words="IMG_2041"))
    assert matched.ids.tolist() == [1, 5, 2]
    assert matched.vector_rank.tolist() == [1, 2, NO_RANK] and matched.lexical_rank.tolist() == [0, 0, 1]
    assert matched.score[2] == pytest.approx(0.0)  # its cosine is still computed: the user sees it


def test_where_a_name_holds_every_word_names_holding_some_do_not_rank_lexically(tmp_path: Path) -> None:
    """'invoice 2024 bramble': the one name with all three ranks; those with two of them get no lexical credit
    to rise with the vectors' liking. A word most names hold ('img') does not count toward it; an item the
    request leaves out does not take the credit away from the others."""
    catalog = Catalog(tmp_path / "catalog.sqlite", readonly=False)
    names = ["img invoice 2024 bramble.jpg", "img invoice 2024 quillon.jpg", "img invoice 2024 marrow.jpg",
             "img bramble.jpg", "img 1.jpg", "img 2.jpg", "img 3.jpg", "garden.jpg"]  # fmt: skip
    records = [MediaRecord(f"/photos/{name}", 1, 1, f"hash{i}", "ok") for i, name in enumerate(names)]
    ids = catalog.write_media(records, [np.eye(4, dtype=np.float32)[i % 4] for i in range(len(records))])
    query = np.eye(4, dtype=np.float32)[1]
    vector_order = np.asarray([ids[1], ids[2], ids[7], ids[0]])  # the vectors like the wrong invoices best
    found = Candidates.from_vectors(vector_order, np.asarray([0.9, 0.8, 0.7, 0.6]), np.stack([query] * 4), False, 0)
    stage = LexicalStage(catalog, lambda vector, collection, new: found.take(np.zeros(0, dtype=np.int64)))  # type: ignore[arg-type]

    def lexical_ranks(words: str, exclude: int | None = None) -> dict[int, int]:
        ranked = stage(found, dataclasses.replace(request(query, words=words), exclude=exclude))
        return {item: rank for item, rank in zip(ranked.ids.tolist(), ranked.lexical_rank.tolist(), strict=True)}

    assert lexical_ranks("invoice 2024 bramble") == {ids[1]: 0, ids[2]: 0, ids[7]: 0, ids[0]: 1}
    # 'img' is in most names: 'img bramble' is held by both brambles, whatever the invoice's other words
    img = lexical_matches(catalog, Words(("img", "bramble"), ()), 10)
    assert set(img.ids[img.useful_words].tolist()) == {ids[0], ids[3]}
    # with the one full match left out by the request, the partial ones rank again
    assert lexical_ranks("invoice 2024 bramble", exclude=ids[0])[ids[1]] > 0


# -- the pipeline ------------------------------------------------------------------------------


def nearest(library: np.ndarray, asked: list[int]) -> Callable[[int], Candidates]:
    """What the retrieval does, exactly, over a small library; remembers the pool sizes asked for."""

    def fetch(pool: int) -> Candidates:
        asked.append(pool)
        scores = library @ query_of(library)
        order = np.argsort(-scores, kind="stable")[:pool]
        floor = float(scores[order[-1]])
        return Candidates.from_vectors(order, scores[order], library[order], len(order) < pool, floor)

    return fetch


def query_of(library: np.ndarray) -> np.ndarray:
    return library[0]


def test_the_pool_grows_until_the_page_is_full() -> None:
    rng = np.random.default_rng(2)
    base = rng.normal(size=(250, 8))
    library = unit(*np.repeat(base, 4, axis=0).tolist()) + 1e-4  # every picture four times (a burst)
    asked: list[int] = []
    page = RankRequest(PreparedQuery(query_of(library)), "media", Ranking(collapse=True), need=50)
    ranked = rank(nearest(library, asked), (CollapseStage(),), page)
    assert asked == [100, 400]  # 100 candidates collapse to 25 visible: not enough for 50
    assert len(ranked.candidates) >= 50 and set(ranked.seconds) == {"vector", "collapse"}


def test_an_absent_concept_does_not_scan_the_library() -> None:
    rng = np.random.default_rng(3)
    library = unit(*rng.normal(size=(2000, 8)).tolist())
    far = unit([1.0] * 8)[0]
    library[0] = far  # the query's "best match" is the only item near it; the rest is noise
    asked: list[int] = []
    ranking = Ranking(cutoff=True, cutoff_z=2.5, hybrid=False)  # hiding weak matches, asked for
    page = RankRequest(PreparedQuery(far, (Term("x", 1.0),)), "media", ranking, need=50)
    ranked = rank(nearest(library, asked), (CutoffStage(FixedSample(library)),), page)  # type: ignore[arg-type]
    assert asked == [100] and ranked.candidates.complete  # the pool's last item is already far below the cut
    assert ranked.candidates.ids.tolist()[:1] == [0]


def test_every_picture_a_one_word_query_matches_holds_all_its_words(tmp_path: Path) -> None:
    """Many captions per picture: the all-words check must judge every match, not the first rows it reads."""
    catalog = Catalog(tmp_path / "catalog.sqlite", readonly=False)
    records = [MediaRecord(f"/photos/{i}.png", 1, 1, f"hash{i}", "ok") for i in range(6)]
    ids = catalog.write_media(records, [np.eye(4, dtype=np.float32)[i % 4] for i in range(6)])
    entries = [(f"a red thing, take {take}", media) for media in ids for take in range(3)]
    vectors = {text: np.eye(4, dtype=np.float32)[0] for text, _ in entries}
    catalog.sync_text_source("/photos/captions.csv", "csv", 1, 1, entries, vectors)
    notes = [(f"a blue note {n}", None) for n in range(30)]  # so that "red" is not in most documents
    catalog.sync_text_source("/notes.txt", "txt", 1, 1, notes, {text: vectors[entries[0][0]] for text, _ in notes})
    found = lexical_matches(catalog, Words(("red",), ()), limit=5)
    assert len(found.ids) == 5 and found.all_words.all()


# -- cutoff methods ----------------------------------------------------------------------------


def test_the_relative_cutoff_keeps_every_hit_within_its_share_of_the_best_z() -> None:
    rng = np.random.default_rng(1)
    library = unit(*rng.normal(size=(200, 8)).tolist())
    query = library[0]
    found = candidates(list(range(200)), library, query)
    kept = CutoffStage(FixedSample(library))(found, request(query, cutoff_method="relative", cutoff_fraction=0.4))  # type: ignore[arg-type]
    norm = score_norm(query, library)
    assert norm is not None
    z = norm.z(found.score)
    expected = {int(i) for i, value in zip(found.ids, z, strict=True) if value >= 0.4 * z.max()}
    assert set(kept.ids.tolist()) == expected and 1 < len(expected) < 200


def test_the_gap_cutoff_cuts_at_the_largest_drop_in_the_scores() -> None:
    query = unit([1, 0])[0]
    vectors = unit([1, 0.05], [1, 0.1], [1, 0.15], [0.2, 1], [0.1, 1], [0, 1])  # three near it, three far
    found = candidates([1, 2, 3, 4, 5, 6], vectors, query)
    kept = CutoffStage(FixedSample(vectors))(found, request(query, cutoff_method="gap"))  # type: ignore[arg-type]
    assert kept.ids.tolist() == [1, 2, 3] and kept.complete
    assert largest_gap(np.asarray([0.9, 0.8, 0.3, 0.25])) == pytest.approx(0.8)


@dataclass
class CatalogSample:
    catalog: Catalog

    def vectors(self, collection: str, dim: int) -> np.ndarray:
        raise AssertionError("the calibrated cutoff reads no library sample")


def test_the_calibrated_cutoff_keeps_all_until_a_threshold_is_learnt_for_the_model(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite", readonly=False)
    spec = ModelSpec("m", "RN50", None, None, "openai", None)
    catalog.set_json("model", spec.to_json())
    query = unit([1, 0])[0]
    vectors = unit([1, 0.1], [1, 1], [0.1, 1])  # cosines 0.995, 0.707, 0.0995
    found = candidates([1, 2, 3], vectors, query, floor=0.05)
    stage = CutoffStage(CatalogSample(catalog))  # type: ignore[arg-type]
    asked = request(query, cutoff_method="calibrated")
    assert stage(found, asked) is found  # nothing learnt: nothing cut
    catalog.set_json(CALIBRATION_KEY, {"model": spec.identity(), "cosine": 0.5})
    kept = stage(found, asked)
    assert kept.ids.tolist() == [1, 2] and kept.complete
    catalog.set_json(CALIBRATION_KEY, {"model": {**spec.identity(), "weights": "other"}, "cosine": 0.5})
    assert stage(found, asked) is found  # learnt with another model: stale, not applied
