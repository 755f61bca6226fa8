"""The torch-free tokenizer gives exactly open_clip's ids, on real captions and on the texts that exercise its
cleaning, word splitting, BPE and truncation."""

from __future__ import annotations

import csv
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import open_clip
import pytest
from open_clip.tokenizer import SimpleTokenizer, default_bpe

from indexer import clip_tokenizer
from indexer.clip_tokenizer import ClipTokenizer
from tests.conftest import FLICKR, REPO

VOCAB = Path(default_bpe())
TEXTS = [
    "a red circle",
    "Two Blue Squares on SAND",
    "红色的圆",
    "两个蓝色方块",
    "a dog 🐶 and a cat 🐱 👍🏽",
    "Tom &amp; Jerry &amp;amp; friends &lt;3",
    "a < b &amp;amp; c",  # ftfy leaves entities alone in text with a "<"; open_clip then unescapes twice
    "cafÃ© dÃ©jÃ  vu",  # mojibake: ftfy makes it "café déjà vu"
    "the dog's ball isn't red, they're here, we've been, I'm sure, you'll see, he'd go",
    "IT'S DON'T",
    "it'ſ",  # the contraction matches only because open_clip's word pattern ignores case
    "3.14159 and 1,000,000 in 2024",
    "wow!!! really??? ... -- ;;; a!b",
    "",
    " ",
    "\t\n \u3000\xa0",
    "  leading and   inner\twhitespace  ",
    "MiXeD cAsE İstanbul ΣΊΣΥΦΟΣ",
    "<end_of_text> written <START_OF_TEXT> out",
    "schwarzwälder kirschtorte naïve façade",
    "a photo of " + "a very long sentence that goes on " * 20,
    "x" * 500,
    "🙂" * 100,
]


@pytest.fixture(scope="module")
def reference() -> dict[int, Any]:
    """open_clip's tokenizers: the one ViT-B-32 uses (77 ids) and a short one that cuts most texts."""
    return {77: open_clip.get_tokenizer("ViT-B-32"), 24: SimpleTokenizer(context_length=24)}


def flickr_captions() -> list[str]:
    with (FLICKR / "captions.csv").open(newline="", encoding="utf-8") as file:
        return [row["caption"] for row in csv.DictReader(file)]


def test_the_vocabulary_is_open_clips(reference: dict[int, Any]) -> None:
    vocabulary = clip_tokenizer._Vocabulary.read(VOCAB)
    ours = reference[77]
    assert vocabulary.ids == ours.encoder
    assert vocabulary.ranks == {f"{a} {b}": rank for (a, b), rank in ours.bpe_ranks.items()}
    assert (vocabulary.start, vocabulary.end) == (ours.sot_token_id, ours.eot_token_id)


@pytest.mark.parametrize("length", [77, 24])
def test_ids_are_open_clips(length: int, reference: dict[int, Any]) -> None:
    ids = ClipTokenizer(VOCAB, length)(TEXTS)
    assert ids.dtype == np.int64 and ids.shape == (len(TEXTS), length)
    np.testing.assert_array_equal(ids, reference[length](TEXTS).numpy())


@pytest.mark.skipif(not FLICKR.is_dir(), reason="needs ../shared/data/flickr8k-dev")
@pytest.mark.parametrize("length", [77, 24])
def test_ids_are_open_clips_on_real_captions(length: int, reference: dict[int, Any]) -> None:
    captions = flickr_captions()
    assert len(captions) > 1000
    np.testing.assert_array_equal(ClipTokenizer(VOCAB, length)(captions), reference[length](captions).numpy())


def test_cleaning_repairs_mojibake_and_double_escaped_entities() -> None:
    tokenizer = ClipTokenizer(VOCAB, 77)
    np.testing.assert_array_equal(tokenizer(["cafÃ© dÃ©jÃ  vu"]), tokenizer(["Café déjà vu"]))
    np.testing.assert_array_equal(tokenizer(["salt &amp;amp; pepper"]), tokenizer(["salt & pepper"]))
    np.testing.assert_array_equal(tokenizer(["1 < 2 &amp;amp; 3"]), tokenizer(["1 < 2 & 3"]))


def test_long_texts_are_cut_with_the_end_token_last(reference: dict[int, Any]) -> None:
    tokenizer = ClipTokenizer(VOCAB, 24)
    ids = tokenizer(["word " * 100, "a b"])
    assert ids[0, -1] == reference[24].eot_token_id and np.all(ids[0] != 0)
    assert list(ids[1, :4]) == [reference[24].sot_token_id, 320, 321, reference[24].eot_token_id]
    assert not ids[1, 4:].any()


def test_a_single_string_is_a_batch_of_one(reference: dict[int, Any]) -> None:
    np.testing.assert_array_equal(ClipTokenizer(VOCAB, 77)("a red circle"), reference[77]("a red circle").numpy())


@pytest.mark.parametrize("batch", [TEXTS, ["a cat", "a red circle on a blue square", ""], [""], ["x" * 500, "a"]])
def test_trimmed_ids_are_the_full_ids_cut_after_the_longest_text(batch: list[str]) -> None:
    tokenizer = ClipTokenizer(VOCAB, 77)
    full, trimmed = tokenizer(batch), tokenizer.trimmed(batch)
    width = trimmed.shape[1]
    np.testing.assert_array_equal(trimmed, full[:, :width])
    assert not full[:, width:].any()
    assert (trimmed[:, -1] == 49407).any()  # the longest text's end token is the last column kept
    assert trimmed.dtype == np.int64 and trimmed.flags.c_contiguous


def test_many_threads_at_once_read_the_vocabulary_once(monkeypatch: pytest.MonkeyPatch) -> None:
    reads = []
    read = clip_tokenizer._Vocabulary.read

    def counted(path: Path) -> clip_tokenizer._Vocabulary:
        reads.append(path)
        return read(path)

    monkeypatch.setattr(clip_tokenizer._Vocabulary, "read", staticmethod(counted))
    tokenizer = ClipTokenizer(VOCAB, 77)
    barrier = threading.Barrier(8)
    results: list[np.ndarray] = []

    def work() -> None:
        barrier.wait()
        results.append(tokenizer(TEXTS))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(reads) == 1 and len(results) == 8
    for result in results:
        np.testing.assert_array_equal(result, ClipTokenizer(VOCAB, 77)(TEXTS))


def test_the_module_imports_neither_torch_nor_open_clip(reference: dict[int, Any]) -> None:
    expected = reference[77](TEXTS).tolist()
    code = (
        "import sys; from pathlib import Path; import indexer.clip_tokenizer as t; "
        f"ids = t.ClipTokenizer(Path({str(VOCAB)!r}), 77)({TEXTS!r}); "
        f"assert ids.tolist() == {expected!r}, 'other ids than open_clip'; "
        "assert 'torch' not in sys.modules and 'open_clip' not in sys.modules, 'torch or open_clip was imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_printable_ascii_skips_ftfy_only_where_ftfy_would_change_nothing() -> None:
    import ftfy

    rng = np.random.default_rng(0)
    alphabet = np.array([chr(code) for code in range(0x20, 0x7F)])
    texts = ["".join(rng.choice(alphabet, size=int(rng.integers(1, 40)))) for _ in range(20_000)]
    texts += ["a photo of a dog", "Tom's café &amp; bar", "tab\there", "bell\x07", "\x1b[31mred\x1b[0m"]
    for text in texts:
        assert clip_tokenizer.repair(text) == ftfy.fix_text(text), repr(text)
