"""Writes the demo's model weights: the tiny architecture in data/models, seeded random weights.

Random weights make the plumbing real (image→image finds the same and similar pictures) but give
text queries no meaning; a trained demo model replaces this once `xmodal train` exists.
"""

from __future__ import annotations

import sys
from pathlib import Path

from indexer.model_init import write_random_checkpoint

if __name__ == "__main__":
    out = Path(sys.argv[1])
    if not out.exists():
        write_random_checkpoint(Path(__file__).parent / "models" / "tiny-clip.json", out, seed=0)
    print(out)
