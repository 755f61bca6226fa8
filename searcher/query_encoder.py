"""Turning what a person asks into a vector in one model's space: words (remembered, since paging and
infinite scroll ask the same words again), a picture, or an indexed image. The searcher has one for the
library's model; a reranker has one for its own."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from core.errors import InputError, NotAnImage, NotFound
from searcher.query import PreparedQuery, Query, Term, clean_text, combine, parse_query

if TYPE_CHECKING:
    from PIL import Image

    from indexer.encoder import QueryModel

TEXT_CACHE_SIZE = 1024


class QueryEncoder:
    """Thread-safe: a server shares one between requests."""

    def __init__(
        self,
        encoder: Callable[[], QueryModel],
        image_vector: Callable[[int], np.ndarray | None],
        max_image_pixels: int,
    ) -> None:
        self._encoder = encoder
        self._image_vector = image_vector  # an indexed image's vector in this model's space
        self.max_image_pixels = max_image_pixels
        self._texts: OrderedDict[tuple[str, tuple[str, ...]], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def prepare(self, query: Query, templates: tuple[str, ...] = ()) -> PreparedQuery:
        """Everything the stages need from a query, computed once. `templates`: query expansion's prompts."""
        if query.vector is not None:
            return PreparedQuery(np.asarray(query.vector, dtype=np.float32))
        terms = parse_query(query.text) if query.text is not None else []
        picture = None
        image = None
        if query.image is not None:
            picture = self.decode(query)
            image = self._encoder().encode_images([picture])[0]
        elif query.media_id is not None:
            image = self._image_vector(query.media_id)
            if image is None:
                raise NotFound(f"no indexed image has id {query.media_id}")
        if image is None and not terms:
            raise InputError("give words, a picture, or both", 'e.g. xmodal search "a dog on the beach"')
        vector = self.combine(terms, image, templates) if terms else image
        assert vector is not None
        return PreparedQuery(vector, tuple(terms), picture, query.media_id)

    def combine(self, terms: list[Term], image: np.ndarray | None, templates: tuple[str, ...] = ()) -> np.ndarray:
        if image is None and len(terms) == 1 and terms[0].weight == 1:
            return self.text_vector(terms[0].text, templates)
        return combine(terms, lambda text: self.text_vector(text, templates), image)

    def text_vector(self, text: str, templates: tuple[str, ...] = ()) -> np.ndarray:
        """A text's unit vector; with templates, the mean over the prompts ("a photo of {}", ...)."""
        key = (clean_text(text), templates)
        with self._lock:
            found = self._texts.get(key)
            if found is not None:
                self._texts.move_to_end(key)
                return found
        prompts = [template.replace("{}", key[0]) for template in templates] if templates else [key[0]]
        mean = self._encoder().encode_texts(prompts).mean(axis=0)
        vector = (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
        with self._lock:
            self._texts[key] = vector
            if len(self._texts) > TEXT_CACHE_SIZE:
                self._texts.popitem(last=False)
        return vector

    def decode(self, query: Query) -> Image.Image:
        """The query's picture, checked from its header before the model is touched: a text file given as a
        picture fails in milliseconds, not after the model has loaded."""
        from indexer.decode import (  # Pillow: only a picture query pays for it
            READABLE_FORMATS,
            DecodeError,
            NotAnImageError,
            TooManyPixels,
            decode_image,
            probe_image,
        )

        assert query.image is not None
        limit = query.max_pixels or self.max_image_pixels
        try:
            probe_image(query.image, limit, query.image_name)
            return decode_image(query.image, self._encoder().image_size, limit, query.image_name)[0]
        except NotAnImageError as exc:
            raise NotAnImage(f"{query.image_name}: {exc}", f"query with a picture: {READABLE_FORMATS}") from exc
        except TooManyPixels as exc:
            setting = query.pixel_setting
            hint = f"send a smaller picture, or raise {setting} (XMODAL_{setting.upper()})"
            raise InputError(f"{query.image_name}: {exc} ({setting})", hint) from exc
        except DecodeError as exc:
            raise InputError(f"{query.image_name}: {exc}", "the file may be damaged or cut short") from exc
