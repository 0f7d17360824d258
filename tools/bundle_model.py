"""Bundle a trained pipeline as kinetype's default model: ``kinetype/assets/model`` (inside the
package, so wheels carry it; ``models/kinetype`` in a checkout links to it) in half precision.

    python tools/bundle_model.py runs/kinetype/video/pipeline

Weights are written as float16 safetensors (loading computes in float32), with fresh SHA-256
digests in ``model_index.json``, the training config beside them, and the model card
(``README.md``) of the destination kept. The swap is atomic: a failed run leaves the old model.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import torch

from kinetype.errors import KinetypeError
from kinetype.fsutil import atomic_folder
from kinetype.pipeline import DEFAULT_MODEL_DIR, Pipeline

# The repository and every wheel carry the model: keep it small. About 22 MB for the keyframe
# denoiser, autoencoder and caption encoder, and 21 MB more for the interpolator that makes
# `generate --frames 48` (a second network of the denoiser's shape).
LIMIT_MB = 48


def bundle(src: Path, dst: Path) -> Path:
    pipe = Pipeline.from_pretrained(src)
    dst = dst.resolve()  # models/kinetype is a link: swap the folder it names, not the link
    with atomic_folder(dst, overwrite=True) as tmp:
        pipe.save_pretrained(tmp, dtype=torch.float16)
        for keep in ("README.md", "curve.png"):
            if (dst / keep).is_file():
                shutil.copy2(dst / keep, tmp / keep)
        if (src / "train_config.json").is_file():
            shutil.copy2(src / "train_config.json", tmp / "train_config.json")
        size_mb = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file()) / 2**20
        if size_mb > LIMIT_MB:
            raise SystemExit(f"error: {src}: {size_mb:.1f} MB in half precision, over the {LIMIT_MB} MB limit")
    print(f"bundled {src} -> {dst} ({size_mb:.1f} MB, float16)")
    return dst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", type=Path, help="an exported pipeline folder (RUN/pipeline)")
    ap.add_argument("dst", type=Path, nargs="?", default=DEFAULT_MODEL_DIR)
    args = ap.parse_args()
    try:
        bundle(args.src, args.dst)
    except KinetypeError as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
