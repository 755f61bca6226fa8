"""Which runtime may encode a library's text queries: torch (the reference), the ONNX export, or its int8
text tower. Each encodes the library's captions as queries; each caption's picture is then looked for among
every picture (exactly, so that only the encoding differs). The int8 tower is switched on only where its
recall stays within INT8_TOLERANCE of both fp32 runtimes at every K."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.errors import XmodalError
from core.settings import Runtime
from indexer.catalog.queries import captions_of, ids_for_paths
from indexer.library import Library
from indexer.onnx_encoder import OnnxEncoder, find_export
from training.evaluate import DEPTH, Metrics, first_relevant, metrics_of

INT8_TOLERANCE = 0.005
RUNTIMES: tuple[Runtime, ...] = ("torch", "onnx", "onnx-int8")


@dataclass
class RuntimeComparison:
    metrics: dict[str, Metrics] = field(default_factory=dict)
    top10_agreement: dict[str, float] = field(default_factory=dict)  # mean share of torch's top 10 also found
    unavailable: dict[str, str] = field(default_factory=dict)  # runtime -> why it could not run
    int8: bool = False
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "metrics": {name: value.to_json() for name, value in self.metrics.items()},
            "top10_agreement": self.top10_agreement,
            "unavailable": self.unavailable,
            "int8_text": self.int8,
            "reason": self.reason,
        }


def compare_runtimes(library: Library, image_paths: list[str], sources: list[str] | None = None) -> RuntimeComparison:
    """text→image recall of the library's captions, encoded by each runtime; and the int8 verdict."""
    catalog, dim = library.catalog, library.dim()
    media = ids_for_paths(catalog, image_paths)
    captions = [c for c in captions_of(catalog, list(media.values())) if sources is None or c[3] in sources]
    if not captions:
        raise XmodalError("no captions of these pictures to query with", "give --pairs with captions")
    texts = [text for _, _, text, _ in captions]
    wanted = [media_id for _, media_id, _, _ in captions]
    all_ids, all_vectors = catalog.fetch_vectors("media", catalog.vector_ids("media").tolist(), dim)
    comparison = RuntimeComparison()
    rankings: dict[str, np.ndarray] = {}
    for runtime in RUNTIMES:
        try:
            model = library.reader_encoder("cpu", runtime=runtime)
            if runtime == "onnx-int8" and not isinstance(model, OnnxEncoder):
                raise XmodalError("no int8 text tower in this export")
            vectors = model.encode_texts(texts)
        except XmodalError as exc:
            comparison.unavailable[runtime] = exc.message
            continue
        scores = vectors @ all_vectors.T
        ranked = np.stack([all_ids[np.lexsort((all_ids, -row))[:DEPTH]] for row in scores])
        rankings[runtime] = ranked
        comparison.metrics[runtime] = metrics_of(
            [first_relevant(row, {item}) for row, item in zip(ranked, wanted, strict=True)]
        )
    if "torch" in rankings:
        reference = rankings["torch"][:, :10]
        for name, ranked in rankings.items():
            shared = [
                len(set(a.tolist()) & set(b.tolist())) / max(len(a), 1)
                for a, b in zip(reference, ranked[:, :10], strict=True)
            ]
            comparison.top10_agreement[name] = float(np.mean(shared))
    comparison.int8, comparison.reason = _verdict(comparison)
    return comparison


def _verdict(comparison: RuntimeComparison) -> tuple[bool, str]:
    found = comparison.metrics
    if "onnx-int8" not in found:
        return False, f"int8 text tower off: {comparison.unavailable.get('onnx-int8', 'not measured')}"
    worst = 0.0
    for reference in ("torch", "onnx"):
        if reference in found:
            worst = max(worst, *(abs(found["onnx-int8"].recall[k] - found[reference].recall[k]) for k in (1, 5, 10)))
    if worst > INT8_TOLERANCE:
        return False, f"int8 text tower off: recall moves by {worst:.3f} (> {INT8_TOLERANCE}) on these pairs"
    return (
        True,
        f"int8 text tower on: recall within {worst:.3f} of fp32 at R@1/5/10 on {found['onnx-int8'].queries} captions",
    )


def store_choice(library: Library, comparison: RuntimeComparison) -> bool:
    """Record the verdict in the library's export, where later queries read it. False: no export to record in."""
    spec = library.model_spec()
    found = find_export(library.path, spec) if spec is not None else None
    if found is None:
        return False
    folder, manifest = found
    manifest.int8_text = comparison.int8
    manifest.int8_report = comparison.reason
    manifest.write(folder)
    return True
