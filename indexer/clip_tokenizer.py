"""CLIP's byte-level BPE tokenizer without torch or open_clip, so that a query can be encoded with ONNX Runtime
alone. It gives the ids open_clip's SimpleTokenizer gives (clean='lower', plain truncation), from the same
bpe_simple_vocab_16e6.txt.gz file."""

from __future__ import annotations

import functools
import html
import itertools
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import regex

# CLIP's vocabulary has 49408 ids: 256 byte symbols, the same 256 ending a word ("</w>"), 48894 merges (the first
# lines of the file after its version line; the file holds many more, which CLIP never used) and 2 special tokens.
MERGES = 49152 - 256 - 2
START, END = "<start_of_text>", "<end_of_text>"
BPE_CACHE_SIZE = 1 << 15
# Words are letter runs, single digits, punctuation runs and English contractions; the special tokens written
# out in a text are read as themselves, as open_clip reads them. IGNORECASE matters only for odd characters
# (the contraction "'ſ" matches "'s"), since the text is lower-cased first; it is kept to match open_clip.
_WORDS = r"<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"


# Printable Latin-1 bytes stand for themselves; the others (whitespace, control characters) get stand-in symbols
# from code point 256 up, in byte order, so that no symbol is whitespace and merges can be written "a b".
_PRINTABLE = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
_HIDDEN = sorted(set(range(256)) - set(_PRINTABLE))
_STAND_INS = {byte: chr(256 + n) for n, byte in enumerate(_HIDDEN)}


def byte_symbols() -> list[str]:
    """The 256 symbols that stand for bytes, in vocabulary order: the printable ones, then the stand-ins."""
    return [chr(byte) for byte in _PRINTABLE] + list(_STAND_INS.values())


def clean(text: str) -> str:
    """open_clip's 'lower' cleaning: ftfy repairs mojibake, HTML entities are unescaped twice (captions scraped
    from the web are often escaped twice), whitespace runs collapse to one space, then lower case."""
    return " ".join(html.unescape(html.unescape(repair(text))).split()).lower()


def repair(text: str) -> str:
    """ftfy.fix_text, which changes nothing in printable ASCII without an '&' (everything it repairs is
    mojibake, entities, control characters or odd Unicode): such a query, most queries, needs no ftfy, whose
    import is a tenth of a cold search's time."""
    if text.isascii() and text.isprintable() and "&" not in text:
        return text
    import ftfy

    return str(ftfy.fix_text(text))


def _read_merges(path: Path) -> list[str]:
    """The first MERGES merge lines ("a b"); decompresses only as far as it needs, about a fifth of the file."""
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip framing
    chunks: list[bytes] = []
    lines = 0
    with path.open("rb") as file:
        while lines <= MERGES:
            compressed = file.read(1 << 16)
            chunk = inflate.decompress(compressed) if compressed else inflate.flush()
            if not chunk:
                raise ValueError(f"{path} holds fewer than {MERGES} BPE merges")
            chunks.append(chunk)
            lines += chunk.count(b"\n")
    return b"".join(chunks).decode("utf-8").split("\n")[1 : MERGES + 1]


@dataclass(frozen=True)
class _Vocabulary:
    ids: dict[str, int]  # BPE symbol -> id
    ranks: dict[str, int]  # "left right" -> merge priority (lower merges first)
    start: int
    end: int

    @classmethod
    def read(cls, path: Path) -> _Vocabulary:
        merges = _read_merges(path)
        symbols = byte_symbols()
        ids = {symbol: i for i, symbol in enumerate([*symbols, *(s + "</w>" for s in symbols)])}
        first = len(ids)
        ids.update({merge.replace(" ", ""): first + rank for rank, merge in enumerate(merges)})
        start, end = len(ids), len(ids) + 1
        ids[START], ids[END] = start, end
        return cls(ids, {merge: rank for rank, merge in enumerate(merges)}, start, end)

    def merge(self, word: str) -> tuple[int, ...]:
        """BPE: merge the lowest-ranked adjacent pair everywhere (left to right), until no pair is a merge."""
        parts = [*word[:-1], word[-1] + "</w>"]
        never = len(self.ranks)
        while len(parts) > 1:
            rank, first, second = min((self.ranks.get(f"{a} {b}", never), a, b) for a, b in itertools.pairwise(parts))
            if rank == never:
                break
            merged: list[str] = []
            i = 0
            while i < len(parts):
                if parts[i] == first and i + 1 < len(parts) and parts[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        return tuple(self.ids[part] for part in parts)


class ClipTokenizer:
    """Texts to CLIP token ids: start, BPE ids, end, zero padding; a text too long is cut to context_length
    with its last id replaced by the end token, as open_clip does. Safe to call from several threads."""

    def __init__(self, vocab_path: Path, context_length: int) -> None:
        if context_length < 1:
            raise ValueError(f"context_length must be positive, not {context_length}")
        self.vocab_path = Path(vocab_path)
        self.context_length = context_length
        self._words = regex.compile(_WORDS, regex.IGNORECASE)
        self._vocabulary: _Vocabulary | None = None
        self._bpe = functools.lru_cache(maxsize=BPE_CACHE_SIZE)(self._merge)
        self._lock = threading.Lock()

    def __call__(self, texts: str | Sequence[str]) -> np.ndarray:
        """int64 ids, shape (len(texts), context_length); a single string counts as a batch of one."""
        return self._pack(self._rows(texts), self.context_length)

    def trimmed(self, texts: str | Sequence[str]) -> np.ndarray:
        """The same ids cut after the end token of the longest text. Gives the same embedding faster only with a
        causal text tower that pools at the end token (CLIP's): later positions cannot change earlier ones. The
        encoder must slice its positional embedding and mask to the width; open_clip's encode_text does not."""
        rows = self._rows(texts)
        return self._pack(rows, max((len(row) for row in rows), default=0))

    def encode(self, text: str, limit: int | None = None) -> list[int]:
        """The BPE ids of one text, without start or end; stops once it has at least `limit` ids."""
        vocabulary = self._load()
        ids: list[int] = []
        for match in self._words.finditer(clean(text)):
            word = match.group()
            if word in (START, END):
                ids.append(vocabulary.ids[word])
            else:
                ids.extend(self._bpe(word.encode("utf-8").decode("latin-1").translate(_STAND_INS)))
            if limit is not None and len(ids) >= limit:
                break
        return ids

    def _rows(self, texts: str | Sequence[str]) -> list[list[int]]:
        vocabulary = self._load()
        rows = []
        # A text with context_length - 1 ids or more is cut, and which ids past that it has does not matter.
        for text in [texts] if isinstance(texts, str) else texts:
            row = [vocabulary.start, *self.encode(text, self.context_length - 1), vocabulary.end]
            if len(row) > self.context_length:
                row = row[: self.context_length]
                row[-1] = vocabulary.end
            rows.append(row)
        return rows

    @staticmethod
    def _pack(rows: list[list[int]], width: int) -> np.ndarray:
        array = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            array[i, : len(row)] = row
        return array

    def _merge(self, word: str) -> tuple[int, ...]:
        return self._load().merge(word)

    def _load(self) -> _Vocabulary:
        """The vocabulary, read once on first use (about 20 ms) rather than when the tokenizer is made."""
        vocabulary = self._vocabulary
        if vocabulary is None:
            with self._lock:
                if self._vocabulary is None:
                    self._vocabulary = _Vocabulary.read(self.vocab_path)
                vocabulary = self._vocabulary
        return vocabulary
