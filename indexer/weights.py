"""Where a model's weights come from: the local cache, a download (failing fast offline), or a checkpoint
file whose SHA-256 the library recorded."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from core.errors import ModelError
from indexer.hashing import file_sha256
from indexer.model_spec import ModelSpec

log = logging.getLogger(__name__)
PREPROCESS_KEYS = ("mean", "std", "interpolation", "resize_mode")


def verify_weights(spec: ModelSpec) -> Path:
    """The checkpoint file of a non-tag spec, checked to be the one that made the library's vectors."""
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
    return path


def builtin_weights(spec: ModelSpec) -> tuple[str, dict[str, Any]]:
    """(what to pass open_clip as `pretrained`, extra create_model arguments) for a built-in architecture.

    A tag whose checkpoint is cached loads from the file (no network round trip); one that is not is
    downloaded by open_clip, unless the host cannot be reached: then this fails within seconds and says
    which file to fetch by hand.
    """
    import open_clip

    if not spec.is_tag:
        return str(verify_weights(spec)), {}
    assert spec.arch is not None
    cfg = open_clip.get_pretrained_cfg(spec.arch, spec.pretrained)
    overrides: dict[str, Any] = {"force_preprocess_cfg": {k: cfg[k] for k in PREPROCESS_KEYS if k in cfg}}
    if cfg.get("quick_gelu"):
        overrides["force_quick_gelu"] = True
    cached = cached_checkpoint(cfg)
    if cached is not None:
        return cached, overrides
    host = weights_host(cfg)
    if not reachable(host):
        raise ModelError(
            f"the weights for {spec.arch}/{spec.pretrained} are not on this machine and {host} cannot be reached",
            "download the checkpoint on a machine with internet (open_clip_pytorch_model.bin from "
            f"{cfg.get('hf_hub') or cfg.get('url') or 'the model hub'}) and pass "
            f"--model {spec.arch} --pretrained /path/to/that/file",
        )
    log.info("downloading weights for %s/%s from %s", spec.arch, spec.pretrained, host)
    return spec.pretrained, {}


def cached_checkpoint(cfg: dict[str, Any]) -> str | None:
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


def weights_host(cfg: dict[str, Any]) -> str:
    if cfg.get("hf_hub"):
        return urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    return urlparse(cfg.get("url", "")).hostname or "huggingface.co"


def reachable(host: str, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False
