"""Reading the words in one picture with Tesseract: a cheap look first, the full read only where it found words.

Most pictures in a photo library hold no text, and on a 12-megapixel photo Tesseract spends most of its time
binarising and segmenting pixels, text or not. So a picture larger than `probe_pixels` is first read at that
size; only when that finds a plausible word is it read again at full size (up to `max_pixels`). A picture no
larger than the probe is read once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image

from indexer.ocr.words import Word, convincing, plausible, text_of


@dataclass(frozen=True)
class ReadPlan:
    """How a worker reads: sent once, when it starts."""

    tessdata: str
    languages: str  # "eng+chi_sim"
    min_confidence: float = 70.0
    probe_pixels: int = 2_100_000  # a 1920×1080 screenshot is read whole
    max_pixels: int = 16_000_000
    timeout_seconds: float = 30.0


@dataclass(frozen=True)
class ReadResult:
    text: str  # the kept words, one line per line; empty when there are none
    words: int
    probed_only: bool  # the cheap look found nothing, and the full read was skipped
    seconds: float


class OcrTimeout(Exception):
    """Tesseract gave up at the plan's time limit."""


class PictureReader:
    """One Tesseract instance, loaded once, reading one picture at a time."""

    def __init__(self, plan: ReadPlan) -> None:
        import tesserocr

        self.plan = plan
        self._tesserocr = tesserocr
        # Sparse text: signs, labels and screenshots are scattered words more often than a page of prose.
        self._api = tesserocr.PyTessBaseAPI(path=plan.tessdata, lang=plan.languages, psm=tesserocr.PSM.SPARSE_TEXT)

    def read(
        self, image: Image.Image, whole: Callable[[], Image.Image] | None = None, pixels: int | None = None
    ) -> ReadResult:
        """`image` may be a reduced decode (JPEG draft) of a picture of `pixels` pixels, which `whole` decodes in
        full, only when the quick look found words."""
        start = time.monotonic()
        gray = image.convert("L")
        pixels = pixels or gray.width * gray.height
        if pixels > self.plan.probe_pixels:
            if not any(map(convincing, self._words(_scaled(gray, self.plan.probe_pixels), start))):
                return ReadResult("", 0, True, time.monotonic() - start)
            if whole is not None:
                gray = whole().convert("L")
        words = self._words(_scaled(gray, self.plan.max_pixels), start)
        return ReadResult(text_of(words), len(words), False, time.monotonic() - start)

    def close(self) -> None:
        self._api.End()

    def _words(self, gray: Image.Image, start: float) -> list[Word]:
        tesserocr = self._tesserocr
        remaining_ms = int(1000 * (self.plan.timeout_seconds - (time.monotonic() - start)))
        if remaining_ms <= 0:
            raise OcrTimeout(f"reading it took over {self.plan.timeout_seconds:g} s")
        self._api.SetImage(gray)
        if not self._api.Recognize(timeout=remaining_ms):
            raise OcrTimeout(f"reading it took over {self.plan.timeout_seconds:g} s")
        words: list[Word] = []
        iterator: Any = self._api.GetIterator()
        if iterator is None:
            return words
        level, line = tesserocr.RIL.WORD, 0
        for item in tesserocr.iterate_level(iterator, level):
            if item.IsAtBeginningOf(tesserocr.RIL.TEXTLINE):
                line += 1
            try:
                text = (item.GetUTF8Text(level) or "").strip()
            except RuntimeError:  # tesserocr's way of saying an element holds no text (an empty page)
                continue
            word = Word(text, float(item.Confidence(level)), line)
            if text and plausible(word, self.plan.min_confidence):
                words.append(word)
        return words


def _scaled(gray: Image.Image, max_pixels: int) -> Image.Image:
    pixels = gray.width * gray.height
    if pixels <= max_pixels:
        return gray
    factor = (max_pixels / pixels) ** 0.5
    size = (max(1, round(gray.width * factor)), max(1, round(gray.height * factor)))
    return gray.resize(size, Image.Resampling.BOX)  # an area average: thin strokes survive
