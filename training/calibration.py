"""The `calibrated` cutoff's threshold: one cosine per model, where its true image–caption pairs and random
pairs separate best, learnt from a pairs file and stored in the library (searcher/stages/cutoff.py reads it).

Every model has its own cosine scale, so the level that says "this matches" must be measured on the model,
not assumed. The threshold maximises (true pairs kept − random pairs kept); a random pair is a caption with
another picture whose captions differ from it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from indexer.catalog.queries import captions_of, ids_for_paths
from indexer.library import Library
from searcher.stages.cutoff import CALIBRATION_KEY

RANDOM_PER_CAPTION = 20


@dataclass(frozen=True)
class Calibration:
    cosine: float  # keep hits scoring at least this
    true_kept: float  # share of true pairs at or above it
    random_kept: float  # share of random pairs at or above it
    pairs: int
    model: dict[str, Any]  # the identity of the model it was learnt with

    def to_json(self) -> dict[str, Any]:
        return {
            "cosine": self.cosine,
            "true_kept": self.true_kept,
            "random_kept": self.random_kept,
            "pairs": self.pairs,
        }


def separating_cosine(true: np.ndarray, random: np.ndarray) -> float:
    """The cosine that keeps the most true pairs for the fewest random ones (Youden's J over every candidate)."""
    levels = np.unique(np.concatenate([true, random]))
    true_kept = (true[None, :] >= levels[:, None]).mean(axis=1)
    random_kept = (random[None, :] >= levels[:, None]).mean(axis=1)
    return float(levels[int(np.argmax(true_kept - random_kept))])


def learn_calibration(library: Library, image_paths: list[str], sources: list[str], seed: int = 0) -> Calibration:
    """From the captions in `sources` (a pairs file) and their pictures, as the library stores them."""
    catalog, dim = library.catalog, library.dim()
    path_to_id = ids_for_paths(catalog, image_paths)
    links = [
        (t, m, text) for t, m, text, source in captions_of(catalog, list(path_to_id.values())) if source in sources
    ]
    if not links:
        raise ValueError("no captions of these pictures to calibrate from")
    media_ids = sorted({m for _, m, _ in links})
    texts_of: dict[int, set[str]] = {}
    for _, m, text in links:
        texts_of.setdefault(m, set()).add(text)
    _, media = catalog.fetch_vectors("media", media_ids, dim)
    row_of = {m: i for i, m in enumerate(media_ids)}
    text_ids, texts = catalog.fetch_vectors("texts", [t for t, _, _ in links], dim)
    vector_of = dict(zip(text_ids.tolist(), texts, strict=True))
    rng = np.random.default_rng(seed)
    true: list[float] = []
    random: list[float] = []
    for text_id, media_id, text in links:
        vector = vector_of.get(text_id)
        if vector is None:
            continue
        true.append(float(media[row_of[media_id]] @ vector))
        others = rng.choice(media_ids, size=min(RANDOM_PER_CAPTION, len(media_ids)), replace=False).tolist()
        random.extend(float(media[row_of[m]] @ vector) for m in others if text not in texts_of[int(m)])
    true_scores, random_scores = np.asarray(true), np.asarray(random)
    if not len(random_scores):
        raise ValueError("every picture shares a caption: no random pairs to calibrate against")
    cosine = separating_cosine(true_scores, random_scores)
    spec = library.model_spec()
    assert spec is not None  # the library holds vectors
    kept_true, kept_random = float(np.mean(true_scores >= cosine)), float(np.mean(random_scores >= cosine))
    return Calibration(cosine, kept_true, kept_random, len(true_scores), spec.identity())


def store_calibration(library: Library, calibration: Calibration) -> None:
    """For the library's current model only (the cutoff ignores it once the model changes); a threshold learnt
    with another model is refused."""
    spec = library.model_spec()
    if spec is None or json.dumps(spec.identity(), sort_keys=True) != json.dumps(calibration.model, sort_keys=True):
        raise ValueError("this threshold was learnt with another model than the library's")
    library.catalog.set_json(CALIBRATION_KEY, {"model": calibration.model, **calibration.to_json()})
