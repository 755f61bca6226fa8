"""The OCR pass: after pictures are embedded (searchable by meaning at once), their words are read in a worker
pool and written in small batches (searchable by their words seconds later).

The pass is resumable by construction: what is still to be read is asked of the catalog (a picture with no
words row for its present content), so a pass stopped anywhere, by Ctrl-C or a crash, goes on where it stopped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import cast

from core.interrupts import interrupts_held
from core.settings import Settings
from indexer.catalog import picture_words
from indexer.library import Library
from indexer.ocr.pool import OcrPool, Picture, Status, WordsRead
from indexer.ocr.reader import ReadPlan
from indexer.ocr.tesseract import Tesseract, find_tesseract
from indexer.ocr.worker import WorkerPlan
from indexer.progress import ProgressReporter

log = logging.getLogger(__name__)
LIBRARY_CHOICE = "ocr"  # the catalog meta key holding a library's own on/off choice
WRITE_EVERY = 32  # pictures per write, at most
WRITE_SECONDS = 2.0  # and at least this often, so that words become searchable seconds after they are read


@dataclass
class OcrReport:
    read: int = 0
    with_text: int = 0
    failed: int = 0
    probed_only: int = 0  # the cheap look found no words: the full read was skipped
    copied: int = 0  # copies of pictures read before: their words were taken over, nothing read
    seconds: float = 0.0
    interrupted: bool = False
    skipped: str | None = None  # why the pass did not run at all (switched off, Tesseract missing)
    failures: list[tuple[str, str]] = field(default_factory=list)


def wanted(library: Library, settings: Settings) -> bool:
    """Whether this library reads words: the flag or setting given now (remembered as the library's choice),
    else the library's last choice, else on."""
    choice = settings.ocr.enabled
    if choice is not None:
        if not library.catalog.readonly and library.catalog.get_meta(LIBRARY_CHOICE) != _word(choice):
            library.catalog.set_meta(LIBRARY_CHOICE, _word(choice))
        return choice
    return library.catalog.get_meta(LIBRARY_CHOICE) != "off"


def _word(choice: bool) -> str:
    return "on" if choice else "off"


def tesseract_for(settings: Settings) -> Tesseract:
    return find_tesseract(tuple(settings.ocr.languages))


class OcrPass:
    """Reads the words of every picture still to be read. Keeps its workers between calls (the watcher calls it
    after each batch of changes); `close` ends them."""

    def __init__(self, library: Library, settings: Settings, tesseract: Tesseract) -> None:
        assert tesseract.tessdata is not None
        self.library = library
        self.settings = settings
        self.tesseract = tesseract
        ocr = settings.ocr
        read = ReadPlan(
            tesseract.tessdata,
            tesseract.language_spec,
            min_confidence=ocr.min_confidence,
            probe_pixels=ocr.probe_pixels,
            max_pixels=ocr.max_pixels,
            timeout_seconds=ocr.timeout_seconds,
            second_look=ocr.second_look,
            straighten=ocr.straighten,
            local_threshold=ocr.local_threshold,
            page_layout=ocr.page_layout,
            quarter_turns=ocr.quarter_turns,
        )
        plan = WorkerPlan(read, settings.max_file_bytes, settings.max_image_pixels, ocr.max_memory_bytes)
        self.pool = OcrPool(plan, ocr.workers)

    def run(self, progress: ProgressReporter, stop: Callable[[], bool] = lambda: False) -> OcrReport:
        report = OcrReport()
        catalog = self.library.catalog
        total = picture_words.count_to_read(catalog)
        if not total:
            return report
        started = time.monotonic()
        progress.start("reading words", total)
        pending: list[WordsRead] = []
        last_write = time.monotonic()
        try:
            for result in self.pool.read(self._pictures(stop, report, progress)):
                pending.append(result)
                _count(report, result)
                progress.advance()
                if len(pending) >= WRITE_EVERY or time.monotonic() - last_write >= WRITE_SECONDS:
                    self._write(pending)
                    pending, last_write = [], time.monotonic()
        except KeyboardInterrupt:
            report.interrupted = True
        finally:
            self._write(pending)  # what was read is kept, interrupted or not
            report.seconds = time.monotonic() - started
        report.failures = picture_words.failures(catalog)
        return report

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> OcrPass:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _pictures(self, stop: Callable[[], bool], report: OcrReport, progress: ProgressReporter) -> Iterator[Picture]:
        """The pictures to send to the workers; a copy of a picture already read takes its words at once."""
        after = 0
        while not stop():
            batch = picture_words.to_read(self.library.catalog, after, 256)
            if not batch:
                return
            known = picture_words.read_before(self.library.catalog, batch, self.tesseract.engine)
            copies = [
                WordsRead(picture, cast(Status, known[picture.content_hash][0]), known[picture.content_hash][1])
                for picture in batch
                if picture.content_hash is not None and picture.content_hash in known
            ]
            if copies:
                self._write(copies)
                report.copied += len(copies)
                progress.advance(len(copies))
            for picture in batch:
                if picture.content_hash in known:
                    continue
                if stop():
                    return
                yield picture
            after = batch[-1].id

    def _write(self, results: list[WordsRead]) -> None:
        with interrupts_held():
            picture_words.write(self.library.catalog, results, self.tesseract.engine)


def _count(report: OcrReport, result: WordsRead) -> None:
    report.read += 1
    report.with_text += result.status == "text"
    report.failed += result.status == "failed"
    report.probed_only += result.probed_only
    if result.status == "failed":
        log.info("no words read in %s: %s", result.picture.path, result.reason)


def read_words(library: Library, settings: Settings, quiet: bool = False) -> OcrReport:
    """The pass for a command: reads what is still to be read, or says why it does not run."""
    if not wanted(library, settings):
        return OcrReport(skipped="OCR is off for this library (xmodal index --ocr switches it on)")
    tesseract = tesseract_for(settings)
    if not tesseract.available:
        return OcrReport(skipped=f"words in pictures are not read: {tesseract.problem}")
    with OcrPass(library, settings, tesseract) as ocr, ProgressReporter(quiet=quiet or settings.quiet) as progress:
        return ocr.run(progress)
