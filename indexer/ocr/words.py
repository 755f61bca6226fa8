"""Which of Tesseract's words to keep, and how they are written for search.

Tesseract reads shapes in every photo (bark, railings, a shirt's folds) as letters, with low confidence. A word
is kept when Tesseract is sure of it and it looks like a word: two letters or digits at least, or a CJK character
(one is a word in Chinese). What is kept is what the lexical stage searches and what a hit shows.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
CJK_CHAR = re.compile(f"[{_CJK}]")
_BETWEEN_CJK = re.compile(f"(?<=[{_CJK}])\\s+(?=[{_CJK}])")
_EDGE_PUNCTUATION = "\"'`.,;:!?()[]{}<>|/\\-_=+*~^“”‘’«»、。，；：！？（）【】《》"


@dataclass(frozen=True)
class Word:
    text: str
    confidence: float  # Tesseract's, 0..100
    line: int  # words of one line share it, in reading order
    height: int = 0  # of its box, in pixels of the picture as read
    # Tesseract's confidence in the least sure of its characters. For a Chinese character it is the one to trust:
    # its word confidence is often near 0 for a character read right (周 93, 轩 0: its doubt about where the
    # word ends, which Chinese does not mark), so the word confidence alone lost most names in screenshots.
    glyphs: float | None = None


def merged(first: list[Word], second: list[Word]) -> list[Word]:
    """`first`, then what `second` adds, on lines of their own after it (two reads of one picture find mostly
    the same words): of a line with CJK characters the whole line when it holds a piece `first` lacks, of
    another line the words `first` lacks. Whole lines for CJK, because Tesseract gives each character as a word
    of its own: dropping those the first read had elsewhere would break a name apart ("周轩琪" less a 周 seen
    elsewhere is a 轩琪 nobody searches for)."""
    seen = {word.text.casefold() for word in first}
    offset = 1 + max((word.line for word in first), default=0)
    new_lines = {word.line for word in second if word.text.casefold() not in seen}
    cjk_lines = {word.line for word in second if CJK_CHAR.search(word.text)}
    extra = [
        word
        for word in second
        if word.line in new_lines and (word.line in cjk_lines or word.text.casefold() not in seen)
    ]
    return first + [replace(word, line=word.line + offset) for word in extra]


# Strokes Tesseract finds in photos' edges and reads as CJK (一 53 times in six 12 MP photos, bench/RESULTS.md):
# a piece made of nothing else is no word.
_STROKES = frozenset("一二丨丶丿乙")


def only_strokes(text: str) -> bool:
    return bool(text) and all(ch in _STROKES for ch in text)


def plausible(word: Word, min_confidence: float) -> bool:
    if word.confidence < min_confidence:
        return False
    core = word.text.strip(_EDGE_PUNCTUATION)
    if only_strokes(core):
        return False
    if CJK_CHAR.search(core):
        return True
    return sum(ch.isalnum() for ch in core) >= 2


CJK_SLACK = 20.0  # how much less sure Tesseract may be of CJK characters that stand in a run


def kept(words: list[Word], min_confidence: float) -> list[Word]:
    """The plausible words of one read, in order. Tesseract is less sure of Chinese than of English that it
    reads right (its per-character confidences for a person's or a street's name at 10-16 px sit at 50-70), so
    Chinese characters standing in a run on their line are a word when one of them is within `CJK_SLACK` of the
    bar, the others within it or at the bar by their own character's confidence (`Word.glyphs`). Alone, such a
    character needs its word confidence at the bar: what a photo's edges read as (上, 人, 小) Tesseract is sure
    of as a character, and unsure of as a word. (The same holds for the other CJK scripts the pattern covers.)"""
    lower = min_confidence - CJK_SLACK
    cjk = [_cjk(word) and (word.confidence >= lower or (word.glyphs or 0.0) >= min_confidence) for word in words]
    in_runs: set[int] = set()
    for run in _runs(words, cjk):
        characters = sum(len(CJK_CHAR.findall(words[i].text)) for i in run)
        if characters >= 2 and any(words[i].confidence >= lower for i in run):
            in_runs.update(run)
    return [word for i, word in enumerate(words) if plausible(word, min_confidence) or i in in_runs]


def _runs(words: list[Word], marked: list[bool]) -> list[list[int]]:
    """The indices of marked words, grouped where they stand next to each other on one line."""
    runs: list[list[int]] = []
    for i, word in enumerate(words):
        if not marked[i]:
            continue
        if runs and runs[-1][-1] == i - 1 and words[i - 1].line == word.line:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def _cjk(word: Word) -> bool:
    core = word.text.strip(_EDGE_PUNCTUATION)
    return bool(CJK_CHAR.search(core)) and not only_strokes(core)


PROBE_CONFIDENCE = 85.0


def convincing(word: Word) -> bool:
    """Enough, in the quick look, to read a picture in full: a word Tesseract is sure of, three letters or digits
    long or two CJK characters. The look at reduced size reads a few short words in most 12-megapixel photos
    (bench/RESULTS.md, ocr_quality), and each would cost a full read that finds only more of them."""
    if word.confidence < PROBE_CONFIDENCE:
        return False
    core = word.text.strip(_EDGE_PUNCTUATION)
    if only_strokes(core):
        return False
    return len(CJK_CHAR.findall(core)) >= 2 or sum(ch.isalnum() for ch in core) >= 3


def text_of(words: list[Word]) -> str:
    """The kept words, one line per line Tesseract found; CJK characters close up (Tesseract spaces them)."""
    lines: dict[int, list[str]] = {}
    for word in words:
        lines.setdefault(word.line, []).append(unicodedata.normalize("NFKC", word.text))
    return "\n".join(_BETWEEN_CJK.sub("", " ".join(parts)) for parts in lines.values())


def searchable(text: str) -> str:
    """The text as the full-text index holds it: each CJK character a word of its own, so that a query's
    Chinese word matches as a phrase of characters wherever it stands (Chinese has no spaces to split on)."""
    return CJK_CHAR.sub(lambda match: f" {match.group(0)} ", text)
