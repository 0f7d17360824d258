"""How many clips of a batch the glyph loss should decode: the same time budget, glyph loss on K clips.

The glyph loss decodes x0_hat at full resolution, which on every clip of the `cpu` preset's image
batch cost more than the denoiser. Fewer clips mean cheaper steps (more of them in the budget) but a
noisier glyph gradient. For each K, the image stage trains for the same minutes from the same
start, and the exported EMA model is scored on held-out clips: the denoising MSE and the glyph loss
itself on every clip (L1 of decode(x0_hat) against decode(x0) inside the dilated glyph masks), at
fixed times, three noise draws each. Lower is better on both.

    python benchmarks/glyph_subset.py --shards shards/cpu128 --autoencoder models/kinetype/autoencoder --minutes 5
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kinetype.model.autoencoder import resize_masks  # noqa: E402
from kinetype.model.losses import denoising_loss, glyph_loss  # noqa: E402
from kinetype.model.objective import add_noise, predict_x0_eps, target  # noqa: E402
from kinetype.pipeline import Pipeline  # noqa: E402
from kinetype.train.config import resolve  # noqa: E402
from kinetype.train.data import DataStream, prepare  # noqa: E402
from kinetype.train.loop import train  # noqa: E402

TIMES = (0.2, 0.4, 0.6)


@torch.no_grad()
def held_out_scores(pipe: Pipeline, cfg, batches: list[dict]) -> tuple[float, float]:
    net, ae, obj = pipe.net, pipe.autoencoder, pipe.objective
    mse, glyph, n = 0.0, 0.0, 0
    for i, raw in enumerate(batches):
        batch = prepare(raw, cfg.data.size_px, torch.device("cpu"))
        x0 = ae.encode(batch["video"], batch["mask"])
        b = x0.shape[0]
        masks = resize_masks(batch["mask"], x0.shape[-2:])
        for t_value in TIMES:
            for draw in range(3):
                gen = torch.Generator().manual_seed(1000 * i + 10 * draw + int(100 * t_value))
                t = torch.full((b,), t_value)
                eps = torch.randn(x0.shape, generator=gen)
                x_t = add_noise(x0, eps, t, obj)
                out = net(x_t, t, net.tokenize(batch["static"]), glyph=masks)
                mse += float(denoising_loss(out, target(x0, eps, t, obj)))
                x0_hat = predict_x0_eps(x_t, out, t, obj)[0]
                glyph += float(glyph_loss(ae.decode, x0_hat, x0, batch["mask"], t, torch.ones(b), gen, clips=b, frames=1,
                                          max_t=1.0, dilate_px=cfg.loss.glyph_dilate_px))
                n += 1
    return mse / n, glyph / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shards", default="shards/cpu128")
    ap.add_argument("--autoencoder", default="models/kinetype/autoencoder")
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--clips", default="16,8,4,2")
    ap.add_argument("--held-out", type=int, default=6, help="held-out batches of the preset's batch size")
    ap.add_argument("--keep", default=None, help="keep the runs in this folder (default: a temporary one)")
    args = ap.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = args.keep or tmp
        held = None
        for k in [int(c) for c in args.clips.split(",")]:
            cfg = resolve("cpu", overrides={
                "stage": "image", "out": f"{tmp}/k{k}", "seed": 0, "data": {"shards": args.shards},
                "model": {"autoencoder": {"path": args.autoencoder}}, "loss": {"glyph_clips": k},
                "optim": {"max_minutes": args.minutes, "max_steps": 100_000}, "checkpoint_every": 100_000,
                "log_every": 50})
            if held is None:  # read in this process (no loader worker left running beside the training)
                data = type(cfg.data)(**{**vars(cfg.data), "num_workers": 0})
                stream = DataStream(data, single_frame=True, seed=12345, rank=0, world_size=1)
                held = [next(stream) for _ in range(args.held_out)]
            out = train(cfg, echo=lambda s: None)
            steps = [json.loads(line) for line in open(Path(cfg.out) / "metrics.jsonl")]
            step_s = sum(r["step_s"] for r in steps) / len(steps)
            mse, glyph = held_out_scores(Pipeline.from_pretrained(out), cfg, held)
            rows.append((k, len(steps), step_s, mse, glyph))
            print(f"glyph loss on {k} clips: {len(steps)} steps, {step_s:.3f} s/step, held-out MSE {mse:.4f}, "
                  f"glyph L1 {glyph:.4f}", flush=True)
    print(f"\nglyph loss on K clips of {cfg.data.batch_size}, image stage of the `cpu` preset, {args.minutes:g} minutes each, "
          f"CPU ({torch.get_num_threads()} threads); held-out: {args.held_out} batches x {len(TIMES)} times x 3 draws")
    print(f"{'K':>4}{'steps':>8}{'s/step':>9}{'denoise MSE':>13}{'glyph L1':>10}   (s/step: the mean)")
    for k, n, s, mse, glyph in rows:
        print(f"{k:>4}{n:>8}{s:>9.3f}{mse:>13.4f}{glyph:>10.4f}")


if __name__ == "__main__":
    main()
