"""The one place that loads open_clip models and turns images and texts into unit vectors."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import socket
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import torch
from PIL import Image

from core.errors import ModelError
from indexer.hashing import file_sha256
from indexer.model_spec import ModelSpec

log = logging.getLogger(__name__)
_PREPROCESS_KEYS = ("mean", "std", "interpolation", "resize_mode")


def pick_device(requested: str) -> torch.device:
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ModelError("--device cuda was asked for, but no CUDA device is available", "use --device auto or cpu")
    if requested == "mps" and not torch.backends.mps.is_available():
        raise ModelError("--device mps was asked for, but MPS is not available", "use --device auto or cpu")
    return torch.device(requested)


class Encoder:
    """A loaded model: batched, normalized image and text embeddings, fp16/bf16 autocast on CUDA."""

    def __init__(self, spec: ModelSpec, device: str = "auto") -> None:
        self.spec = spec
        self.device = pick_device(device)
        self.model: Any
        self.model, self.preprocess, self.tokenizer = load_open_clip(spec, self.device)
        self.model.eval()
        visual = self.model.visual
        size = getattr(visual, "image_size", 224)
        self.image_size = int(size[0] if isinstance(size, (tuple, list)) else size)
        self.dim = int(self._probe_dim())

    def _probe_dim(self) -> int:
        with torch.inference_mode():
            return int(self.model.encode_text(self.tokenizer(["x"]).to(self.device)).shape[-1])

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.device.type == "cuda":
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            return torch.autocast("cuda", dtype=dtype)
        return contextlib.nullcontext()

    def image_tensor(self, image: Image.Image) -> torch.Tensor:
        """Preprocess one decoded image; safe to call from decode worker threads."""
        return self.preprocess(image)  # type: ignore[no-any-return]

    def encode_image_tensors(self, batch: Sequence[torch.Tensor]) -> np.ndarray:
        with torch.inference_mode(), self._autocast():
            stacked = torch.stack(list(batch)).to(self.device, non_blocking=True)
            features = self.model.encode_image(stacked)
        return _normalize(features)

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.encode_image_tensors([self.image_tensor(image) for image in images])

    def encode_texts(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        parts = []
        for start in range(0, len(texts), batch_size):
            tokens = self.tokenizer(list(texts[start : start + batch_size])).to(self.device)
            with torch.inference_mode(), self._autocast():
                parts.append(_normalize(self.model.encode_text(tokens)))
        return np.concatenate(parts) if parts else np.zeros((0, self.dim), dtype=np.float32)


def _normalize(features: torch.Tensor) -> np.ndarray:
    array = features.float().cpu().numpy()
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return (array / np.maximum(norms, 1e-12)).astype(np.float32)


def load_open_clip(spec: ModelSpec, device: torch.device) -> tuple[torch.nn.Module, Callable[..., Any], Any]:
    """(model, preprocess, tokenizer) for a spec; the trainer starts from this too."""
    import open_clip

    kwargs: dict[str, Any] = {"device": device}
    if spec.arch is not None:
        name = spec.arch
        pretrained, overrides = _builtin_weights(spec)
        kwargs.update(overrides)
    else:
        assert spec.config is not None
        name = register_config(spec.config)
        pretrained = str(spec.weights_file())
        if spec.preprocess:
            kwargs["force_preprocess_cfg"] = {k: v for k, v in spec.preprocess.items() if k in _PREPROCESS_KEYS}
    if not spec.is_tag:
        _verify_weights(spec)
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=pretrained, **kwargs)
    except ModelError:
        raise
    except Exception as exc:  # open_clip raises RuntimeError, KeyError, ... for bad weights
        raise ModelError(
            f"cannot load model {spec.describe()}: {exc}",
            "check that --pretrained matches the architecture given to --model",
        ) from exc
    return model, preprocess, open_clip.get_tokenizer(name)


def register_config(config: dict[str, Any]) -> str:
    """open_clip builds custom architectures from registered config files; register ours by content."""
    import open_clip

    text = json.dumps(config, sort_keys=True)
    name = "xmodal-" + hashlib.sha256(text.encode()).hexdigest()[:12]
    if name not in open_clip.list_models():
        folder = Path(tempfile.mkdtemp(prefix="xmodal-model-"))
        (folder / f"{name}.json").write_text(text)
        open_clip.add_model_config(folder / f"{name}.json")
    return name


def _verify_weights(spec: ModelSpec) -> None:
    path = spec.weights_file()
    if not path.is_file():
        raise ModelError(
            f"the library's model weights {path} are gone",
            "put the checkpoint back at that path, or re-index with --reindex --pretrained NEW_FILE",
        )
    if file_sha256(str(path)) != spec.weights_sha256:
        raise ModelError(
            f"the checkpoint at {path} changed since the library was built",
            "restore the original file, or re-encode everything with --reindex",
        )


def _builtin_weights(spec: ModelSpec) -> tuple[str, dict[str, Any]]:
    """Weights for a built-in architecture; fails fast and says what to do when they cannot be had."""
    import open_clip

    if not spec.is_tag:
        return str(spec.weights_file()), {}
    assert spec.arch is not None
    cfg = open_clip.get_pretrained_cfg(spec.arch, spec.pretrained)
    cached = _cached_checkpoint(cfg)
    if cached is not None:  # load the file directly: no network round trip, works offline
        overrides: dict[str, Any] = {
            "force_preprocess_cfg": {k: cfg[k] for k in _PREPROCESS_KEYS if k in cfg},
        }
        if cfg.get("quick_gelu"):
            overrides["force_quick_gelu"] = True
        return cached, overrides
    host = _weights_host(cfg)
    if not _reachable(host):
        raise ModelError(
            f"the weights for {spec.arch}/{spec.pretrained} are not on this machine and {host} cannot be reached",
            "download the checkpoint on a machine with internet (open_clip_pytorch_model.bin from "
            f"{cfg.get('hf_hub') or cfg.get('url') or 'the model hub'}) and pass "
            f"--model {spec.arch} --pretrained /path/to/that/file",
        )
    log.info("downloading weights for %s/%s from %s", spec.arch, spec.pretrained, host)
    return spec.pretrained, {}


def _cached_checkpoint(cfg: dict[str, Any]) -> str | None:
    hub = cfg.get("hf_hub", "")
    if hub:
        from huggingface_hub import try_to_load_from_cache

        repo, filename = hub.rstrip("/").rsplit("/", 1) if not hub.endswith("/") else (hub.rstrip("/"), "")
        names = [filename] if filename else []
        names += ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
        for name in names:
            found = try_to_load_from_cache(repo, name)
            if isinstance(found, str):
                return found
        return None
    url = cfg.get("url", "")
    if url:
        candidate = Path.home() / ".cache" / "clip" / Path(urlparse(url).path).name
        return str(candidate) if candidate.is_file() else None
    return None


def _weights_host(cfg: dict[str, Any]) -> str:
    import os

    if cfg.get("hf_hub"):
        return urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    return urlparse(cfg.get("url", "")).hostname or "huggingface.co"


def _reachable(host: str, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False
