"""Digest of what the engine and the dataset writer produce, to prove a refactor changed no byte.

Renders a fixed set of (template, word, seed) clips at two sizes and writes a small dataset, then
prints one SHA-256 per part (frames, masks, boxes, at-rest frames, captions, metadata, every shard
member). Run it before and after a change and compare:

    python tools/render_digest.py > before.txt      # on the old commit
    python tools/render_digest.py --against before.txt

It exits 1 naming the first parts that differ. A change of looks is meant to change the digest;
a restructuring is not.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tarfile
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from kinetype.render.engine import render_clip
from kinetype.render.fonts import FontLibrary
from kinetype.render.templates import load_templates

WORDS = ("Hello", "kINETic", "Wave", "qz")
SIZES = ((256, 24, 8), (128, 12, 4))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def clip_digests(templates_dir: Path, every: int) -> dict[str, str]:
    lib = FontLibrary.load()
    templates = sorted(load_templates(templates_dir), key=lambda t: t.id)[::every]
    out: dict[str, str] = {}
    for i, t in enumerate(templates):
        word = WORDS[i % len(WORDS)]
        size, frames, fps = SIZES[i % len(SIZES)]
        c = render_clip(t, word, seed=i, size=size, num_frames=frames, fps=fps, fonts=lib)
        key = f"{t.id}/{word}/{size}"
        out[f"{key}/frames"] = sha(np.ascontiguousarray(c.frames).tobytes())
        out[f"{key}/masks"] = sha(np.ascontiguousarray(c.instance_map).tobytes())
        out[f"{key}/boxes"] = sha(np.ascontiguousarray(c.boxes).tobytes())
        out[f"{key}/at_rest"] = sha(np.asarray(c.at_rest).tobytes())
        out[f"{key}/captions"] = sha(repr(c.captions).encode())
        out[f"{key}/metadata"] = sha(json.dumps(c.metadata, sort_keys=True, default=repr).encode())
    return out


def dataset_digests(templates_dir: Path, n: int) -> dict[str, str]:
    """Every member of every shard of a small dataset written through the CLI (one worker)."""
    out: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "kinetype", "render", "--templates", str(templates_dir), "--n", str(n),
                        "--out", tmp, "--shard-size", "8", "--workers", "1"], check=True, capture_output=True)
        for tar_path in sorted(Path(tmp).rglob("*.tar")):
            with tarfile.open(tar_path, mode="r:") as tar:
                for m in tar.getmembers():
                    out[f"shard/{tar_path.name}/{m.name}"] = sha(tar.extractfile(m).read())
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--templates", type=Path, default=Path(__file__).resolve().parents[1] / "templates")
    p.add_argument("--every", type=int, default=20, help="digest every k-th template (sorted by id)")
    p.add_argument("--n", type=int, default=24, help="clips in the small dataset")
    p.add_argument("--against", type=Path, help="a digest file printed before; exit 1 if anything differs")
    args = p.parse_args()
    digests = clip_digests(args.templates, args.every) | dataset_digests(args.templates, args.n)
    lines = [f"{k} {v}" for k, v in digests.items()]
    total = sha("\n".join(lines).encode())
    if args.against is None:
        print("\n".join(lines))
        print(f"total {total}")
        return 0
    before = dict(line.rsplit(" ", 1) for line in args.against.read_text().splitlines() if line.strip())
    differ = [k for k in sorted(set(before) | set(digests)) if k != "total" and before.get(k) != digests.get(k)]
    if differ:
        print(f"{len(differ)} of {len(digests)} parts differ, e.g.:", *differ[:10], sep="\n  ")
        return 1
    print(f"identical: {len(digests)} parts, total {total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
