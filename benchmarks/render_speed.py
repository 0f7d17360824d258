"""Complete clips per second per core: kinetype's engine vs the same animation done the obvious way.

A complete clip = 24 frames at 256×256 + per-letter instance masks + H.264 mp4 bytes. Three
implementations run side by side in this one process (one core):

* **kinetype** — ``render_clip`` over the default template mix (every bundled template in turn,
  random words) + ``encode_mp4``;
* **Pillow** — one representative animation (letters fly in from the left one after another, with
  a fade, on a plain background): ``ImageDraw.text`` per letter per frame for the frame and again
  into an ``L`` image for the instance mask, then PyAV with its default RGB→YUV conversion;
* **moviepy** — the same animation with one ``TextClip`` per letter positioned by a function of
  time in a ``CompositeVideoClip``, frames via ``get_frame``, masks from each letter's mask clip,
  written with ``write_videofile``.

Usage: ``python benchmarks/render_speed.py [--seconds 20]``. Prints a table with the ratios.

``--references`` prints only the last table: the reference render that ``generate`` and ``eval``
make for a prompt and its glyph masks, with frames painted (``render_clip``, the old path) and
without (``render_clip(..., pixels=False)``), taken in turn on the same clips.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kinetype.media import X264_PARAMS, X264_PRESET, encode_mp4  # noqa: E402
from kinetype.render import render_clip  # noqa: E402
from kinetype.render.fonts import FontLibrary  # noqa: E402
from kinetype.render.templates import load_templates  # noqa: E402
from kinetype.render.words import LETTERS  # noqa: E402

SIZE, FRAMES, FPS = 256, 24, 8


def random_word(rng: np.random.Generator) -> str:
    return "".join(rng.choice(list(LETTERS), size=int(rng.integers(3, 10))))


def fly_in(t: float, i: int, n: int) -> tuple[float, float]:
    """The reference animation: letter i's x offset (frame units) and opacity at clip time t."""
    w = 0.4 / (1 + 0.6 * (n - 1))
    u = np.clip((t - 0.6 * w * i) / w, 0, 1)
    e = 1 - (1 - u) ** 3
    return -0.8 * (1 - e), float(e)


def bench(fn, seconds: float) -> tuple[float, int]:
    fn(0)  # warm up (font loading, first-call setup)
    n, t0 = 0, time.process_time()
    while time.process_time() - t0 < seconds:
        fn(n + 1)
        n += 1
    return n / (time.process_time() - t0), n


SAME_ANIMATION = {  # the reference animation as a kinetype template: fly in from the left with a fade, plain look
    "id": "bench-fly-in", "description": "Letters fly in from the left one after another.", "motion_tag": "fly in",
    "enter": {"motion": "fly", "duration": 0.4, "easing": "out-cubic", "order": "left-to-right", "overlap": 0.4,
              "params": {"angle": 180, "distance": 0.8, "fade": 1.0}},
    "style": {"fonts": "sans", "palette": "cool", "fill": "solid", "effect": "none", "background": "solid", "camera": "none"},
}


def kinetype_clip(templates, fonts):
    rng = np.random.default_rng(0)

    def run(k: int) -> int:
        t = templates[(k * 7919) % len(templates)]
        clip = render_clip(t, random_word(rng), k, size=SIZE, num_frames=FRAMES, fps=FPS, fonts=fonts)
        return len(encode_mp4(clip.frames, FPS)) + clip.instance_map.size

    return run


def pillow_clip(font_path: str):
    import av
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(font_path, 48)
    rng = np.random.default_rng(0)

    def run(k: int) -> int:
        word = random_word(rng)
        n = len(word)
        widths = [font.getlength(ch) for ch in word]
        x0 = (SIZE - sum(widths)) / 2
        xs = x0 + np.concatenate([[0], np.cumsum(widths)[:-1]])
        frames, masks = [], []
        for f in range(FRAMES):
            t = f / (FRAMES - 1)
            img = Image.new("RGB", (SIZE, SIZE), (20, 30, 80))
            mask = Image.new("L", (SIZE, SIZE), 0)
            layer = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
            d, dm = ImageDraw.Draw(layer), ImageDraw.Draw(mask)
            for i, ch in enumerate(word):
                dx, alpha = fly_in(t, i, n)
                pos = (max(0.0, xs[i] + dx * SIZE), SIZE / 2 - 30)
                d.text(pos, ch, font=font, fill=(250, 220, 60, int(255 * alpha)))
                if alpha >= 0.5:
                    dm.text(pos, ch, font=font, fill=i + 1)
            img.paste(layer, (0, 0), layer)
            frames.append(np.asarray(img))
            masks.append(np.asarray(mask))
        buf = io.BytesIO()
        with av.open(buf, "w", format="mp4") as c:
            s = c.add_stream("libx264", rate=FPS)
            s.width = s.height = SIZE
            s.pix_fmt = "yuv420p"
            s.options = {"crf": "23", "preset": "veryfast"}
            s.codec_context.thread_count = 1
            for fr in frames:
                c.mux(s.encode(av.VideoFrame.from_ndarray(fr, format="rgb24")))
            c.mux(s.encode())
        return len(buf.getvalue()) + sum(m.size for m in masks)

    return run


def moviepy_clip(font_path: str):
    from moviepy import ColorClip, CompositeVideoClip, TextClip

    rng = np.random.default_rng(0)
    out = Path(tempfile.mkdtemp(prefix="kinetype-bench-")) / "clip.mp4"
    duration = (FRAMES - 1) / FPS + 1 / FPS

    def run(k: int) -> int:
        word = random_word(rng)
        n = len(word)
        letters = [TextClip(font=font_path, text=ch, font_size=48, color="#fadc3c", duration=duration) for ch in word]
        widths = [c.w for c in letters]
        x0 = (SIZE - sum(widths)) / 2
        xs = x0 + np.concatenate([[0], np.cumsum(widths)[:-1]])
        placed = []
        for i, c in enumerate(letters):
            def pos(t, i=i):
                dx, _ = fly_in(min(t * FPS / (FRAMES - 1), 1.0), i, n)
                return (max(0.0, xs[i] + dx * SIZE), SIZE / 2 - 30)  # moviepy cannot blit clips fully off-frame

            placed.append(c.with_position(pos).with_opacity(1.0))
        comp = CompositeVideoClip([ColorClip((SIZE, SIZE), color=(20, 30, 80), duration=duration)] + placed, size=(SIZE, SIZE))
        masks = np.zeros((FRAMES, SIZE, SIZE), np.uint8)
        for f in range(FRAMES):
            t = f / FPS
            for i, c in enumerate(placed):
                m = c.mask.get_frame(t) > 0.5
                x, y = (int(round(v)) for v in c.pos(t))
                h, w = m.shape
                xa, ya, xb, yb = max(x, 0), max(y, 0), min(x + w, SIZE), min(y + h, SIZE)
                if xb > xa and yb > ya:
                    masks[f, ya:yb, xa:xb][m[ya - y:yb - y, xa - x:xb - x]] = i + 1
        comp.write_videofile(str(out), fps=FPS, codec="libx264", preset="veryfast", logger=None, audio=False,
                             threads=1)
        return out.stat().st_size + masks.size

    return run


def breakdown(templates, fonts, clips: int = 40) -> list[tuple[str, float]]:
    """Milliseconds per clip of each stage of a complete clip over ``templates`` taken in turn."""
    from kinetype.media import rgb_to_yuv420

    rng = np.random.default_rng(1)
    stages = {"draw frames + masks (render_clip)": 0.0, "RGB -> YUV 4:2:0 (swscale)": 0.0, "H.264 encode + mux (x264)": 0.0}
    for k in range(clips):
        t = templates[(k * 7919) % len(templates)]
        t0 = time.process_time()
        clip = render_clip(t, random_word(rng), k, size=SIZE, num_frames=FRAMES, fps=FPS, fonts=fonts)
        t1 = time.process_time()
        rgb_to_yuv420(clip.frames)
        t2 = time.process_time()
        encode_mp4(clip.frames, FPS)  # converts again inside: subtract the conversion measured above
        t3 = time.process_time()
        stages["draw frames + masks (render_clip)"] += t1 - t0
        stages["RGB -> YUV 4:2:0 (swscale)"] += t2 - t1
        stages["H.264 encode + mux (x264)"] += (t3 - t2) - (t2 - t1)
    return [(name, 1000 * v / clips) for name, v in stages.items()]


def encoder_settings(templates, fonts, clips: int = 16) -> list[tuple[str, float, float, float]]:
    """x264 settings on the same mix clips: (setting, encode ms, mp4 KiB, PSNR dB). The first row is
    what kinetype uses (``encode_mp4``); the others show why (speed vs the 40 KiB sample budget, and
    what the macroblock tree, off for byte-exact output, would save)."""
    import av

    from kinetype.media import decode_mp4, rgb_to_yuv420

    rng = np.random.default_rng(2)
    frames = [render_clip(templates[(k * 131) % len(templates)], random_word(rng), k, size=SIZE, num_frames=FRAMES,
                          fps=FPS, fonts=fonts).frames for k in range(clips)]
    planes = [rgb_to_yuv420(f) for f in frames]

    def x264(planar, preset: str, crf: int, params: str) -> bytes:
        buf = io.BytesIO()
        with av.open(buf, "w", format="mp4") as c:
            s = c.add_stream("libx264", rate=FPS)
            s.width = s.height = SIZE
            s.pix_fmt = "yuv420p"
            s.options = {"crf": str(crf), "preset": preset, **({"x264-params": params} if params else {})}
            s.codec_context.thread_count = 1
            for p in planar:
                c.mux(s.encode(av.VideoFrame.from_ndarray(p, format="yuv420p")))
            c.mux(s.encode())
        return buf.getvalue()

    rows = []
    for name, preset, crf, params in ((f"{X264_PRESET} crf 25, {X264_PARAMS} (used)", X264_PRESET, 25, X264_PARAMS),
                                      ("veryfast crf 25, mbtree=0", "veryfast", 25, "mbtree=0"),
                                      ("veryfast crf 23 (x264 defaults)", "veryfast", 23, ""),
                                      ("superfast crf 25, mbtree=0", "superfast", 25, "mbtree=0"),
                                      ("ultrafast crf 25, mbtree=0", "ultrafast", 25, "mbtree=0")):
        t0 = time.process_time()
        data = [x264(p, preset, crf, params) for p in planes]
        ms = 1000 * (time.process_time() - t0) / clips
        psnr = np.mean([10 * np.log10(255**2 / np.mean((decode_mp4(d).astype(float) - f) ** 2)) for d, f in zip(data, frames)])
        rows.append((name, ms, np.mean([len(d) for d in data]) / 1024, float(psnr)))
    return rows


def reference_renders(templates, fonts, clips: int = 48) -> list[tuple[str, float, float]]:
    """(clip size, ms per clip with pixels, ms without) of reference renders over ``templates`` in
    turn, at the bundled model's clip size and the paper's, in steady state (font caches filled by an
    untimed pass). The two paths alternate clip by clip, each going first every other clip."""
    from kinetype.render.scene import NOISE_TILES, pattern_weight

    rows = []
    for size, frames in ((128, 12), (256, 24)):
        for s in range(NOISE_TILES):  # steady state, as in main(): grain tiles are computed once per process
            pattern_weight("noise", 0, 0, size, s)
        rng = np.random.default_rng(3)
        jobs = [(templates[(k * 7919) % len(templates)], random_word(rng)) for k in range(clips)]
        for k, (t, word) in enumerate(jobs):  # untimed pass: per-font stem widths and outlines are measured once
            render_clip(t, word, k, size=size, num_frames=frames, fps=FPS, fonts=fonts, pixels=False)
        spent = {True: 0.0, False: 0.0}
        for k, (t, word) in enumerate(jobs):
            for pixels in ((True, False) if k % 2 else (False, True)):
                t0 = time.process_time()
                render_clip(t, word, k, size=size, num_frames=frames, fps=FPS, fonts=fonts, pixels=pixels)
                spent[pixels] += time.process_time() - t0
        rows.append((f"{size}x{size}x{frames}", 1000 * spent[True] / clips, 1000 * spent[False] / clips))
    return rows


def print_reference_renders(templates, fonts) -> None:
    print("\nreference render for generate/eval: captions, glyph masks, boxes, at-rest frames (ms per clip, one core)")
    print(f"{'clip':12s} {'with frames (old)':>18s} {'pixels=False (new)':>19s} {'new is':>8s}")
    for name, old_ms, new_ms in reference_renders(templates, fonts):
        print(f"{name:12s} {old_ms:18.1f} {new_ms:19.1f} {old_ms / new_ms:7.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="CPU seconds per implementation")
    ap.add_argument("--skip-moviepy", action="store_true")
    ap.add_argument("--references", action="store_true", help="only time the reference renders of generate and eval")
    args = ap.parse_args()
    fonts = FontLibrary.load()
    templates = load_templates()
    if args.references:
        print_reference_renders(templates, fonts)
        return
    font_path = str(next(f for f in fonts.fonts if f.family == "Lato" and f.style == "Bold").path)
    from kinetype.render.schema import parse_template

    from kinetype.render.scene import NOISE_TILES, pattern_weight

    # Steady state: a shard worker computes each of the 64 grain tiles once (6 ms each) and then
    # renders thousands of clips; a 15 s sample would otherwise charge most of them to the mix.
    for s in range(NOISE_TILES):
        pattern_weight("noise", 0, 0, SIZE, s)
    same = parse_template(SAME_ANIMATION, Path("<benchmark>"), "template")
    rows = [("kinetype, same animation", *bench(kinetype_clip([same], fonts), args.seconds)),
            ("kinetype, default template mix", *bench(kinetype_clip(templates, fonts), args.seconds))]
    rows.append(("Pillow (obvious)", *bench(pillow_clip(font_path), args.seconds)))
    if not args.skip_moviepy:
        try:
            rows.append(("moviepy TextClip (obvious)", *bench(moviepy_clip(font_path), args.seconds)))
        except Exception as e:  # moviepy needs its ffmpeg binary (imageio-ffmpeg)
            print(f"moviepy skipped: {e}", file=sys.stderr)
    ours = rows[0][1]
    print(f"\ncomplete clips ({SIZE}x{SIZE}x{FRAMES} frames + masks + mp4), one core, {os.cpu_count()} cores on this machine")
    print(f"{'implementation':30s} {'clips/s/core':>12s} {'clips':>6s} {'kinetype is':>12s}")
    for name, rate, n in rows:
        print(f"{name:30s} {rate:12.2f} {n:6d} {ours / rate:11.1f}x")
    print("\nwhere a complete clip's time goes (ms per clip, one core)")
    print(f"{'stage':36s} {'mix':>7s} {'reference':>10s}")
    for (name, ms), (_, ref_ms) in zip(breakdown(templates, fonts), breakdown([same], fonts)):
        print(f"{name:36s} {ms:7.1f} {ref_ms:10.1f}")
    print("\nx264 settings on 16 mix clips (YUV conversion excluded)")
    print(f"{'setting':44s} {'ms/clip':>8s} {'KiB':>6s} {'PSNR dB':>8s}")
    for name, ms, kib, psnr in encoder_settings(templates, fonts):
        print(f"{name:44s} {ms:8.1f} {kib:6.1f} {psnr:8.2f}")
    print_reference_renders(templates, fonts)


if __name__ == "__main__":
    main()
