"""Contrastive training and fine-tuning of open_clip models on image–caption pairs.

Symmetric InfoNCE with open_clip's learnable temperature, AdamW with warm-up and cosine decay,
gradient accumulation, autocast on CUDA, a held-out split with Recall@K after every epoch, and
determinism under a seed. The output is an ordinary open_clip checkpoint plus its model config.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from core.errors import InputError, ModelError
from core.files import atomic_path, atomic_write_text
from indexer.decode import DecodeError, decode_image
from indexer.model_spec import resolve, split_config
from indexer.towers import load_open_clip, pick_device, register_config
from training.pairs import Pairs, load_pairs

Freeze = Literal["image", "text"]


@dataclass
class TrainConfig:
    pairs: Path
    model: str
    out: Path
    pretrained: str | None = None
    epochs: int = 10
    batch_size: int = 128
    accumulate: int = 1
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup_fraction: float = 0.05
    freeze: Freeze | None = None
    device: str = "auto"
    seed: int = 0
    val_fraction: float = 0.1
    max_image_pixels: int = 150_000_000


@dataclass
class EpochReport:
    epoch: int
    loss: float
    seconds: float
    recall: dict[str, float] = field(default_factory=dict)  # "t2i@1", "i2t@5", ...

    def line(self) -> str:
        recall = "  ".join(f"{key} {value:.3f}" for key, value in self.recall.items())
        return f"epoch {self.epoch}: loss {self.loss:.4f}  {recall}  ({self.seconds:.0f}s)"


def recall_at(image_vectors: np.ndarray, text_vectors: np.ndarray, text_image: np.ndarray) -> dict[str, float]:
    """Text→image: rank of each text's image. Image→text: best rank among an image's texts."""
    similarity = text_vectors @ image_vectors.T  # texts × images
    own = similarity[np.arange(len(text_image)), text_image]
    t2i_rank = (similarity > own[:, None]).sum(axis=1)
    i2t_rank = np.full(len(image_vectors), np.iinfo(np.int64).max)
    by_image = similarity.T  # images × texts
    for text, image in enumerate(text_image):
        rank = int((by_image[image] > by_image[image, text]).sum())
        i2t_rank[image] = min(i2t_rank[image], rank)
    result = {}
    for k in (1, 5, 10):
        result[f"t2i@{k}"] = float(np.mean(t2i_rank < k))
    for k in (1, 5, 10):
        result[f"i2t@{k}"] = float(np.mean(i2t_rank < k))
    return result


class Trainer:
    def __init__(self, config: TrainConfig, log: Callable[[str], None] = print) -> None:
        self.config = config
        self.log = log
        random.seed(config.seed)
        np.random.seed(config.seed)
        torch.manual_seed(config.seed)
        self.device = pick_device(config.device)
        self.model, self.preprocess, self.tokenizer, self.model_config, self.preprocess_config = self._build()
        self._freeze(config.freeze)

    def _build(self) -> tuple[Any, Any, Any, dict[str, Any], dict[str, Any] | None]:
        import open_clip

        config = self.config
        if config.pretrained is not None:  # fine-tune: start from the given weights
            spec = resolve(config.model, config.pretrained)
            model, preprocess, tokenizer = load_open_clip(spec, self.device)
            model_config = spec.config or open_clip.get_model_config(spec.arch or "")
            return model, preprocess, tokenizer, model_config, spec.preprocess
        if Path(config.model).is_file():
            model_config, preprocess_config = split_config(
                json.loads(Path(config.model).read_text()), Path(config.model)
            )
        else:
            model_config, preprocess_config = open_clip.get_model_config(config.model), None
            if model_config is None:
                raise ModelError(f"unknown model {config.model!r}", "pass an open_clip architecture or a config JSON")
        name = register_config(model_config)
        kwargs: dict[str, Any] = {"device": self.device}
        if preprocess_config:
            kwargs["force_preprocess_cfg"] = preprocess_config
        model, _, preprocess = open_clip.create_model_and_transforms(name, **kwargs)
        return model, preprocess, open_clip.get_tokenizer(name), model_config, preprocess_config

    def _freeze(self, freeze: Freeze | None) -> None:
        if freeze == "image":
            self.model.visual.requires_grad_(False)
        elif freeze == "text":
            for name, parameter in self.model.named_parameters():
                if not name.startswith("visual.") and name != "logit_scale":
                    parameter.requires_grad_(False)

    # -- data ---------------------------------------------------------------------------------

    def _images(self, paths: list[str]) -> torch.Tensor:
        tensors = []
        size = self.model.visual.image_size
        size = int(size[0] if isinstance(size, (tuple, list)) else size)
        for path in paths:
            try:
                image, _ = decode_image(Path(path).read_bytes(), size, self.config.max_image_pixels, path)
            except (OSError, DecodeError) as exc:
                raise InputError(f"cannot use training image {path}: {exc}") from exc
            tensors.append(self.preprocess(image))
        return torch.stack(tensors)

    def _split(self, pairs: Pairs) -> tuple[list[int], list[int]]:
        order = list(range(len(pairs)))
        random.Random(self.config.seed).shuffle(order)
        n_val = max(1, int(len(order) * self.config.val_fraction)) if len(order) >= 10 else 0
        return sorted(order[n_val:]), sorted(order[:n_val])

    # -- the loop -----------------------------------------------------------------------------

    def run(self) -> list[EpochReport]:
        from open_clip.loss import ClipLoss

        config = self.config
        pairs = load_pairs(config.pairs)
        train_ids, val_ids = self._split(pairs)
        self.log(f"{len(pairs)} images ({len(train_ids)} train, {len(val_ids)} held out), device {self.device}")
        images = self._images(pairs.images)
        tokens = {i: self.tokenizer(pairs.captions[i]) for i in range(len(pairs))}

        steps_per_epoch = max(1, math.ceil(len(train_ids) / config.batch_size / config.accumulate))
        total_steps = steps_per_epoch * config.epochs
        optimizer = self._optimizer()
        warmup = max(1, int(total_steps * config.warmup_fraction))

        def schedule(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total_steps - warmup)))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        loss_fn = ClipLoss()
        rng = random.Random(config.seed)
        reports = []
        for epoch in range(1, config.epochs + 1):
            started = time.monotonic()
            self.model.train()
            order = train_ids[:]
            rng.shuffle(order)
            losses = []
            optimizer.zero_grad(set_to_none=True)
            batches = [order[i : i + config.batch_size] for i in range(0, len(order), config.batch_size)]
            for number, batch in enumerate(batches, start=1):
                # One caption per image per batch: no image appears twice, so no false negatives.
                text = torch.stack([tokens[i][rng.randrange(len(tokens[i]))] for i in batch]).to(self.device)
                with self._autocast():
                    image_features = self.model.encode_image(images[batch].to(self.device), normalize=True)
                    text_features = self.model.encode_text(text, normalize=True)
                    loss = loss_fn(image_features, text_features, self.model.logit_scale.exp())
                (loss / config.accumulate).backward()
                losses.append(loss.item())
                if number % config.accumulate == 0 or number == len(batches):
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad(set_to_none=True)
                    with torch.no_grad():
                        self.model.logit_scale.clamp_(0, math.log(100))
            report = EpochReport(epoch, float(np.mean(losses)), 0.0, self.evaluate(images, tokens, pairs, val_ids))
            report.seconds = time.monotonic() - started
            self.log(report.line())
            reports.append(report)
        self.save()
        return reports

    def _optimizer(self) -> torch.optim.Optimizer:
        decay, no_decay = [], []
        for name, parameter in self.model.named_parameters():
            if not parameter.requires_grad:
                continue
            if parameter.ndim < 2 or "bn" in name or "ln" in name or "bias" in name or "logit_scale" in name:
                no_decay.append(parameter)
            else:
                decay.append(parameter)
        groups = [
            {"params": decay, "weight_decay": self.config.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        return torch.optim.AdamW(groups, lr=self.config.lr, betas=(0.9, 0.98), eps=1e-6)

    def _autocast(self) -> Any:
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return torch.autocast("cpu", enabled=False)

    @torch.no_grad()
    def evaluate(
        self, images: torch.Tensor, tokens: dict[int, torch.Tensor], pairs: Pairs, ids: list[int]
    ) -> dict[str, float]:
        if not ids:
            return {}
        self.model.eval()
        image_vectors = torch.cat(
            [
                self.model.encode_image(images[ids[i : i + 256]].to(self.device), normalize=True)
                for i in range(0, len(ids), 256)
            ]
        )
        texts, text_image = [], []
        for position, i in enumerate(ids):
            texts.append(tokens[i])
            text_image.extend([position] * len(tokens[i]))
        all_tokens = torch.cat(texts)
        text_vectors = torch.cat(
            [
                self.model.encode_text(all_tokens[i : i + 512].to(self.device), normalize=True)
                for i in range(0, len(all_tokens), 512)
            ]
        )
        return recall_at(
            image_vectors.float().cpu().numpy(), text_vectors.float().cpu().numpy(), np.asarray(text_image)
        )

    def save(self) -> Path:
        out = self.config.out
        with atomic_path(out) as temporary:
            torch.save({k: v.detach().cpu() for k, v in self.model.state_dict().items()}, temporary)
        config_path = out.with_suffix(".json")
        config = {"model_cfg": self.model_config, "preprocess_cfg": self.preprocess_config or {}}
        atomic_write_text(config_path, json.dumps(config, indent=2))
        self.log(f"saved {out} and {config_path.name}")
        self.log(f"use it with: xmodal index PATH --model {config_path} --pretrained {out}")
        return out
