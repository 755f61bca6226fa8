"""Reading the words in one picture with Tesseract: a cheap look first, the full read only where it found words.

Most pictures in a photo library hold no text, and on a 12-megapixel photo Tesseract spends most of its time
binarising and segmenting pixels, text or not. So a picture larger than `probe_pixels` is first read at that
size; only when that finds a convincing word is it read again at full size (up to `max_pixels`). A picture no
larger than the probe is read once.

One read of Tesseract's misses much that a person reads, and each further read below is made only where a cheap
sign says it can help:
- Size: Tesseract reads best when text is about 20-40 px high. Where a read found convincing words, their
  heights say which second size to read at (twice for a screenshot's interface, half for the rest); a picture
  with lines of text (indexer/ocr/lines.py) is also looked at a quarter of its size, for headlines.
- Threshold: its one global threshold turns a mid-grey sign or receipt on a lighter ground into a black block;
  a picture with lines of text is read again thresholded locally, keeping the lines it is sure of.
- Layout: read as scattered words (PSM SPARSE_TEXT, what signs, labels and screenshots need), a sign's block of
  large words can break apart or read as nothing; a picture with lines of text is read again laid out as a page.
- Lean: it reads lines within a few degrees of level; a picture whose lines lean (measured without reading it)
  is read again turned level, and so are words at their own angle in a picture with words, and words on end.
The reads are merged line by line (bench/RESULTS.md, ocr_quality, says what each adds and costs).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from PIL import Image

from indexer.ocr.lines import NO_LINES, LineStructure, levelled, line_structure, local_leans
from indexer.ocr.words import Word, convincing, kept, merged, text_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReadPlan:
    """How a worker reads: sent once, when it starts."""

    tessdata: str
    languages: str  # "eng+chi_sim"
    min_confidence: float = 70.0
    probe_pixels: int = 2_100_000  # a 1920×1080 screenshot is read whole
    max_pixels: int = 16_000_000
    timeout_seconds: float = 30.0
    second_look: bool = True  # read again at the size words' heights ask for, and at a quarter for headlines
    straighten: bool = True  # read pictures whose lines of text lean again, turned level
    local_threshold: bool = True  # read pictures with lines of text again, thresholded locally (Sauvola)
    page_layout: bool = True  # read pictures with lines of text again as a page of blocks (PSM AUTO)
    quarter_turns: bool = True  # read pictures with words a quarter turn each way, for words on end


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

        self._tesserocr = tesserocr
        # Sparse text: signs, labels and screenshots are scattered words more often than a page of prose.
        self._api = tesserocr.PyTessBaseAPI(path=plan.tessdata, lang=plan.languages, psm=tesserocr.PSM.SPARSE_TEXT)
        if plan.local_threshold and not self._api.SetVariable("thresholding_method", OTSU):
            log.warning("this Tesseract has no local thresholding (thresholding_method): reading without it")
            plan = replace(plan, local_threshold=False)
        self.plan = plan

    def read(
        self, image: Image.Image, whole: Callable[[], Image.Image] | None = None, pixels: int | None = None
    ) -> ReadResult:
        """`image` may be a reduced decode (JPEG draft) of a picture of `pixels` pixels, which `whole` decodes in
        full, only when the quick look found words. The first read must end within the plan's time; the looks
        after it are made while time is left, and what they found by then is kept."""
        start = time.monotonic()
        gray = image.convert("L")
        pixels = pixels or gray.width * gray.height
        plan = self.plan
        wanted = plan.straighten or plan.local_threshold or plan.second_look or plan.page_layout
        lines = line_structure(gray) if wanted else NO_LINES
        angle = lines.lean if plan.straighten else None
        if pixels > plan.probe_pixels:
            if not self._looked_convincing(_scaled(gray, plan.probe_pixels), angle, start):
                return ReadResult("", 0, True, time.monotonic() - start)
            if whole is not None:
                gray = whole().convert("L")
        gray = _scaled(gray, plan.max_pixels)
        first = self._words(gray, start)
        words: list[Word] = []
        try:
            for look in self._looks(gray, lines.has_lines, start, first):
                words = merged(words, look)
            for turn in self._turns(lines, angle, first):
                on_end = turn in QUARTER_TURNS  # one read: the lines measured run the other way there
                turned = self._levelled(gray, turn, QUARTER_TURN_PIXELS if on_end else plan.max_pixels)
                for look in self._looks(turned, lines.has_lines and not on_end, start):
                    words = merged(words, look)
        except OcrTimeout:
            pass  # out of time for more looks: what the looks made by then found is kept
        return ReadResult(text_of(words), len(words), False, time.monotonic() - start)

    def close(self) -> None:
        self._api.End()

    def _looked_convincing(self, look: Image.Image, angle: float | None, start: float) -> bool:
        """Whether the quick look finds a convincing word, as the picture is or, where its lines lean, turned
        level (a receipt photographed askew reads as nothing until then)."""
        if any(map(convincing, self._words(look, start))):
            return True
        if angle is None:
            return False
        return any(map(convincing, self._words(self._levelled(look, angle, self.plan.probe_pixels), start)))

    @staticmethod
    def _levelled(gray: Image.Image, angle: float, most_pixels: int) -> Image.Image:
        """Turned level, within the pixels the read is allowed (the turn adds corners: a panorama's by far)."""
        return _scaled(levelled(gray, angle), most_pixels)

    def _turns(self, lines: LineStructure, angle: float | None, words: list[Word]) -> list[float]:
        """The leans to read the picture again at: the whole picture's, or, in a picture with words (a level read
        found some), those of words scattered at their own angles, and a quarter turn each way for words
        standing on end (a chart's axis, a book's spine), which no lean measured within 20 degrees finds."""
        if angle is not None:  # measured only where the plan straightens
            return [angle]
        if not any(map(convincing, words)):
            return []
        turns = local_leans(lines) if self.plan.straighten else []
        return [*turns, *QUARTER_TURNS] if self.plan.quarter_turns else turns

    def _looks(
        self, gray: Image.Image, has_lines: bool, start: float, first: list[Word] | None = None
    ) -> Iterator[list[Word]]:
        """The words of each read of the picture at this angle, one read at a time: a read at this size (`first`,
        when made already); where its words are convincing, a second read at the size their heights ask for; and
        in a picture with lines of text, a read laid out as a page, a read thresholded locally and a look at a
        quarter of the size, for headlines and shop signs 80-200 px high that the other reads see as shapes (a
        tenth of the time of a read at full size)."""
        words = self._words(gray, start) if first is None else first
        yield words
        if has_lines and self.plan.page_layout:
            yield self._laid_out(gray, start)
        again = None
        if self.plan.second_look and any(map(convincing, words)):
            again = second_size(gray, words, self.plan.max_pixels)
        if has_lines and self.plan.local_threshold:
            yield self._locally_thresholded(gray, start)
        if again is not None:
            yield self._words(again, start)
        if has_lines and self.plan.second_look and min(gray.size) >= HEADLINE_SIDE:
            yield self._words(gray.reduce(4), start)

    def _laid_out(self, gray: Image.Image, start: float) -> list[Word]:
        """The words of a read with Tesseract's page layout analysis (PSM AUTO), at most LOCAL_PIXELS: it finds
        blocks of text as a document has them. Sparse reading, which finds scattered words where a page layout
        sees none, can miss a sign's block of large words entirely (BRUSETEX PARKING SMOKING, 47 px, on a beach
        photo: nothing); small words the first read at full size has seen."""
        mode = self._api.GetPageSegMode()
        self._api.SetPageSegMode(self._tesserocr.PSM.AUTO)
        try:
            return self._words(_scaled(gray, LOCAL_PIXELS), start)
        finally:
            self._api.SetPageSegMode(mode)

    def _locally_thresholded(self, gray: Image.Image, start: float) -> list[Word]:
        """The lines with a convincing word in a read thresholded by Sauvola's local method, at most LOCAL_PIXELS.
        Tesseract's one global (Otsu) threshold falls between a photo's ground and a mid-grey receipt or sign on
        it: the receipt turns into a black block and reads as nothing. Used alone, Sauvola loses screenshots'
        and receipts' words Otsu reads, and reads junk in photos; merged, and only where it is sure, it adds
        words to every kind of picture (bench/RESULTS.md, ocr_quality)."""
        method = self._api.GetVariableAsString("thresholding_method")
        self._api.SetVariable("thresholding_method", SAUVOLA)
        try:
            words = self._words(_scaled(gray, LOCAL_PIXELS), start)
        finally:
            self._api.SetVariable("thresholding_method", method)
        sure = {word.line for word in words if convincing(word)}
        return [word for word in words if word.line in sure]

    def _words(self, gray: Image.Image, start: float) -> list[Word]:
        tesserocr = self._tesserocr
        remaining_ms = int(1000 * (self.plan.timeout_seconds - (time.monotonic() - start)))
        if remaining_ms <= 0:
            raise OcrTimeout(f"reading it took over {self.plan.timeout_seconds:g} s")
        self._api.SetImage(gray)
        if not self._api.Recognize(timeout=remaining_ms):
            raise OcrTimeout(f"reading it took over {self.plan.timeout_seconds:g} s")
        iterator: Any = self._api.GetIterator()
        if iterator is None:
            return []
        ril, line = tesserocr.RIL, 0
        found: list[Word] = []
        least: list[float] = []  # each word's least sure character (Word.glyphs): read symbol by symbol
        for item in tesserocr.iterate_level(iterator, ril.SYMBOL):
            if item.IsAtBeginningOf(ril.WORD):
                if item.IsAtBeginningOf(ril.TEXTLINE):
                    line += 1
                try:
                    text = (item.GetUTF8Text(ril.WORD) or "").strip()
                except RuntimeError:  # tesserocr's way of saying an element holds no text (an empty page)
                    text = ""
                box = item.BoundingBox(ril.WORD)
                found.append(Word(text, float(item.Confidence(ril.WORD)), line, box[3] - box[1] if box else 0))
                least.append(100.0)
            if least:
                least[-1] = min(least[-1], float(item.Confidence(ril.SYMBOL)))
        words = [replace(word, glyphs=glyphs) for word, glyphs in zip(found, least, strict=True) if word.text]
        return kept(words, self.plan.min_confidence)


QUARTER_TURNS = (90.0, -90.0)  # leans, as local_leans gives them: +90 is text reading upwards (a chart's axis)
QUARTER_TURN_PIXELS = 2_100_000  # a picture on end is read at most this large (and at the second size its words ask)
OTSU, SAUVOLA = "0", "2"  # Tesseract's thresholding_method
LOCAL_PIXELS = 2_100_000  # the locally thresholded and the laid-out reads see a picture at most this large
SMALL_TEXT_PX = 20  # words' median box height under which a picture is read again at twice its size
MIN_HALF_SIDE = 300  # the short side a picture needs to be read again at half size
HEADLINE_SIDE = 600  # the short side a picture with lines needs for the look at a quarter of its size


def second_size(gray: Image.Image, words: list[Word], max_pixels: int) -> Image.Image | None:
    """The picture at the size a second read should see, or None when no second read can help."""
    heights = sorted(word.height for word in words)
    if heights[len(heights) // 2] < SMALL_TEXT_PX:
        if 4 * gray.width * gray.height > max_pixels:
            return None
        return gray.resize((2 * gray.width, 2 * gray.height), Image.Resampling.LANCZOS)
    if min(gray.size) < MIN_HALF_SIDE:
        return None
    return gray.reduce(2)  # a 2x2 box average


def _scaled(gray: Image.Image, max_pixels: int) -> Image.Image:
    pixels = gray.width * gray.height
    if pixels <= max_pixels:
        return gray
    factor = (max_pixels / pixels) ** 0.5
    size = (max(1, round(gray.width * factor)), max(1, round(gray.height * factor)))
    return gray.resize(size, Image.Resampling.BOX)  # an area average: thin strokes survive
