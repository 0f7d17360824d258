"""Why the autoencoder learnt slowly, measured: three autoencoders of the same widths, trained side by
side on the same frames for the same steps on this CPU.

- ``kl``: a diffusers ``AutoencoderKL`` (what the presets used before; GroupNorm everywhere);
- ``glyph, GroupNorm``: kinetype's glyph autoencoder with GroupNorm in its blocks;
- ``glyph``: the same without normalisation (the ``cpu`` preset's).

All glyph variants have the pooled text/background colours and the compositing decoder (see
``kinetype/model/glyph_vae.py``). The frames are middle frames of fresh engine renders at 128 px;
the scores are L1 (pixels in [-1, 1]) on the training frames and on held-out ones, and CIEDE2000
between the mean colour of the text / background of a held-out original and of its reconstruction
(the glyph decoders are given the mask, as at generation).

Usage: ``python benchmarks/autoencoder_recipe.py [--steps 150] [--frames 16]``; writes
``--out``/recon.png (rows: originals, then each variant).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def frames(n: int, seed: int, size: int):
    import torch

    from kinetype.render import render_clip
    from kinetype.render.templates import load_templates
    from kinetype.render.words import LETTERS

    templates = load_templates()
    rng = np.random.default_rng(seed)
    xs, ms = [], []
    for _ in range(n):
        t = templates[int(rng.integers(len(templates)))]
        word = "".join(rng.choice(list(LETTERS), int(rng.integers(3, 9))))
        clip = render_clip(t, word, int(rng.integers(1 << 30)), size=size)
        f = int(np.flatnonzero(clip.at_rest)[0]) if clip.at_rest.any() else clip.frames.shape[0] // 2
        xs.append(clip.frames[f])
        ms.append(clip.text_mask[f])
    x = torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).float() / 127.5 - 1
    return x, torch.from_numpy(np.stack(ms)).float()


def colour_errors(x, r, m) -> tuple[float, float]:
    from kinetype.eval.measures import delta_e

    to = lambda a: ((a.clamp(-1, 1) + 1) * 127.5).permute(0, 2, 3, 1).numpy()  # noqa: E731
    xo, ro, mm = to(x), to(r), m.numpy() > 0.5
    text, back = [], []
    for i in range(len(xo)):
        if mm[i].any():
            text.append(float(delta_e(xo[i][mm[i]].mean(0), ro[i][mm[i]].mean(0))))
        back.append(float(delta_e(xo[i][~mm[i]].mean(0), ro[i][~mm[i]].mean(0))))
    return float(np.mean(text)), float(np.mean(back))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--frames", type=int, default=16, help="training frames (and as many held out)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--out", type=Path, default=Path("eval/autoencoder_recipe"))
    args = ap.parse_args()
    import torch

    from kinetype.model.autoencoder import Autoencoder
    from kinetype.model.config import AutoencoderConfig
    from kinetype.train.config import PRESETS

    base = PRESETS["cpu"].model.autoencoder
    variants = {
        "kl": AutoencoderConfig(kind="kl", block_out_channels=base.block_out_channels, norm_num_groups=8),
        "glyph, GroupNorm": AutoencoderConfig(**{**base.__dict__, "glyph_norm": True}),
        "glyph": AutoencoderConfig(**base.__dict__),
    }
    x, m = frames(args.frames, 0, args.size)
    hx, hm = frames(args.frames, 1, args.size)
    rows, pictures = [], [hx[:8]]
    for name, cfg in variants.items():
        torch.manual_seed(0)
        ae = Autoencoder(cfg)
        opt = torch.optim.AdamW(ae.parameters(), lr=args.lr)
        t0 = time.perf_counter()
        for step in range(args.steps):
            g = torch.Generator().manual_seed(step)
            idx = torch.randperm(args.frames, generator=g)[: args.batch]
            ae(x[idx], m[idx], g)["loss"].backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        step_s = (time.perf_counter() - t0) / args.steps
        ae.eval()
        with torch.no_grad():
            rec = lambda a, b: ae.decode(ae.encode(a[:, None], b[:, None]), b[:, None])[:, 0]  # noqa: E731
            train_l1 = float((rec(x, m) - x).abs().mean())
            held = rec(hx, hm)
        text_de, back_de = colour_errors(hx, held, hm)
        rows.append((name, sum(p.numel() for p in ae.parameters()) / 1e6, step_s, train_l1,
                     float((held - hx).abs().mean()), text_de, back_de))
        pictures.append(held[:8])
    args.out.mkdir(parents=True, exist_ok=True)
    from PIL import Image

    sheet = torch.cat([torch.cat(list(p), dim=2) for p in pictures], dim=1)  # (3, rows*H, 8*W)
    Image.fromarray(((sheet.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()).save(args.out / "recon.png")
    print(f"\nautoencoder recipe: {args.steps} steps x {args.batch} frames at {args.size} px, lr {args.lr}, "
          f"{args.frames} training / {args.frames} held-out frames, CPU ({torch.get_num_threads()} threads)")
    print(f"{'variant':<18}{'params M':>9}{'s/step':>8}{'L1 train':>10}{'L1 held':>9}{'dE text':>9}{'dE bg':>7}")
    for name, params, s, tl1, hl1, tde, bde in rows:
        print(f"{name:<18}{params:>9.2f}{s:>8.2f}{tl1:>10.3f}{hl1:>9.3f}{tde:>9.1f}{bde:>7.1f}")
    print(f"wrote {args.out / 'recon.png'}")


if __name__ == "__main__":
    main()
