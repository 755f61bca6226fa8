"""Seeded random weights for a model config: plumbing tests and the offline demo need real files."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from core.files import atomic_path


def write_random_checkpoint(config_path: Path, out: Path, seed: int = 0) -> Path:
    """Create the architecture with random weights (seeded) and save an open_clip-loadable state dict."""
    from open_clip.model import CLIP

    config = json.loads(Path(config_path).read_text())
    config = config.get("model_cfg", config)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = CLIP(**config)
    finally:
        torch.random.set_rng_state(generator_state)
    with atomic_path(out) as temporary:
        torch.save(model.state_dict(), temporary)
    return out
