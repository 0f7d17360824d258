"""Where an interpolator starts: its denoising loss, built from a trained video model and not yet
trained, on real clips, with one noise draw per gap against an independent draw per in-between,
beside the video model's own loss on the keyframes of the same clips.

    python benchmarks/interpolation_start.py --init models/kinetype --shards shards/cpu128-16fps

The shards must hold clips at (n + 1) x the model's fps (``kinetype render --frames 48 --fps 16``
for the bundled model) with their latent cache built (a ``kinetype train --stage interpolation``
run on them builds it). Prints the flow-matching loss at each time t, averaged over --batches
batches: the number kinetype.model.interpolation's choice of one noise per gap rests on.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--init", default="models/kinetype", help="a video-stage pipeline folder")
    ap.add_argument("--shards", default="shards/cpu128-16fps", help="clips at (n + 1) x its fps, latents cached")
    ap.add_argument("--times", default="0.2,0.5,0.8", help="noise levels t, comma-separated")
    ap.add_argument("--batches", type=int, default=4, help="batches of 4 clips")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import torch
    from rich.console import Console
    from rich.table import Table

    from kinetype.errors import KinetypeError
    from kinetype.model.autoencoder import resize_masks
    from kinetype.model.interpolation import neighbours, shared_noise, split, split_masks
    from kinetype.model.objective import add_noise, target
    from kinetype.train.config import resolve
    from kinetype.train.data import DataStream, prepare
    from kinetype.train.latents import autoencoder_digest, cache_folder, cache_shards
    from kinetype.train.setup import build_models, resolve_model

    torch.manual_seed(args.seed)
    times = [float(t) for t in args.times.split(",")]
    try:
        cfg = resolve_model(resolve("cpu", overrides={"stage": "interpolation", "init": args.init, "out": tempfile.mkdtemp(),
                                                      "data": {"shards": args.shards, "batch_size": 4}}))
        autoencoder, net = build_models(cfg)
    except KinetypeError as e:
        sys.exit(f"error: {e}")
    net.eval()
    cache = cache_folder(cfg.data.shards, Path(cfg.out), autoencoder_digest(autoencoder), cfg.data.size_px)
    if not (cache / "cache.json").is_file():
        sys.exit(f"error: {args.shards} has no latent cache for this autoencoder: run the interpolation stage on it once")
    stream = DataStream(cfg.data, single_frame=False, seed=args.seed, rank=0, world_size=1, tokenizer=net.tokenizer,
                        latents=cache_shards(cache, cfg.data.shards))
    n, gen = cfg.inbetweens, torch.Generator().manual_seed(args.seed)
    rows = {"interpolator, independent noise per in-between": [], "interpolator, one noise per gap": [],
            "the video model on the keyframes": []}
    with torch.no_grad():
        for _ in range(args.batches):
            batch = prepare(next(stream), cfg.data.size_px, torch.device("cpu"))
            keys, gaps = split(batch["latents"], n)  # (B, K, C, h, w), (B, K, n*C, h, w)
            key_masks, gap_masks = split_masks(resize_masks(batch["mask"], keys.shape[-2:]), n)
            tok = batch["tokens"]
            ones = torch.ones(keys.shape[0])

            def loss(x0, t, eps, **kw):  # the flow-matching loss of one batch at time t
                tt = torch.full((x0.shape[0],), t)
                x_t = add_noise(x0, eps, tt, cfg.model.objective)
                out = net(x_t, tt, tok["static"], tok["dynamic"], tok["word"], **kw)
                return float((out - target(x0, eps, tt, cfg.model.objective)).square().mean())

            for label, shared in (("interpolator, independent noise per in-between", False),
                                  ("interpolator, one noise per gap", True)):
                row = []
                for t in times:
                    eps = torch.randn(gaps.shape, generator=gen)
                    eps = shared_noise(eps, n) if shared else eps
                    row.append(loss(gaps, t, eps, glyph=gap_masks, glyph_present=ones, given=neighbours(keys),
                                    interpolate=True))
                rows[label].append(row)
            rows["the video model on the keyframes"].append(
                [loss(keys, t, torch.randn(keys.shape, generator=gen), glyph=key_masks, glyph_present=ones) for t in times])

    table = Table(title=f"denoising loss at the start ({args.init}, {args.shards}, {args.batches} x 4 clips)")
    table.add_column("network, noise")
    for t in times:
        table.add_column(f"t = {t:g}", justify="right")
    for label, values in rows.items():
        mean = torch.tensor(values).mean(0).tolist()
        table.add_row(label, *(f"{v:.3f}" for v in mean))
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
