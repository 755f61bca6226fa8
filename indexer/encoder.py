"""A library's model as images and texts go in and unit vectors come out. Each tower is loaded on first
use from the process's model cache: a text query loads no image tower, indexing loads both once."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from indexer.model_cache import ModelCache, shared_models
from indexer.model_spec import ModelSpec

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from indexer.towers import ImageTower, TextTower


class QueryModel(Protocol):
    """What a searcher needs of a model: the torch Encoder, or the ONNX one that needs no torch."""

    @property
    def dim(self) -> int: ...

    @property
    def image_size(self) -> int: ...

    @property
    def runtime(self) -> str: ...

    def load(self) -> QueryModel: ...

    def encode_texts(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray: ...

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray: ...


class Encoder:
    def __init__(self, spec: ModelSpec, device: str = "auto", models: ModelCache | None = None) -> None:
        from indexer.towers import pick_device

        self.spec = spec
        self.device = pick_device(device)
        self.models = models or shared_models()

    runtime = "torch"

    @property
    def text_tower(self) -> TextTower:
        return self.models.text(self.spec, self.device)

    @property
    def image_tower(self) -> ImageTower:
        return self.models.image(self.spec, self.device)

    def load(self) -> Encoder:
        """Load both towers now (a server warms up before its first query; an indexer checks its model)."""
        self.image_tower  # noqa: B018 - the whole model, whose text tower the cache keeps too
        self.text_tower  # noqa: B018
        return self

    @cached_property
    def dim(self) -> int:
        embed_dim = _model_config(self.spec).get("embed_dim")
        return int(embed_dim) if embed_dim else int(self.encode_texts(["x"]).shape[1])

    @cached_property
    def image_size(self) -> int:
        """The side the model sees, known without loading it: decoding (JPEG draft mode) needs it first."""
        size = (_model_config(self.spec).get("vision_cfg") or {}).get("image_size")
        if size is None:
            return self.image_tower.image_size
        return int(size[0] if isinstance(size, (tuple, list)) else size)

    def image_tensor(self, image: Image.Image) -> torch.Tensor:
        """Preprocess one decoded image; safe to call from decode worker threads."""
        return self.image_tower.preprocess(image)

    def encode_image_tensors(self, batch: Sequence[torch.Tensor]) -> np.ndarray:
        return self.image_tower.encode(batch)

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.encode_image_tensors([self.image_tensor(image) for image in images])

    def encode_texts(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.text_tower.encode(texts, batch_size)


def _model_config(spec: ModelSpec) -> dict[str, Any]:
    if spec.config is not None:
        return spec.config
    import open_clip

    return dict(open_clip.get_model_config(spec.arch or "") or {})
