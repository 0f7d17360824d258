"""Scene motion: animated backgrounds and camera moves.

Backgrounds stay within a narrow band around the palette's background colour (±30% shade), so
they move without ever eating the text/background contrast that :mod:`palettes` guarantees.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import skia

from kinetype.render.palettes import MIN_CONTRAST, first_shade, shade

BACKGROUNDS = ("solid", "gradient-drift", "stripes", "particles", "shapes", "noise", "grid")
# Backgrounds drawn as lines: their strokes compete with the letters' own.
LINE_BACKGROUNDS = ("stripes", "grid")
HAIRLINE_WEIGHT = 300  # CSS weight of Light faces and thinner: strokes about as thin as a grid line
DEPTH_EFFECTS = ("extrude", "long-shadow")  # drawn as bands from each letter across the frame


def legible_backgrounds(choices: tuple[str, ...], *, font_weight: int, fill: str, effect: str) -> tuple[str, ...]:
    """The template's background choices that leave the clip's letters readable.

    One busy layer at a time: a line background is left out behind hairline faces (strokes as thin
    as the grid's: the eye and the OCR join letter and line, ``kinetype eval renders`` misread
    Cantarell Thin and Quicksand Light on grids), behind striped fills (the same pattern inside
    and outside the letters) and behind extrusions and long shadows (bands that run into the lines:
    a Yanone k read as R on stripes). Every template offers a background that is not a line
    pattern, so the result is never empty; should one not, its choices are kept as they are.
    """
    if font_weight > HAIRLINE_WEIGHT and fill != "stripes" and effect not in DEPTH_EFFECTS:
        return choices
    return tuple(c for c in choices if c not in LINE_BACKGROUNDS) or choices


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


def _lattice(angle_deg: float) -> tuple[int, int]:
    """An integer direction (a, b) near ``angle_deg`` (y down), so patterns along it tile the frame."""
    th = np.deg2rad(angle_deg)
    a, b = int(np.rint(2 * np.cos(th))), int(np.rint(-2 * np.sin(th)))
    g = np.gcd(a, b) or 1
    return a // g, b // g


def _tile(size: int, fn, supersample: int = 2) -> np.ndarray:
    """Evaluate a periodic pattern ``fn(x, y) -> [0, 1]`` on the frame grid, box-filtered (anti-aliased)."""
    o = (np.arange(supersample) + 0.5) / supersample
    xs = (np.arange(size)[:, None] + o[None, :]).ravel()
    x, y = np.meshgrid(xs, xs)
    v = fn(x, y)
    return v.reshape(size, supersample, size, supersample).mean(axis=(1, 3))


PATTERNS = ("gradient-drift", "stripes", "noise")
NOISE_TILES = 64  # distinct grain textures (each clip also scrolls it differently)


@lru_cache(maxsize=128)
def pattern_weight(kind: str, a: int, b: int, size: int, noise_seed: int) -> np.ndarray:
    """(H, W) uint8 weight 0..255 of a tileable pattern.

    Cached: the pattern depends only on its kind, lattice direction (not for noise), size and grain
    seed (noise only), while colours are applied per clip through a lookup table."""
    if kind == "gradient-drift":
        w = _tile(size, lambda x, y: 0.5 + 0.5 * np.cos(2 * np.pi * (a * x + b * y) / size), 1)
    elif kind == "stripes":
        # Stripes across the lattice direction, about size/8 pixels per period.
        m = max(1, int(round(8 / np.hypot(a, b))))
        w = _tile(size, lambda x, y: (((m * (a * x + b * y) / size) % 1.0) < 0.5).astype(np.float32))
    else:
        f = 0.035 * 256 / size
        noise = skia.PerlinNoiseShader.MakeFractalNoise(f, f, 3, float(noise_seed), skia.ISize(size, size))
        surf = skia.Surface.MakeRaster(skia.ImageInfo.Make(size, size, skia.kRGBA_8888_ColorType, skia.kPremul_AlphaType))
        surf.getCanvas().drawPaint(skia.Paint(Shader=noise))
        rgba = surf.makeImageSnapshot().toarray(colorType=skia.kRGBA_8888_ColorType)
        g = rgba[..., :3].astype(np.float32).mean(-1) / 255.0  # grey grain, stitched so it tiles
        w = np.clip((g - g.mean()) * 2.5 + 0.5, 0, 1)
    out = np.rint(w * 255).astype(np.uint8)
    out.flags.writeable = False
    return out


def second_tone(colour: tuple[int, int, int], text: tuple[int, int, int] | None) -> tuple[int, int, int]:
    """The background's second tone (stripes, grain, dots, shapes): 22% lighter on dark, darker on
    light, or less where that would bring it under the palette's text contrast with ``text``."""
    sign = 1.0 if sum(colour) / 3 < 128 else -1.0
    if text is None:
        return shade(colour, sign * 0.22)
    return first_shade(colour, [sign * k / 100 for k in range(22, 0, -2)], text, MIN_CONTRAST) or colour


class Background:
    """Draws one background plan; precomputes everything random and every costly pattern once per clip.

    skia's raster gradients, noise and filtered image shaders cost more per frame here than all the
    letters. So every pattern background is a tileable RGBA tile built once in
    numpy (periodic in the frame size along an integer lattice direction); a frame is a slice of
    the doubled tile at an integer offset, copied straight into the surface's pixels (~0.05 ms).
    """

    def __init__(self, plan: BackgroundPlan, size: int, text: tuple[int, int, int] | None = None):
        self.plan, self.size = plan, size
        rng = np.random.default_rng(plan.seed)
        self.alt = second_tone(plan.colour, text)
        base, alt = np.array(plan.colour, np.float32), np.array(self.alt, np.float32)
        a, b = _lattice(plan.angle)
        self.step = np.array([a, b], float) / np.hypot(a, b)  # unit drift direction
        if plan.kind in PATTERNS:
            self.period = size / 8
            if plan.kind == "stripes":
                self.period = size / (max(1, int(round(8 / np.hypot(a, b)))) * np.hypot(a, b))
            # Colour the cached 0..255 weight tile through a 256-entry palette ramp base → alt, one
            # RGBA pixel per uint32 (a 4x cheaper gather than per channel), then double it so any
            # scroll offset is one slice: tile2 (2H, 2W, 4) uint8.
            ramp = np.linspace(0.0, 1.0, 256, dtype=np.float32)[:, None]
            lut = np.concatenate([np.rint(base + (alt - base) * ramp), np.full((256, 1), 255.0, np.float32)], 1)
            key = (plan.kind, 0, 0, size, plan.seed % NOISE_TILES) if plan.kind == "noise" else (plan.kind, a, b, size, 0)
            rgba32 = lut.astype(np.uint8).view(np.uint32)[:, 0][pattern_weight(*key)]  # (H, W)
            self.tile2 = np.tile(rgba32, (2, 2)).view(np.uint8).reshape(2 * size, 2 * size, 4)
        if plan.kind == "particles":
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

    @property
    def static(self) -> bool:
        """True when every frame of this background is the same picture."""
        return self.plan.kind == "solid" or self.plan.speed == 0.0

    def draw(self, canvas: skia.Canvas, pixels: np.ndarray, t: float) -> None:
        """Draw the background at clip time ``t``; ``pixels`` ``(H, W, 4)`` is the canvas's own memory."""
        p, s = self.plan, float(self.size)
        if p.kind in PATTERNS:
            speed = 2 * self.period / s if p.kind == "stripes" else (0.5 if p.kind == "gradient-drift" else 0.4)
            ox, oy = np.rint(-self.step * s * speed * p.speed * t).astype(int) % self.size
            pixels[...] = self.tile2[oy:oy + self.size, ox:ox + self.size]
            return
        canvas.clear(_c(p.colour))
        d = self.step
        paint = skia.Paint(AntiAlias=True)
        if p.kind == "particles":
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
        # amount 0.1 shakes by up to 1% of the frame: a handheld jitter, not an earthquake.
        m.setTranslate(float((noise[0] * 2 - 1) * 0.1 * a * s), float((noise[1] * 2 - 1) * 0.1 * a * s))
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
        "stripes": (f"a {colour_name} background with diagonal stripes" if all(_lattice(plan.angle)) else f"a {colour_name} striped background",
                    f"the stripes {speed} scroll"),
        "particles": (f"a {colour_name} background with small dots", f"the dots {speed} float across"),
        "shapes": (f"a {colour_name} background with large translucent shapes", f"the shapes {speed} drift and turn"),
        "noise": (f"a grainy {colour_name} textured background", f"the grain {speed} flows"),
        "grid": (f"a {colour_name} background with a grid", f"the grid {speed} slides"),
    }[plan.kind]
