"""How results look: a readable table for people, one JSON document for programs."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from searcher.hits import Hit

if TYPE_CHECKING:
    from indexer.ingest import IndexReport
    from indexer.ocr.run import OcrReport
    from training.evaluate import EvalReport, StageMetrics
    from training.judged import JudgedReport
    from training.moments import MomentsReport
    from training.runtime_choice import RuntimeComparison
    from training.search_tuning import TuningReport as SearchTuning


def _shown_path(path: str) -> str:
    """Tables show paths under the working directory relative to it: short enough not to wrap."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def print_hits(console: Console, hits: Sequence[Hit], as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps([hit.to_json() for hit in hits]))
        return
    if not hits:
        console.print("no results")
        return
    if not console.is_terminal:  # piped into grep, cut, a file: one whole line per hit, never wrapped
        for hit in hits:  # written as is: rich would expand the tabs that cut and awk split on
            console.file.write(_hit_line(hit) + "\n")
        return
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("#", justify="right")
    table.add_column("score", justify="right")
    table.add_column("id", justify="right", style="dim")
    is_text = hits[0].kind == "text"
    table.add_column("text" if is_text else "path", overflow="fold")
    if not is_text:
        table.add_column("size", style="dim")
        table.add_column("taken", style="dim")
    for hit in hits:
        if is_text:
            table.add_row(str(hit.rank), _score(hit), str(hit.id), hit.text or "")
        else:
            size = f"{hit.width}×{hit.height}" if hit.width else ""
            table.add_row(
                str(hit.rank),
                _score(hit),
                str(hit.id),
                _where(hit),
                size,
                (hit.taken_at or "")[:10],
            )
    console.print(table)


def _where(hit: Hit) -> str:
    """A picture's path; a moment's video path @ start–end (and how many more moments of it follow)."""
    path = _shown_path(hit.path or "")
    if hit.kind != "video":
        return path
    shown = f"{path} @ {clock(hit.start or 0.0)}–{clock(hit.end or 0.0)}"
    return shown + (f" (+{len(hit.moments)} more moments)" if hit.moments else "")


def clock(seconds: float) -> str:
    """00:01:23: a moment's time as players show it (whole seconds, rounded down)."""
    minutes, second = divmod(int(seconds), 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}:{second:02d}"


def _score(hit: Hit) -> str:
    """The number the list is ordered by ('-' past a reranked block); the cosine is in --json."""
    return "-" if hit.score is None else f"{hit.score:.3f}"


def _hit_line(hit: Hit) -> str:
    """rank, score, id, then the path (or text), then size and date: tab-separated for cut and awk."""
    fields = [str(hit.rank), _score(hit), str(hit.id)]
    if hit.kind == "text":
        fields.append(" ".join((hit.text or "").split()))
    else:
        size = f"{hit.width}x{hit.height}" if hit.width else ""
        where = hit.path or ""
        if hit.kind == "video":
            where += f" @ {clock(hit.start or 0.0)}–{clock(hit.end or 0.0)}"
        fields += [where, size, (hit.taken_at or "")[:10]]
    return "\t".join(fields)


def report_line(report: IndexReport) -> str:
    rate = report.encoded / report.seconds if report.seconds > 0 else 0.0
    parts = [
        f"{report.scanned} files found",
        f"{report.added} added",
        f"{report.updated} updated",
        f"{report.moved} moved",
        f"{report.duplicates} duplicates",
        f"{report.removed} removed",
        f"{report.unchanged} unchanged",
        f"{report.failed} failed",
    ]
    if report.texts:
        parts.append(f"{report.texts} sidecar texts")
    if report.companions:
        parts.append(f"{report.companions} RAW files beside their JPEG")
    if report.skipped:
        parts.append(f"{report.skipped} skipped (xmodal stats says why)")
    if report.videos:
        parts.append(f"{report.videos} videos sampled into {report.frames} frames and {report.moments} moments")
    through = f" through {report.image_runtime}" if report.encoded else ""
    line = ", ".join(parts) + f" in {report.seconds:.1f}s ({rate:.1f} files/s encoded{through})"
    if report.mixes_with:
        line += (
            f"; the library's earlier pictures were encoded through {', '.join(report.mixes_with)}"
            " (xmodal index --reindex re-encodes them all through one)"
        )
    if report.interrupted:
        line = "interrupted: " + line + "; run the same command again to resume"
    return line


def ocr_line(report: OcrReport) -> str:
    if report.skipped:
        return report.skipped
    if not report.read and not report.interrupted:
        return "words in pictures: every picture has been read"
    rate = report.read / report.seconds if report.seconds > 0 else 0.0
    line = (
        f"words in pictures: {report.read} pictures read, {report.with_text} with words, {report.failed} failed "
        f"in {report.seconds:.1f}s ({rate:.1f} pictures/s; {report.probed_only} ruled out by a quick look)"
    )
    if report.copied:
        line += f"; {report.copied} copies took the words of their originals"
    if report.interrupted:
        line = "interrupted: " + line + "; xmodal ocr (or the same command again) reads the rest"
    return line


def print_stats(console: Console, stats: dict[str, Any], as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps(stats))
        return
    table = Table(show_header=False, show_edge=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key in ("library", "model", "dim", "images", "videos", "moments", "failed", "skipped", "texts", "text_sources"):
        table.add_row(key, str(stats.get(key, "")))
    table.add_row("disk_bytes", str(stats.get("disk_bytes", "")))
    encoded_by = stats.get("pictures_encoded_by") or []
    if len(encoded_by) > 1:
        table.add_row("pictures", f"encoded through {', '.join(encoded_by)}, mixed (xmodal index --reindex: one)")
    elif encoded_by:
        table.add_row("pictures", f"encoded through {encoded_by[0]}")
    for name, info in stats["indexes"].items():
        desc = f"{info['kind']}" + (f" nlist={info['nlist']}" if info["kind"] in ("ivf", "ivfpq") else "")
        desc += f", {info['count']} vectors"
        if info.get("shards", 1) > 1:
            desc += f" in {info['shards']} shards"
        if not info["current"]:
            desc += f", {info.get('delta', 0)} more searched beside it" if info.get("delta") else " (catching up)"
        if info.get("vector_bytes"):
            desc += f"; vector file {info['vector_bytes'] / 2**20:.1f} MiB, {info.get('precision')}"
        table.add_row(f"index:{name}", desc)
    queries = stats.get("queries")
    if queries:
        why = queries.get("why") or (
            f"checked against torch (largest difference {queries['text_error']:.1g}); pictures: {queries['pictures']}; "
            f"int8 words: {queries['int8_text']}"
        )
        table.add_row("queries", f"{queries['runtime']}: {why}")
    ocr = stats.get("ocr")
    if ocr:
        table.add_row("words", _ocr_state(ocr))
    console.print(table)
    if stats["failures"]:
        console.print(f"\n[bold]{stats['failed']} files could not be indexed:[/bold]")
        for failure in stats["failures"][:50]:
            console.print(f"  {failure['path']}: {failure['reason']}", markup=False, highlight=False)
        if stats["failed"] > 50:
            console.print("  … (xmodal stats --json lists them all)")
    partial = stats.get("partial_videos") or []
    if partial:
        console.print(f"\n[bold]{len(partial)} videos were indexed only in part:[/bold]")
        for video in partial[:50]:
            console.print(f"  {video['path']}: {video['reason']}", markup=False, highlight=False)
    skipped = stats.get("skipped_by_reason") or []
    if skipped:
        console.print(f"\n[bold]{stats['skipped']} files were not indexed:[/bold]")
        for group in skipped:
            shown = ", ".join(_shown_path(path) for path in group["examples"])
            more = " …" if group["count"] > len(group["examples"]) else ""
            line = f"  {group['count']} × {group['reason']}: {shown}{more}"
            console.print(line, markup=False, highlight=False)
    if ocr and ocr.get("failures"):
        console.print(f"\n[bold]{ocr['failed']} pictures whose words could not be read:[/bold]")
        for failure in ocr["failures"]:
            console.print(f"  {failure['path']}: {failure['reason']}", markup=False, highlight=False)


def _ocr_state(ocr: dict[str, Any]) -> str:
    """One line: how many pictures were read and hold words, what is left, and what stops reading here."""
    state = f"read in {ocr['read']} pictures, {ocr['with_text']} with words, {ocr['failed']} failed"
    if ocr["to_read"]:
        state += f", {ocr['to_read']} still to read (xmodal ocr)"
    state += f"; OCR {ocr['library_choice']}"
    if ocr.get("problem"):
        state += f"; not available here: {ocr['problem']}"
    elif ocr.get("engine"):
        state += f" ({ocr['engine']})"
    return state


def print_eval(console: Console, report: EvalReport, as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps(report.to_json()))
        return
    table = Table(show_edge=False, pad_edge=False)
    for column in ("direction", "search", "R@1", "R@5", "R@10", "MRR", "queries"):
        table.add_column(column, justify="left" if column in ("direction", "search") else "right")
    for direction in report.engine:
        for name, metrics in (("engine", report.engine[direction]), ("exact", report.exact[direction])):
            table.add_row(
                direction,
                name,
                *(f"{metrics.recall[k]:.3f}" for k in (1, 5, 10)),
                f"{metrics.mrr:.3f}",
                str(metrics.queries),
            )
    console.print(table)
    console.print(f"index: images {report.index_kind['media']}, texts {report.index_kind['texts']}")


def print_tuning(console: Console, report: SearchTuning) -> None:
    if report.kind == "flat":
        console.print(f"search tuning: the index is flat ({report.vectors:,} vectors): exact, nothing to tune")
        return
    table = Table(show_edge=False, pad_edge=False)
    compressed = report.kind == "ivfpq"
    for column in ("nprobe", "re-ranked" if compressed else "per hit", f"recall@{report.k}", "p50 ms", ""):
        table.add_column(column, justify="right")
    for row in report.rows:
        mark = "chosen" if row == report.chosen else ""
        depth = row.rerank_candidates if compressed else row.rescore_factor
        table.add_row(str(row.nprobe), str(depth), f"{row.recall:.3f}", f"{row.p50_ms:.2f}", mark)
    console.print(table)
    chosen = report.chosen
    assert chosen is not None
    verdict = "reaches" if report.reached else "does not reach (the best there is)"
    console.print(
        f"search tuning: {report.kind}, {report.nlist} lists, {report.vectors:,} vectors, {report.queries} text "
        f"queries ({report.source}): nprobe {chosen.nprobe}"
        f"{f', {chosen.rerank_candidates} re-ranked' if compressed else ''} {verdict} "
        f"recall@{report.k} {report.target:.2f}; recorded in the index, searches follow it"
    )


def print_moments(console: Console, report: MomentsReport) -> None:
    console.print(
        f"moments: {report.queries} captions over {report.videos} videos "
        f"({report.moments_per_video:.1f} moments per video, top moment {report.top_moment_seconds:.1f} s on average)"
    )
    console.print(
        f"  in its video: R@1 {report.r1_iou50:.3f}, R@5 {report.r5_iou50:.3f} at IoU 0.5; "
        f"R@1 {report.r1_iou70:.3f}, R@5 {report.r5_iou70:.3f} at IoU 0.7"
    )
    console.print(f"  in the whole library: R@1 {report.library_r1_iou50:.3f} at IoU 0.5 (right video, right moment)")


def print_runtimes(console: Console, comparison: RuntimeComparison, stored: bool) -> None:
    table = Table(title="text→image, captions encoded by each runtime", show_edge=False, pad_edge=False)
    for column in ("runtime", "R@1", "R@5", "R@10", "MRR", "top-10 as torch"):
        table.add_column(column, justify="left" if column == "runtime" else "right")
    for name, metrics in comparison.metrics.items():
        agreement = comparison.top10_agreement.get(name)
        table.add_row(
            name,
            *(f"{metrics.recall[k]:.3f}" for k in (1, 5, 10)),
            f"{metrics.mrr:.3f}",
            "" if agreement is None else f"{agreement:.3f}",
        )
    console.print(table)
    for name, why in comparison.unavailable.items():
        console.print(f"{name}: not measured ({why})")
    where = "stored in the library" if stored else "not kept: give --library L to keep it in a library"
    console.print(f"{comparison.reason} ({where})")


def print_stage_eval(console: Console, report: dict[str, StageMetrics], as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps({name: metrics.to_json() for name, metrics in report.items()}))
        return
    table = Table(title="text→image, ranking stages", show_edge=False, pad_edge=False)
    for column in ("stages", "R@1", "R@5", "R@10", "MRR", "absent: hits", "p50 ms"):
        table.add_column(column, justify="left" if column == "stages" else "right")
    for name, stage in report.items():
        metrics = stage.metrics
        table.add_row(
            name,
            *(f"{metrics.recall[k]:.3f}" for k in (1, 5, 10)),
            f"{metrics.mrr:.3f}",
            f"{stage.absent_hits:.1f}",
            f"{stage.p50_ms:.1f}",
        )
    console.print(table)
    console.print("absent: hits = mean results returned for concepts the library does not show (of 100)")


def _cell(value: float, digits: int = 2) -> str:
    return "–" if value != value else f"{value:.{digits}f}"  # NaN: nothing to measure in this group


def print_judged(console: Console, report: JudgedReport) -> None:
    """One table per ranking variant, so the rows stay readable in 80 columns."""
    for name, groups in report.groups.items():
        table = Table(title=f"judged queries, k=100: {name}", show_edge=False, pad_edge=False)
        for column in ("kind", "lang", "queries", "recall", "kept", "worst kept", "P@5", "absent: hits"):
            table.add_column(column, justify="left" if column in ("kind", "lang") else "right", no_wrap=True)
        for (kind, language), metrics in groups.items():
            table.add_row(
                kind,
                language,
                str(metrics.queries),
                _cell(metrics.recall),
                _cell(metrics.kept),
                _cell(metrics.kept_min),
                _cell(metrics.p5),
                _cell(metrics.absent_hits, 1),
            )
        console.print(table)
    console.print(
        "recall: share of all true matches returned; kept: share returned of the true matches the model alone "
        "ranks in its top 100 (worst kept: the worst query's); absent: hits = results for what no picture shows"
    )
