"""Words in pictures: what Tesseract reads through the reader (indexer/ocr/reader.py), what a word search then
finds, and what reading costs, on the project's rendered-text set and on real photos with no text.

    python -m bench.ocr_quality [--count 200] [--seed 1414] [--photos DIR] [--flickr 100] [--camera 3]
                                [--cost-sample 30] [--more] [--load] [--write]

The set (data/text_pictures.py, `--count` pictures, grounds partly from `--photos`) says which words each picture
holds, how high (ink height, px) and at what angle. A word counts as read when a word search would find it in
the text the reader kept (data/rendered_text/reading.py).

- Quality of the reader as it is: recall of words at least 20 px high, overall, by language, angle, height, kind
  and ground; smaller words apart; beside it the reader without its reads turned, thresholded locally and laid
  out as a page.
  Then the page layout look alone off, the quarter turns alone off, one read only, `min_confidence` 60/80, and with `--more` straightening and
  the local threshold each off alone and experiments the reader has no setting for (the picture's slow brightness
  changes subtracted first; a read at half size; lone stroke-like Chinese pieces dropped; Tesseract's Sauvola
  thresholding alone and PSM AUTO alone), each with the words it keeps
  on `--flickr` real photos with no text (Flickr8k), which would pollute search. These passes run in two worker
  processes: their seconds compare variants, the cost table below is the cost.
- The probe (`probe_pixels`): set pictures over it read with it and with it off (`probe_pixels = max_pixels`).
- Search: "search a word that is in one picture" (queries.csv), the share whose picture is the top hit, through
  the engine (demo model, `xmodal index` + `xmodal ocr`, `Searcher`), with the reader as it is and without its
  reads turned, thresholded locally and laid out.
- Cost: pictures per second of one reader in this process, pictures decoded beforehand: `--cost-sample` set
  pictures with text, the no-text photos at their own size (~0.2 MP), and `--camera` of them upscaled to 12 MP
  with the probe and without it; the reader as it is, without its reads turned, thresholded locally and laid out,
  without the layout look alone, without the quarter turns alone (set pictures only: photos without words are
  not turned), and with one read. Quiet, and with `--load` all but the last again while two
  spinning processes keep both cores busy ("others' cores": how busy the rest of the shared machine was
  meanwhile).
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from bench._results import machine, write_section
from bench.video_index import Busy, OthersCpu
from data.rendered_text.reading import SetPicture, TruthWord, load_pictures, load_queries, load_truth, was_read
from data.text_pictures import generate
from indexer.ocr.reader import OcrTimeout, PictureReader, ReadPlan
from indexer.ocr.tesseract import find_tesseract

REPO = Path(__file__).resolve().parent.parent
FLICKR = REPO.parent / "shared" / "data" / "flickr8k-dev" / "images"
SEED = 1414  # the set's seed: no test draws from it
LANGUAGES = ("eng", "chi_sim")
CAMERA_PIXELS = 12_000_000
BIG = 20  # px: "large" words, the recall that matters
STROKES = set("一二丨丶丿-—_~=.,'\"`")  # what edges and lines in a photo read as, with high confidence
PROBE_PIXELS = ReadPlan("", "").probe_pixels
EMPTY_PAGE, TIMED_OUT = "no text returned", "timed out"
VARIANT_COLUMNS = (
    "reader",
    f"recall ≥ {BIG} px",
    f"English ≥ {BIG} px, ≤ 5°",
    f"Chinese ≥ {BIG} px, ≤ 5°",
    f"recall < {BIG} px",
    "false words, Flickr photos",
    "false words, no-text controls",
    "s / text picture",
)


@dataclass(frozen=True)
class Variant:
    name: str
    min_confidence: float = 70.0
    probe: bool = True
    sauvola: bool = False  # Tesseract's thresholding_method 2 instead of its global Otsu
    psm: str = ""  # another page segmentation mode than the reader's SPARSE_TEXT (a tesserocr.PSM name)
    flatten: bool = False  # the picture's slow brightness changes subtracted first
    half_too: bool = False  # read again at half size, the words of both kept (large text)
    drop_strokes: bool = False  # pieces made only of 一, 二, 丨 ... dropped, from the probe's look too
    second_look: bool = True  # the reader's second read at the size its words' heights ask for
    straighten: bool = True  # the reader's reads turned level where lines of text lean
    local_threshold: bool = True  # the reader's read thresholded locally (Sauvola) where there are lines
    page_layout: bool = True  # the reader's read laid out as a page (PSM AUTO) where there are lines
    quarter_turns: bool = True  # the reader's reads a quarter turn each way of pictures with words

    def plan(self) -> ReadPlan:
        tesseract = find_tesseract(LANGUAGES)
        assert tesseract.tessdata is not None, tesseract.problem
        base = ReadPlan(tesseract.tessdata, tesseract.language_spec)
        own_probe = self.probe and not self.drop_strokes  # drop_strokes looks first itself (see read)
        return replace(
            base,
            min_confidence=self.min_confidence,
            probe_pixels=base.probe_pixels if own_probe else base.max_pixels,
            second_look=self.second_look,
            straighten=self.straighten,
            local_threshold=self.local_threshold,
            page_layout=self.page_layout,
            quarter_turns=self.quarter_turns,
        )


DEFAULT = Variant("reader as it is (min_confidence 70)")
PLAIN = Variant("no reads turned, thresholded locally or laid out", straighten=False, local_threshold=False,
                page_layout=False, quarter_turns=False)  # fmt: skip
NO_LAYOUT = Variant("no page layout look", page_layout=False)
NO_QUARTER_TURNS = Variant("no quarter turns", quarter_turns=False)
ONE_LOOK = Variant("one read", second_look=False, straighten=False, local_threshold=False, page_layout=False,
                   quarter_turns=False)  # fmt: skip
NO_PROBE = Variant("probe off", probe=False)
STROKES_DROPPED = Variant("lone strokes dropped", drop_strokes=True)
BEST = Variant("flattened + half size + lone strokes dropped", flatten=True, half_too=True, drop_strokes=True)
VARIANTS = (
    DEFAULT,
    PLAIN,
    NO_LAYOUT,
    NO_QUARTER_TURNS,
    ONE_LOOK,
    Variant("min_confidence 60", min_confidence=60),
    Variant("min_confidence 80", min_confidence=80),
)
MORE = (
    Variant("not straightened", straighten=False),
    Variant("no local threshold", local_threshold=False),
    BEST,
    Variant("flattened + half size", flatten=True, half_too=True),
    Variant("flattened (brightness subtracted)", flatten=True),
    Variant("also read at half size", half_too=True),
    STROKES_DROPPED,
    Variant("Sauvola thresholding", sauvola=True),
    Variant("PSM AUTO (a page of blocks)", psm="AUTO"),
)


# -- reading ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    text: str
    words: int  # distinct pieces of the kept text (a closed-up Chinese run is one)
    probed_only: bool
    seconds: float
    failure: str = ""  # EMPTY_PAGE or TIMED_OUT: the reader raised, and the picture counts as read as nothing


@dataclass(frozen=True)
class Source:
    path: Path
    pixels: int | None = None  # upscaled to about this many pixels (a camera-sized photo)

    def load(self) -> Image.Image:
        with Image.open(self.path) as opened:
            image = opened.convert("RGB")
        if self.pixels:
            factor = (self.pixels / (image.width * image.height)) ** 0.5
            image = image.resize((round(image.width * factor), round(image.height * factor)), Image.Resampling.BICUBIC)
        return image


_readers: dict[Variant, PictureReader] = {}


def reader_for(variant: Variant) -> PictureReader:
    """One loaded reader per variant and process, as the pass keeps one per worker."""
    if variant not in _readers:
        reader = PictureReader(variant.plan())
        if variant.sauvola:  # experiments the reader has no setting for: its Tesseract is told directly
            reader._api.SetVariable("thresholding_method", "2")
        if variant.psm:
            import tesserocr

            reader._api.SetPageSegMode(getattr(tesserocr.PSM, variant.psm))
        _readers[variant] = reader
    return _readers[variant]


def flattened(image: Image.Image) -> Image.Image:
    """The grey picture less a wide blur of itself, stretched to full range: a gradient, a shadow or a dark
    photo behind words no longer decides Tesseract's global threshold."""
    gray = image.convert("L")
    ground = gray.filter(ImageFilter.GaussianBlur(max(gray.size) / 30))
    detail = np.asarray(gray, np.float32) - np.asarray(ground, np.float32)
    low, high = float(detail.min()), float(detail.max())
    return Image.fromarray(((detail - low) * (255.0 / max(1.0, high - low))).astype(np.uint8))


def scaled(image: Image.Image, pixels: int) -> Image.Image:
    """At most `pixels`, by area average: as the reader scales for its probe."""
    if image.width * image.height <= pixels:
        return image
    factor = (pixels / (image.width * image.height)) ** 0.5
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, Image.Resampling.BOX)


def without_strokes(text: str) -> str:
    """The kept text less pieces made only of stroke-like characters: a line or an edge reads as 一."""
    lines = (" ".join(piece for piece in line.split() if not set(piece) <= STROKES) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def read(variant: Variant, image: Image.Image) -> Reading:
    """What the variant keeps of a picture, and how long that took."""
    start = time.perf_counter()
    reader = reader_for(variant)
    picture = flattened(image) if variant.flatten else image
    if variant.drop_strokes and variant.probe and picture.width * picture.height > PROBE_PIXELS:
        look, _, failure = _read_once(reader, scaled(picture, PROBE_PIXELS))  # the probe, strokes left out
        if not without_strokes(look):
            return Reading("", 0, True, time.perf_counter() - start, failure)
    text, probed_only, failure = _read_once(reader, picture)
    if variant.half_too and not probed_only and not failure:
        half = picture.resize((max(1, picture.width // 2), max(1, picture.height // 2)), Image.Resampling.BOX)
        text = "\n".join(part for part in (text, _read_once(reader, half)[0]) if part)
    if variant.drop_strokes:
        text = without_strokes(text)
    return Reading(text, len(set(text.split())), probed_only, time.perf_counter() - start, failure)


def _read_once(reader: PictureReader, image: Image.Image) -> tuple[str, bool, str]:
    """The kept text, whether the probe alone answered, and why the reader raised, if it did."""
    try:
        result = reader.read(image)
    except OcrTimeout:
        return "", False, TIMED_OUT
    except RuntimeError as exc:  # tesserocr's GetUTF8Text on the one empty word of a page with none
        if "No text returned" not in str(exc):
            raise
        return "", False, EMPTY_PAGE
    return result.text, result.probed_only, ""


def _task(job: tuple[Variant, Source]) -> Reading:
    variant, source = job
    return read(variant, source.load())


def read_all(pool: ProcessPoolExecutor, variant: Variant, sources: list[Source]) -> dict[Path, Reading]:
    readings = pool.map(_task, [(variant, source) for source in sources], chunksize=2)
    return dict(zip((source.path for source in sources), readings, strict=True))


# -- scoring ---------------------------------------------------------------------------------------

Scored = list[tuple[TruthWord, bool]]


def scored(folder: Path, truth: list[TruthWord], readings: dict[Path, Reading]) -> Scored:
    return [(word, was_read(word.word, word.lang, readings[folder / word.file].text)) for word in truth]


def recall(pairs: Scored, keep: Callable[[TruthWord], bool] = lambda _: True) -> str:
    """The share of the kept truth words that were read, and how many there were: "0.75 (1579)"."""
    chosen = [ok for word, ok in pairs if keep(word)]
    return f"{sum(chosen) / len(chosen):.2f} ({len(chosen)})" if chosen else "–"


def where(field: Callable[[TruthWord], object], value: object) -> Callable[[TruthWord], bool]:
    """The words whose `field` is `value`."""
    return lambda word: field(word) == value


def height_bucket(height: int) -> str:
    for low, high in ((80, 10**6), (50, 80), (30, 50), (20, 30), (16, 20), (12, 16)):
        if low <= height < high:
            return f"{low}–{high - 1} px" if high < 10**6 else f"≥ {low} px"
    return "< 12 px"


def false_words(readings: Iterable[Reading]) -> str:
    """Words kept per no-text picture, and the share of those pictures with any."""
    counts = [reading.words for reading in readings]
    return f"{np.mean(counts):.2f} ({np.mean([c > 0 for c in counts]):.0%})" if counts else "–"


def table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(str(value) for value in row) + " |" for row in rows])


# -- search through the engine ---------------------------------------------------------------------


PLAIN_ENV = {
    f"XMODAL_OCR__{name}": "false" for name in ("STRAIGHTEN", "LOCAL_THRESHOLD", "PAGE_LAYOUT", "QUARTER_TURNS")
}


def search_columns(folder: Path) -> dict[str, tuple[str, str]]:
    """The search measure with the reader as it is, and with the settings of PLAIN."""
    now, plain = search_measure(folder), search_measure(folder, PLAIN_ENV)
    return {group: (now[group], plain.get(group, "–")) for group in now}


def search_measure(folder: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """The share of one-picture word queries whose picture is the top hit, with `env` set for the run."""
    saved = {name: os.environ.get(name) for name in env or {}}
    os.environ.update(env or {})
    try:
        return _searched(folder)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _searched(folder: Path) -> dict[str, str]:
    from typer.testing import CliRunner

    from api.cli import app
    from core.options import SearchOptions
    from core.settings import load_settings
    from indexer.library import Library
    from searcher.engine import Query, Searcher

    with tempfile.TemporaryDirectory() as tmp:
        library = Path(tmp) / "library"
        for argv in (
            ["index", str(folder / "images"), "--library", str(library), "--model", "demo", "--quiet"],
            ["ocr", "--library", str(library)],  # resumes what indexing left, if anything
        ):
            done = CliRunner().invoke(app, argv)
            assert done.exit_code == 0, f"xmodal {' '.join(argv)}: {done.output}"
        settings = load_settings(library=library, model="demo", quiet=True)
        outcomes: dict[str, list[bool]] = defaultdict(list)
        with Library.open_reader(library) as lib:
            searcher = Searcher(lib, settings)
            for query in load_queries(folder):
                hits = searcher.ask(Query(text=query["query"]), "media", SearchOptions(k=1))
                top = bool(hits) and hits[0].path is not None and Path(hits[0].path).name == Path(query["file"]).name
                kind = query["query_kind"]
                outcomes[f"{kind}: all"].append(top)
                outcomes[f"{kind}: {query['lang']}"].append(top)
                if int(query["height_px"]) >= BIG and abs(int(query["angle"])) <= 5:
                    outcomes[f"{kind}: ≥ {BIG} px, within 5°"].append(top)
            searcher.close()
    return {group: f"{np.mean(tops):.2f} ({len(tops)})" for group, tops in sorted(outcomes.items())}


# -- cost ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CostRow:
    name: str
    variant: Variant
    images: list[Image.Image]
    no_text: bool
    under_load: bool  # measured again with both cores busy


def cost(rows: list[CostRow]) -> dict[str, list[Reading]]:
    """Each row's pictures read one after another by one reader in this process (loaded and warm first)."""
    measured = {}
    for row in rows:
        read(row.variant, row.images[-1])
        measured[row.name] = [read(row.variant, image) for image in row.images]
    return measured


def per_second(readings: list[Reading]) -> str:
    timeouts = sum(reading.failure == TIMED_OUT for reading in readings)
    late = f", {timeouts} over the reader's time limit" if timeouts else ""
    return f"**{len(readings) / sum(reading.seconds for reading in readings):.2f}**{late}"


# -- the run ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200, help="pictures in the rendered set")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--photos", type=Path, default=FLICKR if FLICKR.is_dir() else None,
                        help="real photos: grounds for the set, and the no-text photos")  # fmt: skip
    parser.add_argument("--flickr", type=int, default=100, help="no-text photos for false words and cost")
    parser.add_argument("--camera", type=int, default=3, help="of those, upscaled to 12 MP for the probe's cost")
    parser.add_argument("--cost-sample", type=int, default=30, help="set pictures with text timed for cost")
    parser.add_argument("--more", action="store_true", help="also each experiment alone, and Sauvola")
    parser.add_argument("--load", action="store_true", help="measure cost again with both cores kept busy")
    parser.add_argument("--write", action="store_true", help="write the section into bench/RESULTS.md")
    parser.add_argument("--search", type=Path, metavar="SET",
                        help="only the search measure, on a set `python -m data.text_pictures` made "
                        "(XMODAL_OCR__SECOND_LOOK=false and the like apply)")  # fmt: skip
    args = parser.parse_args()
    if args.search is not None:
        rows = [(group, *cells) for group, cells in search_columns(args.search).items()]
        print(table(["queries", "top hit: reader as it is", f"top hit: {PLAIN.name}"], rows))
        return
    tesseract = find_tesseract(LANGUAGES)
    if not tesseract.available:
        raise SystemExit(f"needs Tesseract: {tesseract.problem}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "set"
        generate(folder, args.count, args.seed, args.photos)
        made = time.perf_counter() - started
        print(f"set: {args.count} pictures in {made:.0f} s", flush=True)
        body = measure(args, folder, made)
    body += f"\n\nWhole run: {time.perf_counter() - started:.0f} s."
    if args.write:
        write_section("ocr_quality", body)
    else:
        print(body)


def measure(args: argparse.Namespace, folder: Path, made: float) -> str:
    truth, pictures = load_truth(folder), load_pictures(folder)
    photos = sorted(args.photos.glob("*.jpg")) if args.photos else []
    photos = random.Random(args.seed).sample(photos, min(args.flickr, len(photos)))
    large = [Source(folder / p.file) for p in pictures if p.width * p.height > PROBE_PIXELS]
    variants = VARIANTS + (MORE if args.more else ())
    results: dict[Variant, tuple[Scored, dict[Path, Reading], dict[Path, Reading]]] = {}
    with ProcessPoolExecutor(max_workers=2, mp_context=get_context("spawn")) as pool:
        for variant in variants:
            begun = time.perf_counter()
            on_set = read_all(pool, variant, [Source(folder / picture.file) for picture in pictures])
            on_photos = read_all(pool, variant, [Source(path) for path in photos])
            results[variant] = (scored(folder, truth, on_set), on_set, on_photos)
            print(f"{variant.name}: {time.perf_counter() - begun:.0f} s", flush=True)
        probe_off = read_all(pool, NO_PROBE, large)
    search = search_columns(folder)

    texts = [p for p in pictures if p.kind != "notext"]
    sample = texts[:: max(1, len(texts) // args.cost_sample)][: args.cost_sample]
    camera = [Source(path, CAMERA_PIXELS).load() for path in photos[: args.camera]]
    own_size = [Source(path).load() for path in photos]
    set_images = [Source(folder / p.file).load() for p in sample]
    groups = (
        (
            f"set pictures with text ({len(sample)})",
            set_images,
            (DEFAULT, PLAIN, NO_LAYOUT, NO_QUARTER_TURNS, ONE_LOOK),
            False,
        ),
        (f"Flickr photos, own size ({len(own_size)})", own_size, (DEFAULT, PLAIN, NO_LAYOUT, ONE_LOOK), True),
        (f"Flickr photos at 12 MP ({len(camera)})", camera, (DEFAULT, PLAIN, NO_PROBE), True),
    )
    rows = [
        CostRow(
            f"{group}: {variant.name}",
            variant,
            images,
            no_text,
            variant in (DEFAULT, PLAIN, NO_LAYOUT) or (variant is NO_QUARTER_TURNS and not no_text),
        )
        for group, images, chosen, no_text in groups
        for variant in chosen
    ]
    print("cost, quiet", flush=True)
    with OthersCpu() as quiet_others:
        quiet = cost(rows)
    print("cost, two busy loops" if args.load else "", flush=True)
    loaded: dict[str, list[Reading]] = {}
    with OthersCpu() as loaded_others:
        if args.load:
            with Busy(True):
                loaded = cost([row for row in rows if row.under_load])
    others = (quiet_others.cores, loaded_others.cores if args.load else None)
    return report(args, folder, made, pictures, results, large, probe_off, search, rows, quiet, loaded, others)


def report(
    args: argparse.Namespace,
    folder: Path,
    made: float,
    pictures: list[SetPicture],
    results: dict[Variant, tuple[Scored, dict[Path, Reading], dict[Path, Reading]]],
    large: list[Source],
    probe_off: dict[Path, Reading],
    search: dict[str, tuple[str, str]],
    rows: list[CostRow],
    quiet: dict[str, list[Reading]],
    loaded: dict[str, list[Reading]],
    others: tuple[float, float | None],
) -> str:
    by_file = {picture.file: picture for picture in pictures}
    pairs, on_set, on_photos = results[DEFAULT]
    plain = results[PLAIN][0]

    def row(label: str, keep: Callable[[TruthWord], bool]) -> tuple[str, str, str]:
        return label, recall(pairs, keep), recall(plain, keep)

    def big(keep: Callable[[TruthWord], bool]) -> Callable[[TruthWord], bool]:
        return lambda w: w.height >= BIG and keep(w)

    def level(keep: Callable[[TruthWord], bool]) -> Callable[[TruthWord], bool]:
        return lambda w: w.height >= BIG and abs(w.angle) <= 5 and keep(w)

    quality = [row("all", big(lambda w: True))]
    quality += [row(lang, big(where(lambda w: w.lang, lang))) for lang in ("en", "zh")]
    angles = (("at 0°", 0), ("at ±5°", 5), ("at ±15°", 15), ("at 90°", 90))
    quality += [row(name, big(where(lambda w: abs(w.angle), angle))) for name, angle in angles]
    for bucket in ("20–29 px", "30–49 px", "50–79 px", "≥ 80 px"):
        quality.append(row(bucket, where(lambda w: height_bucket(w.height), bucket)))
    for bucket in ("16–19 px", "12–15 px", "< 12 px"):
        quality.append(row(f"smaller: {bucket}", where(lambda w: height_bucket(w.height), bucket)))
    misses = [row(kind, level(where(lambda w: w.kind, kind))) for kind in ("words", "receipt", "slide", "sign")]
    misses.append(row("screenshot", level(where(lambda w: w.kind, "screenshot"))))
    for ground in ("plain", "gradient", "noisy", "photo-like", "photo"):
        misses.append(row(f"ground: {ground}", level(where(lambda w: by_file[w.file].background, ground))))
    for polarity in ("dark-on-light", "light-on-dark"):
        misses.append(row(polarity, level(where(lambda w: by_file[w.file].polarity, polarity))))
    crashed = Counter(by_file[str(p.relative_to(folder))].kind for p, r in on_set.items() if r.failure == EMPTY_PAGE)
    photo_crashes = sum(reading.failure == EMPTY_PAGE for reading in on_photos.values())
    late = sum(r.failure == TIMED_OUT for _, on, photos in results.values() for r in (*on.values(), *photos.values()))

    controls = [folder / p.file for p in pictures if p.kind == "notext"]
    text_files = [folder / p.file for p in pictures if p.kind != "notext"]
    variant_rows = []
    for variant, (v_pairs, v_set, v_photos) in results.items():
        variant_rows.append((
            variant.name,
            recall(v_pairs, lambda w: w.height >= BIG),
            recall(v_pairs, lambda w: w.height >= BIG and abs(w.angle) <= 5 and w.lang == "en"),
            recall(v_pairs, lambda w: w.height >= BIG and abs(w.angle) <= 5 and w.lang == "zh"),
            recall(v_pairs, lambda w: w.height < BIG),
            false_words(v_photos.values()),
            false_words(v_set[file] for file in controls),
            f"{np.mean([v_set[file].seconds for file in text_files]):.2f}",
        ))  # fmt: skip

    large_files = {source.path for source in large}
    on_large = [(w, ok) for w, ok in pairs if folder / w.file in large_files]
    off_large = [(w, was_read(w.word, w.lang, probe_off[folder / w.file].text)) for w, _ in on_large]
    lost = sum(off and not on for (_, on), (_, off) in zip(on_large, off_large, strict=True))
    gained = sum(on and not off for (_, on), (_, off) in zip(on_large, off_large, strict=True))
    probed = np.mean([on_set[path].probed_only for path in large_files]) if large_files else 0.0

    photo_words = [(row.name, false_words(quiet[row.name])) for row in rows if row.no_text]
    cost_rows = [
        (row.name, per_second(quiet[row.name]), f"{np.mean([r.probed_only for r in quiet[row.name]]):.0%}",
         per_second(loaded[row.name]) if row.name in loaded else "–")
        for row in rows
    ]  # fmt: skip
    search_rows = [(group, *cells) for group, cells in search.items()]
    search_text = table(["queries", "reader as it is", PLAIN.name], search_rows)
    loaded_note = f" (others' cores besides: {others[1]:.2f})" if others[1] is not None else ""
    mix = ", ".join(f"{count} {kind}" for kind, count in sorted(Counter(p.kind for p in pictures).items()))
    tesseract = find_tesseract(LANGUAGES)
    flags = f"--count {args.count} --flickr {args.flickr} --camera {args.camera} --cost-sample {args.cost_sample}"
    flags += " --more" * args.more + " --load" * args.load
    return f"""## ocr_quality

`python -m bench.ocr_quality {flags}` — {machine()}

Tesseract {tesseract.version} through tesserocr, languages `{tesseract.language_spec}`, the reader's defaults
(`PSM.SPARSE_TEXT`, `min_confidence` 70, `probe_pixels` 2.1 MP, `max_pixels` 16 MP, the second look on). The set (`data/text_pictures.py`,
seed {args.seed}, made in {made:.0f} s): {mix}; {len(pairs)} words drawn; grounds partly from Flickr8k photos.
Recall is word-level: a word counts when a word search would find it in the text the reader kept (its letter-
and-digit runs are tokens of it; a Chinese word's characters stand together). Cells: share (words).

Words at least {BIG} px high (ink height); smaller words below. The reader as it is, and without its reads
turned (level, and a quarter turn), thresholded locally and laid out as a page:

{table(["words", "reader as it is", PLAIN.name], quality)}

Where it misses: words at least {BIG} px, within 5° of level, by kind of picture, ground and polarity:

{table(["pictures", "reader as it is", PLAIN.name], misses)}

The reader raised `RuntimeError: No text returned` on {sum(crashed.values())} of {len(pictures)} set pictures
({", ".join(f"{n} {k}" for k, n in sorted(crashed.items())) or "none"}) and on {photo_crashes} of {len(on_photos)}
Flickr photos: tesserocr's `GetUTF8Text` on the one empty word Tesseract returns for a page where it found none.
Read here as "no words"; in the pass such a picture fails. Reads over the reader's 30 s limit in all the
variants' passes: {late}.

Variants, on every set picture and on {len(on_photos)} Flickr photos with no text added. False words: words kept
per picture with no text (the share of those pictures with any). Seconds: mean per text picture, two reading
processes side by side (for comparing variants; the cost is below):

{table(VARIANT_COLUMNS, variant_rows)}

The probe on the {len(large)} set pictures over {PROBE_PIXELS / 1e6:.1f} MP: recall of words ≥ {BIG} px
{recall(on_large, lambda w: w.height >= BIG)} with it, {recall(off_large, lambda w: w.height >= BIG)} with it off;
{lost} words only the full read found were lost to it, {gained} found only with it; the probe alone answered
{probed:.0%} of those pictures. On no-text photos, words kept at 12 MP (Flickr photos upscaled) and at their own
size, from the cost runs:

{table(["photos", "false words"], photo_words)}

Search, "a word that is in one picture" (queries.csv) through the engine, demo model: the share whose picture is
the top hit, the pass run with the reader as it is and with `XMODAL_OCR__STRAIGHTEN=false
XMODAL_OCR__LOCAL_THRESHOLD=false XMODAL_OCR__PAGE_LAYOUT=false XMODAL_OCR__QUARTER_TURNS=false`:

{search_text}

Cost: one reader in this process, pictures decoded beforehand; quiet (others' cores {others[0]:.2f}), then
again with two spinning processes of ours keeping both cores busy{loaded_note}:

{table(["pictures", "quiet: pictures/s", "the probe alone answered", "two busy loops: pictures/s"], cost_rows)}"""


if __name__ == "__main__":
    main()
