"""Scene motion: animated backgrounds and camera moves.

Backgrounds stay within a narrow band around the palette's background colour (±30% shade), so
they move without ever eating the text/background contrast that :mod:`palettes` guarantees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import skia

from kinetype.render.palettes import shade

BACKGROUNDS = ("solid", "gradient-drift", "stripes", "particles", "shapes", "noise", "grid")
CAMERAS = ("none", "zoom-in", "zoom-out", "pan-left", "pan-right", "pan-up", "pan-down", "shake", "tilt")


@dataclass(frozen=True)
class BackgroundPlan:
    kind: str
    colour: tuple[int, int, int]
    speed: float  # cycles (or frame widths) per clip
    angle: float  # degrees: direction of drift / stripes
    seed: int  # positions of particles and shapes


@dataclass(frozen=True)
class CameraPlan:
    kind: str
    amount: float  # zoom factor change, pan distance (frame widths), shake amplitude or tilt degrees
    seed: int


def _c(rgb, alpha: int = 255) -> int:
    return skia.Color(int(rgb[0]), int(rgb[1]), int(rgb[2]), alpha)


def _image(pixels: np.ndarray) -> skia.Image:
    """RGBA uint8 ``(H, W, 4)`` → skia image."""
    return skia.Image.fromarray(np.ascontiguousarray(pixels), colorType=skia.kRGBA_8888_ColorType)


class Background:
    """Draws one background plan; precomputes everything random and every costly shader once per clip.

    skia's raster gradients and Perlin noise cost 1–3 ms per 256² frame here, more than the
    letters; so the pattern is rasterised once into a small image (a 1-D gradient profile, one
    stripe period, a tileable noise tile) and each frame only draws that image through a moving
    image shader (~0.15 ms).
    """

    def __init__(self, plan: BackgroundPlan, size: int):
        self.plan, self.size = plan, size
        rng = np.random.default_rng(plan.seed)
        light = sum(plan.colour) / 3 < 128
        self.alt = shade(plan.colour, 0.22 if light else -0.22)  # the second tone: lighter on dark, darker on light
        base, alt = np.array(plan.colour, float), np.array(self.alt, float)
        self.sampling = skia.SamplingOptions(skia.FilterMode.kLinear)
        if plan.kind == "gradient-drift":
            # Profile bg → alt → bg along 256 px; stretched across 1.5 frame widths per frame.
            w = np.abs(np.linspace(-1.0, 1.0, 256))[:, None]
            row = base[None, :] * w + alt[None, :] * (1 - w)
            self.tile = _image(np.concatenate([row, np.full((256, 1), 255.0)], 1)[None].astype(np.uint8))
        elif plan.kind == "stripes":
            period = max(4, int(round(size / 8)))
            row = np.where((np.arange(period) < period // 2)[:, None], base, alt)
            self.period = period
            self.tile = _image(np.concatenate([row, np.full((period, 1), 255.0)], 1)[None].astype(np.uint8))
        elif plan.kind == "particles":
            n = 40
            self.pts = rng.random((n, 2)) * size
            self.radii = (0.006 + 0.018 * rng.random(n)) * size
            self.vel = 0.6 + 0.8 * rng.random(n)
        elif plan.kind == "shapes":
            n = 5
            self.pts = rng.random((n, 2)) * size
            self.radii = (0.12 + 0.2 * rng.random(n)) * size
            self.vel = rng.random(n) * 2 - 1
            self.square = rng.random(n) < 0.5
        elif plan.kind == "noise":
            f = 0.035 * 256 / size
            noise = skia.PerlinNoiseShader.MakeFractalNoise(f, f, 3, float(plan.seed % 1000), skia.ISize(size, size))
            surf = skia.Surface.MakeRaster(skia.ImageInfo.Make(size, size, skia.kRGBA_8888_ColorType, skia.kPremul_AlphaType))
            paint = skia.Paint(Shader=noise)
            surf.getCanvas().drawPaint(paint)
            rgba = surf.makeImageSnapshot().toarray(colorType=skia.kRGBA_8888_ColorType)
            # Grey grain around the base colour: ±18% of the way to white/black.
            g = rgba[..., :3].astype(float).mean(-1, keepdims=True) / 255.0 - 0.5
            target = np.where(g > 0, 255.0, 0.0)
            rgb = base + (target - base) * np.abs(g) * 0.36 * 2
            self.tile = _image(np.concatenate([rgb, np.full((size, size, 1), 255.0)], -1).astype(np.uint8))

    def _draw_image_shader(self, canvas: skia.Canvas, m: skia.Matrix, tx=skia.TileMode.kRepeat, ty=skia.TileMode.kRepeat):
        canvas.drawPaint(skia.Paint(Shader=self.tile.makeShader(tx, ty, self.sampling, m)))

    def draw(self, canvas: skia.Canvas, t: float) -> None:
        p, s = self.plan, float(self.size)
        canvas.clear(_c(p.colour))
        if p.kind == "solid":
            return
        th = np.deg2rad(p.angle)
        d = np.array([np.cos(th), -np.sin(th)])
        paint = skia.Paint(AntiAlias=True)
        if p.kind == "gradient-drift":
            phi = np.rad2deg(th + 2 * np.pi * p.speed * t * 0.25)
            m = skia.Matrix.Translate(s / 2, s / 2)
            m.preRotate(float(phi))
            m.preScale(1.5 * s / 256, 1.0)
            m.preTranslate(-128.0, 0.0)
            self._draw_image_shader(canvas, m, skia.TileMode.kClamp, skia.TileMode.kRepeat)
        elif p.kind == "stripes":
            # The stripe profile runs across the stripes; it scrolls by two periods per unit speed.
            m = skia.Matrix.Translate(s / 2, s / 2)
            m.preRotate(float(p.angle + 90))
            m.preTranslate(float(2 * self.period * p.speed * t), 0.0)
            self._draw_image_shader(canvas, m)
        elif p.kind == "particles":
            paint.setColor(_c(self.alt))
            pos = (self.pts + d[None, :] * (self.vel[:, None] * p.speed * s * 0.5 * t)) % s
            for (x, y), r in zip(pos, self.radii):
                canvas.drawCircle(float(x), float(y), float(r), paint)
        elif p.kind == "shapes":
            paint.setColor(_c(self.alt, 150))
            for (x, y), r, v, sq in zip(self.pts, self.radii, self.vel, self.square):
                cx = (x + d[0] * v * p.speed * s * 0.3 * t) % (s + 2 * r) - r
                cy = (y + d[1] * v * p.speed * s * 0.3 * t) % (s + 2 * r) - r
                if sq:
                    canvas.save()
                    canvas.translate(float(cx), float(cy))
                    canvas.rotate(float(90 * v * p.speed * t))
                    canvas.drawRoundRect(skia.Rect(-r, -r, r, r), r * 0.2, r * 0.2, paint)
                    canvas.restore()
                else:
                    canvas.drawCircle(float(cx), float(cy), float(r), paint)
        elif p.kind == "noise":
            shift = d * s * 0.4 * p.speed * t
            self._draw_image_shader(canvas, skia.Matrix.Translate(float(shift[0]), float(shift[1])))
        elif p.kind == "grid":
            paint.setColor(_c(self.alt))
            paint.setStrokeWidth(max(1.0, s / 160))
            step = s / 8
            off = (d * step * 2 * p.speed * t) % step
            for k in range(-1, 10):
                x = float(off[0] + k * step)
                y = float(off[1] + k * step)
                canvas.drawLine(x, 0, x, s, paint)
                canvas.drawLine(0, y, s, y, paint)


def camera_matrix(plan: CameraPlan, t: float, size: int, noise: np.ndarray) -> skia.Matrix:
    """The camera as a matrix about the frame centre at clip time ``t``; ``noise`` (2,) in [0, 1)."""
    s = float(size)
    m = skia.Matrix()
    k, a = plan.kind, plan.amount
    if k == "none":
        return m
    c = s / 2
    if k in ("zoom-in", "zoom-out"):
        z = 1 + a * (t if k == "zoom-in" else 1 - t)
        m.setScale(z, z, c, c)
    elif k.startswith("pan-"):
        dx, dy = {"pan-left": (1, 0), "pan-right": (-1, 0), "pan-up": (0, 1), "pan-down": (0, -1)}[k]
        # Content moves opposite to the camera; centred at mid-clip so the word is framed at rest.
        u = (t - 0.5) * a * s
        m.setTranslate(dx * u, dy * u)
    elif k == "shake":
        m.setTranslate(float((noise[0] * 2 - 1) * a * s), float((noise[1] * 2 - 1) * a * s))
    elif k == "tilt":
        m.setRotate(float(a * np.sin(2 * np.pi * t)), c, c)
    return m


def camera_phrase(plan: CameraPlan) -> str:
    return {
        "none": "", "zoom-in": "the camera slowly zooms in", "zoom-out": "the camera slowly pulls back",
        "pan-left": "the camera pans to the left", "pan-right": "the camera pans to the right",
        "pan-up": "the camera pans upwards", "pan-down": "the camera pans downwards",
        "shake": "the camera shakes", "tilt": "the camera tilts gently back and forth",
    }[plan.kind]


def background_phrase(plan: BackgroundPlan, colour_name: str) -> tuple[str, str]:
    """(static description, motion description) of a background."""
    speed = "slowly" if plan.speed < 0.6 else ("steadily" if plan.speed < 1.2 else "quickly")
    return {
        "solid": (f"a plain {colour_name} background", "the background stays still"),
        "gradient-drift": (f"a soft {colour_name} gradient background", f"the background gradient {speed} drifts"),
        "stripes": (f"a {colour_name} background with diagonal stripes" if plan.angle % 90 else f"a {colour_name} striped background",
                    f"the stripes {speed} scroll"),
        "particles": (f"a {colour_name} background with small dots", f"the dots {speed} float across"),
        "shapes": (f"a {colour_name} background with large translucent shapes", f"the shapes {speed} drift and turn"),
        "noise": (f"a grainy {colour_name} textured background", f"the grain {speed} flows"),
        "grid": (f"a {colour_name} background with a grid", f"the grid {speed} slides"),
    }[plan.kind]
