"""The project's own rendered-text set: pictures with words in them, and what each one says, for OCR.

    python -m data.text_pictures OUT [--count 200] [--seed 0] [--photos DIR] [--kinds words,slide,...]

Kinds, in a fixed mix: scattered words (English and Simplified Chinese; text 12-80 px high, log-uniform; at 0,
±5, ±15 and 90 degrees; dark on light and light on dark; on plain, gradient, noisy, photo-like or photographed
grounds), receipts and invoices (a quarter at 12-megapixel camera size), slides, signs (a fifth at camera size),
screenshots (a window at 1920×1080 or 1280×800 with 12-16 px interface text) and no-text controls (photo-like
textures). `--photos DIR` draws some grounds from real photos, read when the set is made (never copied here).

Writes OUT/images/ (PNG and JPEG; a few names are not ASCII), and:
- OUT/truth.csv: file,word,lang,height_px,angle,unique,kind: every word as drawn. height_px is the word's ink
  height measured from its own pixels, upright (lower case "mono" is shorter than "Hg"); angle is in degrees,
  counter-clockwise; unique is 1 when no other picture holds the word, as a search would see it (English: no
  other picture has a word with its first five letters; Chinese: no other picture's characters contain it).
- OUT/queries.csv: query,file,lang,height_px,angle,kind,query_kind: "search a word that is in one picture",
  one row per unique word (query_kind `word`), and "invoice 2024 <shop>" for each invoice (`phrase`).
- OUT/pictures.csv: file,kind,width,height,background,polarity,words: every picture, the controls too.

The same seed, fonts and Pillow make the same files. Fonts are found on the machine (data/rendered_text/fonts.py).
"""

from __future__ import annotations

import argparse
import csv
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from data.rendered_text.backgrounds import photo_files
from data.rendered_text.context import Context, Made
from data.rendered_text.documents import receipt, slide
from data.rendered_text.fonts import find_fonts
from data.rendered_text.ink import Drawn
from data.rendered_text.scenes import no_text, scattered, sign
from data.rendered_text.screens import screenshot
from data.rendered_text.vocabulary import Vocabulary, english_key
from indexer.ocr.words import CJK_CHAR

LAYOUTS: dict[str, Callable[[Context], Made]] = {
    "words": scattered,
    "receipt": receipt,
    "slide": slide,
    "sign": sign,
    "screenshot": screenshot,
    "notext": no_text,
}
# One round of the mix; a set of any size repeats it, so twelve pictures hold every kind.
MIX = ("words", "receipt", "slide", "sign", "words", "screenshot", "notext", "words", "receipt", "sign", "slide",
       "notext")  # fmt: skip
_NAMES = ("图像", "café", "résumé", "фото")  # one file in 16 is named in another script; no drawn word is one
JPEG_SHARE = {"words": 0.6, "receipt": 0.8, "slide": 0.5, "sign": 0.8, "screenshot": 0.15, "notext": 0.6}


@dataclass(frozen=True)
class Picture:
    file: str  # relative to OUT: images/NAME
    kind: str
    width: int
    height: int
    background: str
    polarity: str
    words: tuple[Drawn, ...]
    phrases: tuple[str, ...]


def generate(
    out: Path, count: int = 200, seed: int = 0, photos: Path | None = None, kinds: Sequence[str] = MIX
) -> list[Picture]:
    """Draw `count` pictures into OUT/images and write truth.csv, queries.csv and pictures.csv; `kinds` (a round
    of the mix by default) is repeated to `count` and shuffled."""
    unknown = set(kinds) - set(LAYOUTS)
    if unknown or not kinds:
        raise ValueError(f"unknown kinds {sorted(unknown)}: choose from {', '.join(LAYOUTS)}")
    rng = random.Random(seed)
    ctx = Context(rng, find_fonts(), Vocabulary(rng), photo_files(photos))
    order = [kinds[i % len(kinds)] for i in range(count)]
    rng.shuffle(order)
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    pictures = []
    for number, kind in enumerate(order):
        made = LAYOUTS[kind](ctx)
        jpeg = rng.random() < JPEG_SHARE[made.kind]
        stem = f"{_NAMES[number // 16 % len(_NAMES)]}-{number:04d}" if number % 16 == 5 else f"pic-{number:04d}"
        name = f"{stem}.jpg" if jpeg else f"{stem}.png"
        if jpeg:
            made.image.save(images / name, quality=rng.randint(70, 95))
        else:
            made.image.save(images / name)
        width, height = made.image.size
        pictures.append(Picture(f"images/{name}", made.kind, width, height, made.background, made.polarity,
                                tuple(made.words), tuple(made.phrases)))  # fmt: skip
    write_truth(out, pictures)
    return pictures


def unique_words(pictures: list[Picture]) -> set[tuple[str, str]]:
    """(file, word) pairs whose word no other picture holds, as a search would see it; words with digits or
    signs (prices, dates) are never counted unique: they are not what a person searches by."""
    english: dict[str, set[str]] = defaultdict(set)
    chinese = {picture.file: "".join(w.text for w in picture.words if w.lang == "zh") for picture in pictures}
    for picture in pictures:
        for word in picture.words:
            if word.lang == "en":
                english[english_key(word.text)].add(picture.file)
    unique = set()
    for picture in pictures:
        for word in picture.words:
            if word.lang == "en" and word.text.isalpha() and word.text.isascii():
                if english[english_key(word.text)] == {picture.file}:
                    unique.add((picture.file, word.text))
            elif word.lang == "zh" and all(CJK_CHAR.match(ch) for ch in word.text):
                elsewhere = any(word.text in text for file, text in chinese.items() if file != picture.file)
                if not elsewhere:
                    unique.add((picture.file, word.text))
    return unique


def write_truth(out: Path, pictures: list[Picture]) -> None:
    unique = unique_words(pictures)
    with open(out / "truth.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "word", "lang", "height_px", "angle", "unique", "kind"])
        for picture in pictures:
            for word in picture.words:
                mark = int((picture.file, word.text) in unique)
                writer.writerow([picture.file, word.text, word.lang, word.height, word.angle, mark, picture.kind])
    with open(out / "queries.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["query", "file", "lang", "height_px", "angle", "kind", "query_kind"])
        for picture in pictures:
            best: dict[str, Drawn] = {}  # a word drawn twice: asked once, for its most readable copy
            for word in picture.words:
                if (picture.file, word.text) in unique:
                    kept = best.get(word.text)
                    if kept is None or (abs(word.angle), -word.height) < (abs(kept.angle), -kept.height):
                        best[word.text] = word
            for word in best.values():
                row = [word.text, picture.file, word.lang, word.height, word.angle, picture.kind, "word"]
                writer.writerow(row)
            for phrase in picture.phrases:
                heights = [w.height for w in picture.words if w.text.lower() in phrase.split()]
                angle = picture.words[0].angle if picture.words else 0
                writer.writerow([phrase, picture.file, "en", min(heights, default=0), angle, picture.kind, "phrase"])
    with open(out / "pictures.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "kind", "width", "height", "background", "polarity", "words"])
        for picture in pictures:
            writer.writerow([picture.file, picture.kind, picture.width, picture.height, picture.background,
                             picture.polarity, len(picture.words)])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--photos", type=Path, help="a folder of photos to draw some grounds from")
    parser.add_argument("--kinds", default=",".join(MIX),
                        help="kinds to draw, comma-separated, a kind named twice drawn twice as often "
                        "(default: the set's mix, which bench.ocr_quality draws)")  # fmt: skip
    args = parser.parse_args()
    pictures = generate(args.out, args.count, args.seed, args.photos, args.kinds.split(","))
    words = sum(len(picture.words) for picture in pictures)
    print(f"{len(pictures)} pictures holding {words} words, their truth and queries in {args.out}")


if __name__ == "__main__":
    main()
