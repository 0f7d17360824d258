"""Drawing: one skia raster pass per frame for colour, one aliased pass for the instance mask.

Both passes place each letter with the same matrix, so masks and pixels agree by construction.
The mask pass writes letter k's index into an A8 surface with the ``kSrc`` blend and no
anti-aliasing: a per-letter instance map where a later letter wins where letters overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import skia

from kinetype.render.animation import Tracks
from kinetype.render.layout import Layout, transformed
from kinetype.render.palettes import COLOURS, shade
from kinetype.render.scene import Background, CameraPlan, camera_matrix
from kinetype.render.style import StylePlan, colour, fill_shader, glow_colour, long_shadow_colour

HAIRLINE_EM_PX = 48.0  # below this font size the mask pass adds 1-pixel hairlines around each letter
VISIBLE = 0.5  # a letter counts in masks and boxes when its opacity (× reveal) is at least this
WARP_BANDS = 8


@dataclass
class Glyphs:
    """Outlines a frame may need: the word's own letters plus substitutes (scramble, font switch)."""

    base: tuple[skia.Path, ...]  # (N,) the real letters, pivot at origin
    scramble: list[list[skia.Path]]  # [N][K] random other letters, same font and size
    alternates: list[list[skia.Path]]  # [A][N] the same letter in alternative fonts

    def pick(self, i: int, frame: int, scramble: float, font_alt: float) -> skia.Path:
        k = int(round(font_alt))
        if k > 0 and self.alternates:
            return self.alternates[(k - 1) % len(self.alternates)][i]
        if scramble >= 0.5 and self.scramble[i]:
            return self.scramble[i][frame % len(self.scramble[i])]
        return self.base[i]


def letter_matrix(layout: Layout, c: dict[str, list[float]], i: int, size: int) -> skia.Matrix:
    """Rest pivot + offsets, then rotate, skew and scale about the pivot. ``c``: one frame's channel rows."""
    n = len(layout.paths)
    track_px = c["track"][i] * layout.em_px * (i - (n - 1) / 2.0)
    px, py = layout.pivot_list[i]
    m = skia.Matrix.Translate(px + c["x"][i] * size + track_px, py + c["y"][i] * size)
    m.preRotate(c["rot"][i])
    if c["skew"][i] != 0.0:
        m.preSkew(-c["skew"][i], 0.0)
    m.preScale(c["sx"][i], c["sy"][i])
    return m


def _draw_shape(canvas: skia.Canvas, path: skia.Path, paint: skia.Paint, warp: float, melt: float, em_px: float,
                phase: float) -> None:
    """Draw ``path`` with the glyph distortions: ``warp`` shifts horizontal bands along a sine,
    ``melt`` smears the lower part of the glyph downwards like dripping paint (both in em)."""
    if warp < 1e-3 and melt < 1e-3:
        canvas.drawPath(path, paint)
        return
    b = path.computeTightBounds()
    if warp >= 1e-3:
        h = b.height() / WARP_BANDS
        for j in range(WARP_BANDS):
            canvas.save()
            canvas.clipRect(skia.Rect(b.left() - em_px, b.top() + j * h, b.right() + em_px, b.top() + (j + 1) * h + 0.5))
            canvas.translate(float(warp * em_px * np.sin(2 * np.pi * (j / WARP_BANDS * 1.5 + phase))), 0.0)
            canvas.drawPath(path, paint)
            canvas.restore()
    else:
        canvas.drawPath(path, paint)
    if melt >= 1e-3:
        top = b.top() + 0.55 * b.height()
        steps = 6
        for k in range(1, steps + 1):
            canvas.save()
            dy = melt * em_px * k / steps
            canvas.clipRect(skia.Rect(b.left() - em_px, top + dy, b.right() + em_px, b.bottom() + dy + 1))
            canvas.translate(0.0, float(dy))
            canvas.drawPath(path, paint)
            canvas.restore()


def letter_phases(seed: int, n: int) -> np.ndarray:
    """(N,) per-letter phase of the warp bands, shared by the colour and the mask pass."""
    return np.random.default_rng(seed).random(n)


class FramePainter:
    """Draws frames of one clip. Holds the per-clip paints and shaders (built once)."""

    def __init__(self, layout: Layout, glyphs: Glyphs, style: StylePlan, background: Background,
                 camera: CameraPlan, seed: int):
        self.layout, self.glyphs, self.style = layout, glyphs, style
        self.background, self.camera = background, camera
        size = layout.size
        self.size = size
        pal = style.palette
        self.text_rgb = COLOURS[pal.text]
        self.accent_rgb = COLOURS[pal.accent]
        self.bg_rgb = COLOURS[pal.background]
        em = layout.em_px
        self.shader = fill_shader(style, em, seed)
        self.outline_w = max(1.0, 0.035 * em)
        self.letter_phase = letter_phases(seed, len(layout.paths))

    # -- colour pass ------------------------------------------------------------------------

    def _fill_paint(self, opacity: float, color_mix: float, blur: float, weight: float) -> skia.Paint:
        paint = skia.Paint(AntiAlias=True)
        paint.setColor(colour(self.text_rgb, opacity))
        if self.shader is not None:
            paint.setShader(self.shader)
            paint.setAlphaf(opacity)
        if color_mix > 0.01:
            paint.setColorFilter(skia.ColorFilters.Blend(colour(self.accent_rgb, color_mix), skia.BlendMode.kSrcATop))
        if blur > 0.002:
            paint.setMaskFilter(skia.MaskFilter.MakeBlur(skia.kNormal_BlurStyle, float(blur * self.layout.em_px)))
        if weight > 1e-3:
            paint.setStyle(skia.Paint.kStrokeAndFill_Style)
            paint.setStrokeWidth(float(2 * weight * self.layout.em_px))
            paint.setStrokeJoin(skia.Paint.kRound_Join)
        return paint

    def _behind(self, canvas, path, m, c, f, i, opacity) -> None:
        """Effects drawn under every fill: shadows, extrusion, glow."""
        em, eff = self.layout.em_px, self.style.effect
        warp, melt, ph = c["warp"][i], c["melt"][i], self.letter_phase[i]
        canvas.save()
        if eff in ("shadow", "long-shadow", "extrude"):
            p = skia.Paint(AntiAlias=True)
            if eff == "shadow":
                p.setColor(skia.Color(0, 0, 0, int(110 * opacity)))
                p.setMaskFilter(skia.MaskFilter.MakeBlur(skia.kNormal_BlurStyle, 0.04 * em))
                canvas.translate(0.05 * em, 0.06 * em)
                canvas.concat(m)
                _draw_shape(canvas, path, p, warp, melt, em, ph)
            else:
                dark = long_shadow_colour(self.style.palette) if eff == "long-shadow" else shade(self.text_rgb, -0.45)
                p.setColor(colour(dark, opacity))
                steps = 8 if eff == "long-shadow" else 5
                depth = (0.22 if eff == "long-shadow" else 0.08) * em
                for k in range(steps, 0, -1):
                    canvas.save()
                    canvas.translate(depth * k / steps, depth * k / steps)
                    canvas.concat(m)
                    _draw_shape(canvas, path, p, warp, melt, em, ph)
                    canvas.restore()
        elif eff == "glow":
            p = skia.Paint(AntiAlias=True)
            p.setColor(colour(glow_colour(self.style.palette)[0], 0.9 * opacity))
            p.setMaskFilter(skia.MaskFilter.MakeBlur(skia.kNormal_BlurStyle, 0.07 * em))
            p.setStyle(skia.Paint.kStrokeAndFill_Style)
            p.setStrokeWidth(0.05 * em)
            canvas.concat(m)
            _draw_shape(canvas, path, p, warp, melt, em, ph)
        canvas.restore()

    def _letter(self, canvas, path, m, c, f, i, opacity) -> None:
        """The letter itself: chroma split, fill (or write-on stroke), outline."""
        em, eff = self.layout.em_px, self.style.effect
        warp, melt, ph = c["warp"][i], c["melt"][i], self.letter_phase[i]
        reveal = c["reveal"][i]
        chroma = c["chroma"][i] + (0.03 if eff == "chroma" else 0.0)
        canvas.save()
        canvas.concat(m)
        if chroma > 1e-3:
            for rgb, sign in (((255, 40, 60), -1.0), ((40, 220, 255), 1.0)):
                p = skia.Paint(AntiAlias=True)
                p.setColor(colour(rgb, 0.85 * opacity))
                canvas.save()
                canvas.translate(sign * chroma * em, 0.0)
                _draw_shape(canvas, path, p, warp, melt, em, ph)
                canvas.restore()
        if reveal < 0.999:
            # Write-on: the outline is traced progressively, the fill fades in as it completes.
            stroke = skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style, StrokeWidth=max(1.0, 0.045 * em))
            stroke.setColor(colour(self.text_rgb, opacity))
            stroke.setStrokeCap(skia.Paint.kRound_Cap)
            stroke.setPathEffect(skia.TrimPathEffect.Make(0.0, float(max(reveal, 1e-4))))
            canvas.drawPath(path, stroke)
            fill_alpha = opacity * float(np.clip((reveal - 0.6) / 0.4, 0.0, 1.0))
        else:
            fill_alpha = opacity
        if fill_alpha > 1e-3:
            if eff == "hollow":
                p = skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style, StrokeWidth=self.outline_w * 1.3)
                p.setColor(colour(self.text_rgb, fill_alpha))
            else:
                p = self._fill_paint(fill_alpha, c["color"][i], c["blur"][i], c["weight"][i])
            _draw_shape(canvas, path, p, warp, melt, em, ph)
            if eff == "outline":
                o = skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style, StrokeWidth=self.outline_w)
                o.setColor(colour(self.accent_rgb, fill_alpha))
                _draw_shape(canvas, path, o, warp, melt, em, ph)
        canvas.restore()

    def paint_frame(self, tracks: Tracks, f: int, t: float, out: np.ndarray, cam_noise: np.ndarray,
                    text_layer: np.ndarray | None = None) -> None:
        """Draw frame ``f`` (clip time ``t``) into ``out`` ``(H, W, 4)`` uint8 RGBA (alpha ends up 255).

        skia draws into ``out``'s own memory; RGBA rather than RGB because that is skia's pixel
        format, and the clip's RGB frames are a strided view of these buffers (no copy).
        ``text_layer``: this frame's letters already drawn by :meth:`paint_text_layer`, composited
        over the background instead of drawing them again (held letters over a moving background).
        """
        surface = skia.Surface(out, colorType=skia.kRGBA_8888_ColorType, alphaType=skia.kPremul_AlphaType)
        canvas = surface.getCanvas()
        self.background.draw(canvas, out, t)
        if text_layer is None:
            self._paint_text(canvas, tracks, f, t, cam_noise)
        else:
            layer = skia.Image.fromarray(text_layer, colorType=skia.kRGBA_8888_ColorType,
                                         alphaType=skia.kPremul_AlphaType, copy=False)
            canvas.drawImage(layer, 0, 0)

    def paint_text_layer(self, tracks: Tracks, f: int, t: float, out: np.ndarray, cam_noise: np.ndarray) -> None:
        """The letters of frame ``f`` alone, into ``out`` ``(H, W, 4)`` uint8 premultiplied RGBA.
        Composited over a background this matches drawing them directly up to 8-bit rounding."""
        out[...] = 0
        surface = skia.Surface(out, colorType=skia.kRGBA_8888_ColorType, alphaType=skia.kPremul_AlphaType)
        self._paint_text(surface.getCanvas(), tracks, f, t, cam_noise)

    def _paint_text(self, canvas: skia.Canvas, tracks: Tracks, f: int, t: float, cam_noise: np.ndarray) -> None:
        canvas.save()
        canvas.concat(camera_matrix(self.camera, t, self.size, cam_noise))
        c = tracks.row(f)  # python floats: numpy scalar indexing in this loop cost more than drawing
        n = len(self.layout.paths)
        letters = []
        for i in range(n):
            opacity = c["opacity"][i]
            if opacity < 1 / 255:
                continue
            path = self.glyphs.pick(i, f, c["scramble"][i], c["font_alt"][i])
            letters.append((i, path, letter_matrix(self.layout, c, i, self.size), opacity))
        if self.style.effect in ("shadow", "long-shadow", "extrude", "glow"):
            for i, path, m, opacity in letters:
                self._behind(canvas, path, m, c, f, i, opacity)
        for i, path, m, opacity in letters:
            self._letter(canvas, path, m, c, f, i, opacity)
        canvas.restore()


class MaskPainter:
    """Draws the instance map and letter boxes of one clip's frames; needs no colours or background,
    so masks can be made without painting pixels."""

    def __init__(self, layout: Layout, glyphs: Glyphs, camera: CameraPlan, seed: int):
        self.layout, self.glyphs, self.camera = layout, glyphs, camera
        self.size = layout.size
        # The surface draws straight into a numpy buffer: no read-back copies.
        self.mask = np.zeros((self.size, self.size), np.uint8)
        self.mask_surface = skia.Surface(self.mask, colorType=skia.kAlpha_8_ColorType, alphaType=skia.kPremul_AlphaType)
        self.letter_phase = letter_phases(seed, len(layout.paths))

    def hairline_for(self, i: int) -> skia.Paint:
        p = skia.Paint(AntiAlias=False, Style=skia.Paint.kStroke_Style, StrokeWidth=0.0)
        p.setBlendMode(skia.BlendMode.kSrc)
        p.setColor(skia.Color(0, 0, 0, i + 1))
        return p

    def paint_mask(self, tracks: Tracks, f: int, t: float, out: np.ndarray, boxes: np.ndarray,
                   cam_noise: np.ndarray) -> None:
        """Instance map of frame ``f`` into ``out`` ``(H, W)`` uint8 and letter boxes into ``boxes`` ``(N, 4)``."""
        canvas = self.mask_surface.getCanvas()
        canvas.clear(skia.Color(0, 0, 0, 0))
        cam = camera_matrix(self.camera, t, self.size, cam_noise)
        canvas.save()
        canvas.concat(cam)
        c = tracks.row(f)
        em = self.layout.em_px
        frame = skia.Rect.MakeWH(self.size, self.size)
        paint = skia.Paint(AntiAlias=False)
        paint.setBlendMode(skia.BlendMode.kSrc)
        boxes[...] = np.nan
        for i in range(len(self.layout.paths)):
            if c["opacity"][i] * min(1.0, c["reveal"][i] / 0.6) < VISIBLE:
                continue
            path = self.glyphs.pick(i, f, c["scramble"][i], c["font_alt"][i])
            m = letter_matrix(self.layout, c, i, self.size)
            paint.setColor(skia.Color(0, 0, 0, i + 1))
            w = c["weight"][i]
            if w > 1e-3:
                paint.setStyle(skia.Paint.kStrokeAndFill_Style)
                paint.setStrokeWidth(2 * w * em)
            else:
                paint.setStyle(skia.Paint.kFill_Style)
            canvas.save()
            canvas.concat(m)
            _draw_shape(canvas, path, paint, c["warp"][i], c["melt"][i], em, self.letter_phase[i])
            if em < HAIRLINE_EM_PX:
                # Small letters: aliased fills drop strokes thinner than a pixel; a hairline keeps them.
                _draw_shape(canvas, path, self.hairline_for(i), c["warp"][i], c["melt"][i], em, self.letter_phase[i])
            canvas.restore()
            # Box: the transformed outline's tight bounds (grown by distortions), clipped to the frame.
            total = skia.Matrix.Concat(cam, m)
            b = transformed(path, total).computeTightBounds()
            grow = (w + c["warp"][i]) * em
            b = skia.Rect(b.left() - grow, b.top() - grow, b.right() + grow,
                          b.bottom() + grow + c["melt"][i] * em * float(np.hypot(total.getScaleY(), total.getSkewY())))
            if b.intersect(frame):
                boxes[i] = (b.left(), b.top(), b.right(), b.bottom())
        canvas.restore()
        out[...] = self.mask
