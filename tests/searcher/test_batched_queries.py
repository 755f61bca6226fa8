"""A server's concurrent queries share the model's calls, and each still gets its own answer."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from core.options import Paging
from core.settings import load_settings
from indexer.library import Library
from searcher.batched_model import BatchedQueryModel
from searcher.engine import Searcher
from searcher.query import Query
from tests.conftest import Cli, make_photo_folder

TEXTS = [f"a photo number {i} of a {word}" for i, word in enumerate(["dog", "cat", "beach", "car", "tree", "sea"] * 2)]


def test_concurrent_queries_share_calls_and_each_gets_its_own_hits(cli: Cli, tmp_path: Path) -> None:
    cli.index(*make_photo_folder(tmp_path / "photos", 12))
    settings = load_settings(library=cli.library)
    with Library.open_reader(cli.library) as library:
        alone = Searcher(library, settings)
        expected = {text: [hit.id for hit in alone.ask(Query(text), "media", Paging(k=5))] for text in TEXTS}
        shared = Searcher(library, settings, batched=True)
        model = shared.encoder()
        assert isinstance(model, BatchedQueryModel)
        inner = model.model
        calls: list[int] = []
        first_call = threading.Event()
        release = threading.Event()
        original = inner.encode_texts

        def gated(texts: list[str], batch_size: int = 256) -> np.ndarray:
            calls.append(len(texts))
            if len(calls) == 1:  # the first call holds the model while the others queue behind it
                first_call.set()
                assert release.wait(60)
            return original(texts, batch_size)

        inner.encode_texts = gated  # type: ignore[method-assign]
        found: dict[str, list[int]] = {}
        errors: list[BaseException] = []

        def ask(text: str) -> None:
            try:
                found[text] = [hit.id for hit in shared.ask(Query(text), "media", Paging(k=5))]
            except BaseException as exc:  # the assertion below names it
                errors.append(exc)

        threads = [threading.Thread(target=ask, args=(TEXTS[0],))]
        threads[0].start()
        assert first_call.wait(60)
        threads += [threading.Thread(target=ask, args=(text,)) for text in TEXTS[1:]]
        for thread in threads[1:]:
            thread.start()
        while model.stats()["texts"].queued < len(TEXTS) - 1:  # everyone else is waiting for the model
            threading.Event().wait(0.01)
        release.set()
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        assert found == expected
        assert calls == [1, len(TEXTS) - 1]  # one query alone, then all the queued ones in one call
        alone.close()
        shared.close()
