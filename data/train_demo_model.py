"""Trains the demo model shipped as `--model demo` (indexer/demo_model/), reproducibly, on the CPU.

    OMP_NUM_THREADS=1 python -m data.train_demo_model [--out indexer/demo_model] [--scenes 5000] [--epochs 20]

Generates captioned scenes (data/scenes.py: varied renders, English and Chinese captions, a few broad ones),
trains data/models/demo-clip.json from scratch with `xmodal train`'s trainer, and stores the weights in fp16 (the
file stays under 10 MB; they load back into fp32). Took 680 s on 2 shared cores with one torch thread (two threads
on a loaded machine ran 5-8x slower per step).

Not yet good enough to ship (issue 11): the weights in indexer/demo_model are still the previous recipe's (5000
flat scenes × 25 epochs, English only, context 24). This recipe's model reaches colour+shape P@5 0.37 on
data/plain_shapes in English and Chinese alike (the shipped one: 0.57 / 0.08) and learns colour but barely shape
(bench/RESULTS.md, demo_generalisation).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

from data.scenes import generate
from training.trainer import TrainConfig, Trainer

REPO = Path(__file__).resolve().parent.parent


def export(checkpoint: Path, out: Path) -> None:
    """Store a trained checkpoint as an open_clip model folder, weights in fp16."""
    out.mkdir(parents=True, exist_ok=True)
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    torch.save(half, out / "open_clip_pytorch_model.bin")
    saved = json.loads(checkpoint.with_suffix(".json").read_text())
    (out / "open_clip_config.json").write_text(json.dumps(saved, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "indexer" / "demo_model")
    parser.add_argument("--scenes", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp) / "scenes", args.scenes, seed=11, chinese=True, broad=True)
        checkpoint = Path(tmp) / "demo.pt"
        config = TrainConfig(
            pairs=Path(tmp) / "scenes" / "pairs.csv",  # every language; the sidecars hold the English only
            model=str(REPO / "data" / "models" / "demo-clip.json"),
            out=checkpoint,
            epochs=args.epochs,
            batch_size=64,  # more, smaller steps: a small model on varied pictures learns shapes from updates
            lr=1.5e-3,
            seed=args.seed,
        )
        Trainer(config).run()
        export(checkpoint, args.out)
    print(f"demo model written to {args.out}")


if __name__ == "__main__":
    main()
