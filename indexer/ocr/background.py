"""Reading words beside a watcher: a thread that runs the OCR pass whenever new pictures were indexed, so that
a long pass never holds up the next changes (a picture is searchable by meaning at once, by its words once its
turn comes). The thread never dies of an error: it logs it and tries again at the next wake."""

from __future__ import annotations

import logging
import threading

from core.settings import Settings
from indexer.library import Library
from indexer.ocr.run import OcrPass, tesseract_for, wanted
from indexer.progress import ProgressReporter

log = logging.getLogger("xmodal.watch")


class BackgroundOcr:
    def __init__(self, library: Library, settings: Settings) -> None:
        self.library = library
        self.settings = settings
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()  # set while nothing is being read: a test's way to wait for the words
        self._idle.set()
        self._thread: threading.Thread | None = None
        self._pass: OcrPass | None = None

    def start(self) -> bool:
        """Start the thread if this library reads words and Tesseract is here; False (and why, logged) if not."""
        if not wanted(self.library, self.settings):
            log.info("words in pictures are not read: OCR is off for this library (--ocr switches it on)")
            return False
        tesseract = tesseract_for(self.settings)
        if not tesseract.available:
            log.warning("words in pictures are not read: %s", tesseract.problem)
            return False
        self._pass = OcrPass(self.library, self.settings, tesseract)
        self._thread = threading.Thread(target=self._loop, name="xmodal-ocr", daemon=True)
        self._thread.start()
        return True

    def wake(self) -> None:
        """New pictures may be waiting."""
        self._idle.clear()
        self._wake.set()

    def wait_idle(self, timeout: float) -> bool:
        return self._idle.wait(timeout)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        if self._pass is not None:
            self._pass.close()

    def _loop(self) -> None:
        assert self._pass is not None
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                report = self._pass.run(ProgressReporter(quiet=True), stop=self._stop.is_set)
                if report.read:
                    log.info(
                        "words read in %d pictures (%d with words, %d failed, %.1fs)",
                        report.read,
                        report.with_text,
                        report.failed,
                        report.seconds,
                    )
            except Exception:
                log.exception("reading words failed; trying again after the next change")
            finally:
                if not self._wake.is_set():
                    self._idle.set()
