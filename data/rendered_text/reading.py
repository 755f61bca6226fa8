"""Whether a reader read a word: the truth files loaded back, and a word matched against read text the way a
word search would find it.

English: every letter-and-digit run of the word is a token of the text, any case ("2024-03-15" needs 2024, 03
and 15; "EditView" read for "Edit View" misses both). Chinese: the word's characters stand together in the text
once spaces are dropped (the search takes a Chinese word as a phrase of characters).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

_TOKEN = re.compile(r"[^\W_]+")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class TruthWord:
    file: str
    word: str
    lang: str
    height: int
    angle: int
    unique: bool
    kind: str


@dataclass(frozen=True)
class SetPicture:
    file: str
    kind: str
    width: int
    height: int
    background: str
    polarity: str
    words: int


def load_truth(folder: Path) -> list[TruthWord]:
    with open(folder / "truth.csv", newline="", encoding="utf-8") as handle:
        return [
            TruthWord(
                row["file"],
                row["word"],
                row["lang"],
                int(row["height_px"]),
                int(row["angle"]),
                row["unique"] == "1",
                row["kind"],
            )
            for row in csv.DictReader(handle)
        ]


def load_pictures(folder: Path) -> list[SetPicture]:
    with open(folder / "pictures.csv", newline="", encoding="utf-8") as handle:
        return [
            SetPicture(
                row["file"],
                row["kind"],
                int(row["width"]),
                int(row["height"]),
                row["background"],
                row["polarity"],
                int(row["words"]),
            )
            for row in csv.DictReader(handle)
        ]


def load_queries(folder: Path) -> list[dict[str, str]]:
    with open(folder / "queries.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def tokens(text: str) -> set[str]:
    return {token.lower() for token in _TOKEN.findall(text)}


def was_read(word: str, lang: str, text: str) -> bool:
    if lang == "zh":
        return _SPACE.sub("", word) in _SPACE.sub("", text)
    wanted = tokens(word)
    return bool(wanted) and wanted <= tokens(text)
