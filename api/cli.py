"""The `xmodal` command: a thin adapter over indexer and searcher."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import typer
from rich.console import Console

from api.cli_options import search_options, setting_option
from core.errors import InputError, XmodalError
from core.options import SearchOptions
from core.settings import Device, Runtime, Settings, load_settings
from indexer.catalog import COLLECTIONS, Collection
from indexer.library import Library
from indexer.lock import describe_command
from indexer.scan import normalize_roots

if TYPE_CHECKING:
    from indexer.shard_build import ShardExecutor
    from training.moments import MomentsReport
    from training.search_tuning import TuningReport as SearchTuning

Freeze = Literal["image", "text"]

app = typer.Typer(
    name="xmodal",
    help="Semantic search over your photos and texts: text→image, image→image and image→text.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
texts_app = typer.Typer(help="The text corpus searched by image→text queries.", no_args_is_help=True)
app.add_typer(texts_app, name="texts")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)  # paths in messages stay whole, copy-pastable

F = TypeVar("F", bound=Callable[..., Any])

LibraryOpt = Annotated[Path | None, setting_option("library", "--library", "-l")]
DeviceOpt = Annotated[Device | None, setting_option("device")]
RuntimeOpt = Annotated[Runtime | None, setting_option("runtime")]
ModelOpt = Annotated[str | None, setting_option("model")]
PretrainedOpt = Annotated[str | None, setting_option("pretrained")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
QuietOpt = Annotated[bool | None, setting_option("quiet", "--quiet", "-q")]
OcrOpt = Annotated[
    bool | None,
    typer.Option(
        "--ocr/--no-ocr",
        help="Read the words in pictures (Tesseract), after they are embedded; remembered as this library's choice "
        "[default: the library's last choice, on where Tesseract is installed]",
        show_default=False,
    ),
]


def share_cores_politely() -> None:
    """Before torch loads (where queries fall back to it): OpenMP threads that sleep when idle instead of
    spinning. Spinning threads fight other processes for busy cores, and a query then costs 10× as much."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def fatal_errors(func: F) -> F:
    """Expected errors become a message, a hint and an exit status, not a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except XmodalError as exc:
            err.print(f"[bold red]error:[/bold red] {exc.message}", highlight=False)
            if exc.hint:
                err.print(f"[dim]hint:[/dim] {exc.hint}", highlight=False)
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log details.")] = False) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")
    if not verbose:
        logging.getLogger("root").setLevel(logging.ERROR)  # open_clip's random-init chatter
        logging.getLogger("xmodal.export").setLevel(logging.INFO)  # seconds of work, and a refusal, are said


@app.command()
@fatal_errors
def index(
    paths: Annotated[list[Path], typer.Argument(help="Folders or files to index.")],
    library: LibraryOpt = None,
    model: ModelOpt = None,
    pretrained: PretrainedOpt = None,
    device: DeviceOpt = None,
    batch_size: Annotated[int | None, setting_option("batch_size")] = None,
    workers: Annotated[int | None, setting_option("workers")] = None,
    index_runtime: Annotated[Runtime | None, setting_option("index_runtime")] = None,
    reindex: Annotated[bool, typer.Option(help="Re-encode everything (e.g. with a new --model).")] = False,
    rebuild_index: Annotated[
        bool, typer.Option(help="Then train the search index anew from the stored vectors (no re-encoding).")
    ] = False,
    ocr: OcrOpt = None,
    ray: Annotated[
        bool,
        typer.Option(
            "--ray",
            help="Read, decode and encode on a Ray cluster (pip install 'xmodal[ray]'): the one at --ray-address or"
            " XMODAL_RAY__ADDRESS, else a Ray of this machine alone. This process plans and writes.",
        ),
    ] = False,
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="The Ray cluster to use (implies --ray): auto (the cluster `ray start` joined this machine to), "
            "HOST:6379, or ray://HOST:10001."
        ),
    ] = None,
    quiet: QuietOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Index images (and sidecar captions) under PATHS, then read the words in new pictures; later runs only touch
    what changed."""
    settings = load_settings(
        library=library,
        model=model,
        pretrained=pretrained,
        device=device,
        batch_size=batch_size,
        workers=workers,
        index_runtime=index_runtime,
        quiet=quiet,
        ocr=_ocr_setting(ocr),
        ray={"address": ray_address} if ray_address else None,
    )
    from indexer.ingest import index_paths
    from indexer.ocr.run import OcrReport, read_words

    roots = normalize_roots(paths)  # a typo in a path must not create a library
    with Library.open_writer(settings.library, describe_command()) as lib, contextlib.ExitStack() as stack:
        encoder = lib.writer_encoder(settings, reindex=reindex)
        read_source, shards = None, None
        if ray or ray_address:
            from indexer.cluster.reads import cluster_reads
            from indexer.cluster.session import joined
            from indexer.shard_build import RayExecutor

            read_source = cluster_reads(stack.enter_context(joined(settings.ray.address)), settings.ray)
            shards = RayExecutor()
        report = index_paths(lib, encoder, roots, settings, read_source=read_source)
        if rebuild_index and not report.interrupted:
            _rebuild_indexes(lib, settings, as_json, shards)
        if not report.interrupted and not as_json and not settings.quiet:
            from api.render import report_line

            err.print(report_line(report), highlight=False)  # searchable by meaning now; words come next
        words = OcrReport(interrupted=True) if report.interrupted else read_words(lib, settings)
    if as_json:
        from dataclasses import asdict

        out.print_json(data={**asdict(report), "ocr": asdict(words)})
    elif not settings.quiet:
        from api.render import ocr_line, report_line

        if report.interrupted:
            err.print(report_line(report), highlight=False)
        else:
            err.print(ocr_line(words), highlight=False)
    if report.interrupted or words.interrupted:
        raise typer.Exit(130)


def _rebuild_indexes(lib: Library, settings: Settings, quiet: bool, shards: ShardExecutor | None = None) -> None:
    """Each index trained anew; with `shards` (a Ray cluster's tasks) its vectors are added in shards and merged."""
    from indexer.vector_index import IndexPolicy

    for collection in COLLECTIONS:
        started = time.monotonic()
        vector_index = lib.vector_index(collection)
        if shards is None:
            vector_index.rebuild(IndexPolicy.of(settings))
        else:
            vector_index.rebuild(IndexPolicy.of(settings), shards=settings.ray.index_shards, executor=shards)
        if not quiet and not settings.quiet:
            shape = vector_index.shape
            lists = f", {shape.nlist} lists" if shape.nlist else ""
            err.print(f"{collection} index rebuilt: {shape.kind}{lists}, {vector_index.count:,} vectors, "
                      f"{time.monotonic() - started:.1f} s", highlight=False)  # fmt: skip


def _ocr_setting(flag: bool | None) -> dict[str, Any] | None:
    """--ocr/--no-ocr over the settings' ocr section (merged with what the environment and config file set)."""
    return None if flag is None else {"enabled": flag}


@app.command("ocr")
@fatal_errors
def read_picture_words(
    library: LibraryOpt = None,
    again: Annotated[
        bool, typer.Option("--again", help="Read every picture again (new languages, new Tesseract).")
    ] = False,
    quiet: QuietOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Read the words in the library's pictures that are still to be read (an interrupted pass goes on)."""
    from indexer.ocr.run import read_words

    settings = load_settings(library=library, quiet=quiet, ocr=_ocr_setting(True))
    with Library.open_writer(settings.library, describe_command()) as lib:
        if again:
            from indexer.catalog import picture_words

            picture_words.forget(lib.catalog)
        report = read_words(lib, settings)
    if as_json:
        from dataclasses import asdict

        out.print_json(data=asdict(report))
    elif not settings.quiet:
        from api.render import ocr_line

        err.print(ocr_line(report), highlight=False)
    if report.interrupted:
        raise typer.Exit(130)


@app.command()
@fatal_errors
@search_options
def search(
    query: Annotated[
        str | None, typer.Argument(help='What to look for, in words; combine terms: "2:beach + sunset - people".')
    ] = None,
    image: Annotated[
        Path | None, typer.Option("--image", "-i", help="Search by this picture (with words: both).")
    ] = None,
    texts: Annotated[bool, typer.Option("--texts", help="Return texts that describe the query.")] = False,
    library: LibraryOpt = None,
    device: DeviceOpt = None,
    runtime: RuntimeOpt = None,
    as_json: JsonOpt = False,
    *,
    options: SearchOptions,
) -> None:
    """Search by words (text→image), by a picture (--image), both, or for texts about them (--texts)."""
    from api.render import print_hits
    from core.errors import InputError
    from searcher.engine import Searcher
    from searcher.query import Query

    if query is None and image is None:
        raise InputError("give a text query, --image PHOTO, or both", 'e.g. xmodal search "a dog on the beach"')
    share_cores_politely()
    if options.folder:
        options = options.model_copy(update={"folder": str(Path(options.folder).expanduser().absolute())})
    settings = load_settings(library=library, device=device, runtime=runtime)
    picture = None
    if image is not None:
        try:
            picture = image.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read query image {image}: {exc.strerror or exc}") from exc
    collection: Collection = "texts" if texts else "media"
    with Library.open_reader(settings.library) as lib:
        searcher = Searcher(lib, settings, brief=True)  # one query, then the process ends
        try:
            hits = searcher.ask(Query(query, picture, str(image)), collection, options)
        finally:
            searcher.close()
    print_hits(out, hits, as_json)


@texts_app.command("add")
@fatal_errors
def texts_add(
    files: Annotated[list[Path], typer.Argument(help=".txt (a text per line), .md (per paragraph), .csv.")],
    library: LibraryOpt = None,
    model: ModelOpt = None,
    pretrained: PretrainedOpt = None,
    device: DeviceOpt = None,
) -> None:
    """Add captions and documents to the text corpus; re-adding a file replaces its texts."""
    from indexer.ingest import add_texts

    settings = load_settings(library=library, model=model, pretrained=pretrained, device=device)
    roots = normalize_roots(files)
    with Library.open_writer(settings.library, describe_command()) as lib:
        encoder = lib.writer_encoder(settings)
        count = add_texts(lib, encoder, roots, settings)
    err.print(f"{count} texts in the corpus from {len(files)} files")


@app.command()
@fatal_errors
def watch(
    paths: Annotated[list[Path] | None, typer.Argument(help="Folders to watch; none: those watched last time.")] = None,
    library: LibraryOpt = None,
    poll: Annotated[bool | None, typer.Option("--poll", help="Poll instead of inotify (network shares).")] = None,
    debounce: Annotated[float | None, typer.Option(min=0.05, help="Seconds of quiet before a batch.")] = None,
    full_scan_every: Annotated[float | None, typer.Option(min=0, help="Minutes between full scans (0: never).")] = None,
    model: ModelOpt = None,
    pretrained: PretrainedOpt = None,
    device: DeviceOpt = None,
    ocr: OcrOpt = None,
    quiet: QuietOpt = None,
) -> None:
    """Keep the library up to date: a full scan, then every change (add, edit, move, delete) within seconds, and
    the words in new pictures seconds after."""
    from core.errors import InputError
    from indexer.watch import Watcher, WatchOptions

    settings = load_settings(
        library=library, model=model, pretrained=pretrained, device=device, quiet=quiet, ocr=_ocr_setting(ocr)
    )
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    watch_log = logging.getLogger("xmodal.watch")
    watch_log.addHandler(handler)
    watch_log.setLevel(logging.INFO)
    watch_log.propagate = False
    with Library.open_writer(settings.library, describe_command()) as lib:
        remembered = lib.catalog.get_json("watch")
        if paths:
            options = WatchOptions(roots=normalize_roots(paths))
        elif remembered is not None:
            options = WatchOptions(**remembered)
        else:
            raise InputError("no folders to watch", "name them once: xmodal watch ~/Pictures; later runs remember")
        if poll is not None:
            options.poll = poll
        if debounce is not None:
            options.debounce = debounce
        if full_scan_every is not None:
            options.full_scan_every = full_scan_every
        encoder = lib.writer_encoder(settings)
        watch_log.info("watching %s (%s)", ", ".join(options.roots), "polling" if options.poll else "native events")
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C / SIGTERM: the batch in hand is finished first
            Watcher(lib, encoder, settings, options).run()
    watch_log.info("stopped; files still settling or waiting for a retry are picked up by the next start's full scan")


@app.command()
@fatal_errors
def train(
    pairs: Annotated[Path, typer.Option(help="image,caption CSV, or a folder of images with .txt sidecars.")],
    model: Annotated[str, typer.Option(help="open_clip architecture or model-config JSON to train.")],
    out: Annotated[Path, typer.Option(help="Checkpoint to write (its config goes next to it as .json).")],
    pretrained: Annotated[str | None, typer.Option(help="Start from these weights (fine-tuning).")] = None,
    epochs: Annotated[int, typer.Option(min=1)] = 10,
    batch_size: Annotated[int, typer.Option(min=2)] = 128,
    accumulate: Annotated[int, typer.Option(min=1, help="Batches per optimizer step.")] = 1,
    lr: Annotated[float, typer.Option(min=0)] = 1e-3,
    freeze: Annotated[Freeze | None, typer.Option(help="Lock one tower: image or text.")] = None,
    val_fraction: Annotated[float, typer.Option(min=0, max=0.5, help="Held-out share of images.")] = 0.1,
    device: DeviceOpt = None,
    seed: int = 0,
) -> None:
    """Train or fine-tune a CLIP model on image–caption pairs; prints held-out Recall@K every epoch."""
    from training.trainer import TrainConfig, Trainer

    config = TrainConfig(
        pairs=pairs,
        model=model,
        out=out,
        pretrained=pretrained,
        epochs=epochs,
        batch_size=batch_size,
        accumulate=accumulate,
        lr=lr,
        freeze=freeze,
        val_fraction=val_fraction,  # type: ignore[arg-type]
        device=device or "auto",
        seed=seed,
    )
    Trainer(config, log=lambda line: err.print(line, highlight=False)).run()


@app.command("eval")
@fatal_errors
def evaluate_pairs(
    pairs: Annotated[
        Path | None, typer.Option(help="image,caption CSV, or a folder of images with .txt sidecars.")
    ] = None,
    queries: Annotated[
        Path | None, typer.Option(help="Judged queries CSV (query,language,kind,image), e.g. data/plain_shapes.py's.")
    ] = None,
    moments: Annotated[
        Path | None,
        typer.Option(help="Video moments CSV (video,start,end,caption), e.g. data/scene_videos.py's: localisation."),
    ] = None,
    library: LibraryOpt = None,
    model: ModelOpt = None,
    pretrained: PretrainedOpt = None,
    device: DeviceOpt = None,
    stages: Annotated[
        bool, typer.Option("--stages", help="Also text→image through each ranking stage, on and off.")
    ] = False,
    runtimes: Annotated[
        bool,
        typer.Option(
            "--runtimes",
            help="Also text→image with the captions encoded by torch, ONNX and ONNX int8; the int8 text tower is "
            "switched on in the library only where its recall stays within 0.005 of both.",
        ),
    ] = False,
    runtime: RuntimeOpt = None,
    tune_search: Annotated[
        bool,
        typer.Option(
            "--tune-search",
            help="Measure the search stage's recall@10 against exact search with text queries for each nprobe (and"
            " re-ranking depth, where the index holds codes) on the library, and record the fastest setting that"
            " reaches --recall-target in its index; searches follow it unless nprobe, rescore_factor or"
            " rerank_candidates are set.",
        ),
    ] = False,
    recall_target: Annotated[
        float, typer.Option(min=0.5, max=1.0, help="With --tune-search: the recall@10 to reach.")
    ] = 0.95,
    as_json: JsonOpt = False,
) -> None:
    """Recall@1/5/10 and MRR through the engine's search path, next to exact search on the same vectors; with
    --pairs it also learns the calibrated cutoff's threshold and stores it in the library. With --queries:
    recall, kept share of the model's top 100, P@5 and absent hits per kind of judged query (its pictures go
    to a scratch library of the same model, with the threshold learnt from --pairs when given). With --moments:
    temporal localisation of each caption among its video's moments, R@1/R@5 at IoU 0.5 and 0.7 (its videos go
    to the library, or a scratch one)."""
    import tempfile

    from api.render import print_eval, print_judged, print_moments, print_runtimes, print_stage_eval
    from indexer.ingest import add_texts, index_paths
    from searcher.engine import Searcher
    from training.calibration import learn_calibration, store_calibration
    from training.evaluate import evaluate, evaluate_stages, stage_variants
    from training.judged import evaluate_judged, judged_images, judged_variants, load_judged
    from training.pairs import load_pairs
    from training.runtime_choice import compare_runtimes, store_choice

    if pairs is None and queries is None and moments is None and not tune_search:
        raise InputError(
            "nothing to evaluate", "give --pairs PAIRS, --queries QUERIES, --moments MOMENTS or --tune-search"
        )
    document: dict[str, Any] = {}
    calibration = None
    with tempfile.TemporaryDirectory(prefix="xmodal-eval-") as scratch:
        settings = load_settings(
            library=library or Path(scratch) / "library",
            model=model,
            pretrained=pretrained,
            device=device,
            runtime=runtime,
            quiet=True,
        )
        if pairs is not None:
            data = load_pairs(pairs)
            with Library.open_writer(settings.library, describe_command()) as lib:
                encoder = lib.writer_encoder(settings)
                index_paths(lib, encoder, [pairs] if pairs.is_dir() else data.images, settings)
                if pairs.is_file():
                    add_texts(lib, encoder, [str(pairs.absolute())], settings)
                sources = (
                    [str(pairs.absolute())]
                    if pairs.is_file()
                    else lib.catalog.sidecar_sources_under([str(pairs.absolute())])
                )
                with contextlib.suppress(ValueError):  # too few pairs to learn from: no threshold
                    calibration = learn_calibration(lib, data.images, sources)
                    store_calibration(lib, calibration)
            if runtimes:
                with Library.open_writer(settings.library, describe_command()) as lib:
                    choice = compare_runtimes(lib, data.images, [str(pairs.absolute())] if pairs.is_file() else None)
                    stored = store_choice(lib, choice)
                document["runtimes"] = choice.to_json()
            with Library.open_reader(settings.library) as lib:
                searcher = Searcher(lib, settings)
                try:
                    report = evaluate(lib, searcher, data.images, [str(pairs.absolute())] if pairs.is_file() else None)
                    if stages:
                        asked = [(i, c) for i, cs in zip(data.images, data.captions, strict=True) for c in cs]
                        staged = evaluate_stages(lib, searcher, asked, stage_variants(settings.ranking))
                finally:
                    searcher.close()
            document.update(report.to_json())
            if stages:
                document["stages"] = {name: metrics.to_json() for name, metrics in staged.items()}
            if calibration is not None:
                document["calibration"] = calibration.to_json()
        if queries is not None:
            judged = load_judged(queries)
            if pairs is not None:  # the pairs' library is not the judged set's: its pictures are not judged
                settings = settings.model_copy(update={"library": Path(scratch) / "judged"})
            with Library.open_writer(settings.library, describe_command()) as lib:
                index_paths(lib, lib.writer_encoder(settings), [Path(p) for p in judged_images(judged)], settings)
                if calibration is not None:
                    with contextlib.suppress(ValueError):  # another model: its threshold does not apply here
                        store_calibration(lib, calibration)
            with Library.open_reader(settings.library) as lib:
                searcher = Searcher(lib, settings)
                try:
                    variants = judged_variants(settings.ranking)
                    if not stages:
                        variants = {name: variants[name] for name in ("vector only", "defaults")}
                    judged_report = evaluate_judged(lib, searcher, judged, variants)
                finally:
                    searcher.close()
            document["judged"] = judged_report.to_json()
        if moments is not None:
            moments_report = evaluate_video_moments(moments, settings, pairs is None and queries is None, scratch)
            document["moments"] = moments_report.to_json()
        if tune_search:
            tuned = _tune_search(settings if pairs is not None else load_settings(library=library), recall_target)
            document["search_tuning"] = tuned.to_json()
    if as_json:
        out.print_json(json.dumps(document))
        return
    if pairs is not None:
        print_eval(out, report, False)
        if stages:
            print_stage_eval(out, staged, False)
        if runtimes:
            print_runtimes(out, choice, stored and library is not None)
        if calibration is not None:
            out.print(
                f"calibrated cutoff: cosine ≥ {calibration.cosine:.3f} keeps {calibration.true_kept:.0%} of "
                f"{calibration.pairs} true pairs and {calibration.random_kept:.0%} of random ones (stored in the library)"  # noqa: E501
            )
    if queries is not None:
        print_judged(out, judged_report)
    if moments is not None:
        print_moments(out, moments_report)
    if tune_search:
        from api.render import print_tuning

        print_tuning(out, tuned)


def _tune_search(settings: Settings, target: float) -> SearchTuning:
    from searcher.engine import Searcher
    from training.search_tuning import store_tuning, tune_search

    with Library.open_reader(settings.library) as lib:
        searcher = Searcher(lib, settings)
        try:
            report = tune_search(lib, searcher, target)
        finally:
            searcher.close()
    with Library.open_writer(settings.library, describe_command()) as lib:  # the manifest is the writer's
        store_tuning(lib, report)
    return report


def evaluate_video_moments(path: Path, settings: Settings, own_library: bool, scratch: str) -> MomentsReport:
    """Index the moments file's videos (into the library, or a scratch one where pairs or queries took it)."""
    from indexer.ingest import index_paths
    from searcher.engine import Searcher
    from training.moments import evaluate_moments, load_moments

    truth = load_moments(path)
    if not truth:
        raise InputError(f"{path} holds no moments", "give a CSV with columns video,start,end,caption")
    if not own_library:
        settings = settings.model_copy(update={"library": Path(scratch) / "moments"})
    with Library.open_writer(settings.library, describe_command()) as lib:
        videos = sorted({Path(moment.video) for moment in truth})
        index_paths(lib, lib.writer_encoder(settings), videos, settings)
    with Library.open_reader(settings.library) as lib:
        searcher = Searcher(lib, settings)
        try:
            return evaluate_moments(lib, searcher, truth)
        except ValueError as exc:
            raise InputError(str(exc), "check the moments file's video paths (relative to its folder)") from None
        finally:
            searcher.close()


@app.command()
@fatal_errors
def stats(library: LibraryOpt = None, as_json: JsonOpt = False) -> None:
    """What the library holds: counts, model, index shape, and every file that could not be indexed."""
    from api.render import print_stats
    from api.stats import library_stats

    settings: Settings = load_settings(library=library)
    with Library.open_reader(settings.library) as lib:
        print_stats(out, library_stats(lib), as_json)


@app.command()
@fatal_errors
def serve(
    library: LibraryOpt = None,
    host: Annotated[str | None, setting_option("host")] = None,
    port: Annotated[int | None, setting_option("port")] = None,
    workers: Annotated[int | None, setting_option("server_workers", "--workers")] = None,
    api_key: Annotated[str | None, setting_option("api_key")] = None,
    device: DeviceOpt = None,
    runtime: RuntimeOpt = None,
) -> None:
    """Serve the search page and the JSON API (docs at /docs); a watcher's updates show up without a restart."""
    share_cores_politely()
    import uvicorn

    from api.server import create_app, export_settings

    settings = load_settings(
        library=library, host=host, port=port, server_workers=workers, api_key=api_key, device=device, runtime=runtime
    )
    if settings.host not in ("127.0.0.1", "localhost", "::1") and not settings.api_key:
        err.print(
            f"[yellow]warning:[/yellow] listening on {settings.host} without an API key: anyone who can reach "
            "this port can search and download your files (set --api-key or XMODAL_API_KEY)",
            highlight=False,
        )
    err.print(f"xmodal: search page at http://{settings.host}:{settings.port}/ , API docs at /docs", highlight=False)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # uvicorn installs its own graceful shutdown
    if settings.server_workers > 1:
        from api.workers import run_workers

        export_settings(settings)
        run_workers(settings, "api.server:app_from_environment")
    else:
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port)


def _terminate_gracefully(_signum: int, _frame: object) -> None:
    """SIGTERM (systemd stop, kill) finishes the batch in hand and writes the index, like Ctrl-C."""
    raise KeyboardInterrupt


def run() -> None:
    signal.signal(signal.SIGTERM, _terminate_gracefully)
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    run()
