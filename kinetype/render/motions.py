"""Motion kinds: the per-letter animators templates name, one function each, in a plain registry.

Every motion has the same signature ``fn(a, p, ctx) -> {channel: array}``:

* ``a`` — ``(T, N)`` float, one value per frame and letter.
  For *transitions* (used as enter or exit) ``a`` is the displacement from rest: 0 = at rest,
  1 = fully away (before an entrance / after an exit). Easings with overshoot (back, elastic,
  spring) push ``a`` below 0, so letters overshoot their rest pose for free.
  For *emphasis* motions ``a`` is the eased progress 0 → 1 through the emphasis window; the
  function must return to rest at both ends (the :func:`_env` envelope does that).
* ``p`` — the sampled parameters (names and ranges declared in :class:`ParamSpec`).
* ``ctx`` — per-letter facts (count, index, randoms, noise) in :class:`MotionContext`.

The returned channels are *deltas* combined by :mod:`kinetype.render.animation`: positions,
rotation, skew, blur, tracking, colour, weight, warp, melt, chroma, scramble and font switch add;
``sx``, ``sy``, ``opacity`` and ``reveal`` multiply. Positions are in frame units (1.0 = frame
width), rotation in degrees, blur/weight/tracking/warp/melt in em (the fitted font size).
This module is pure numpy: the render side never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

# Channel names and how they combine across phases.
ADDITIVE = ("x", "y", "rot", "skew", "blur", "track", "color", "weight", "warp", "melt", "chroma", "scramble", "font_alt")
MULTIPLICATIVE = ("sx", "sy", "opacity", "reveal")
CHANNELS = ADDITIVE + MULTIPLICATIVE
CHANGE_KINDS = ("position", "size", "glyph")


@dataclass(frozen=True)
class ParamSpec:
    """One motion parameter: allowed bounds (for validation) and the default when a template omits it."""

    lo: float
    hi: float
    default: float
    help: str = ""


@dataclass(frozen=True)
class MotionContext:
    """What a motion may know about the letters. Shapes: N letters, T frames."""

    n: int
    index: np.ndarray  # (N,) 0..N-1 in word order
    rand: np.ndarray  # (N, 4) uniform [0, 1), fixed per letter for the clip
    noise: np.ndarray  # (T, N, 4) uniform [0, 1), fresh per frame (jitter, glitch, flicker)
    em: float  # fitted font size as a fraction of the frame width


Params = Mapping[str, float]
MotionFn = Callable[[np.ndarray, Params, MotionContext], dict]


@dataclass(frozen=True)
class Motion:
    name: str
    kind: str  # "transition" or "emphasis"
    changes: tuple[str, ...]  # subset of CHANGE_KINDS: what the paper calls position/size/glyph change
    params: Mapping[str, ParamSpec]
    fn: MotionFn
    phrase: Callable[[Params, str], str]  # (params, phase) -> verb phrase for the dynamic caption


MOTIONS: dict[str, Motion] = {}


def motion(name: str, kind: str, changes: tuple[str, ...], phrase, **params: ParamSpec):
    """Register ``fn`` under ``name``."""

    def deco(fn: MotionFn) -> MotionFn:
        MOTIONS[name] = Motion(name, kind, changes, dict(params), fn, phrase)
        return fn

    return deco


# --- helpers ----------------------------------------------------------------------------------


def _env(a: np.ndarray) -> np.ndarray:
    """Emphasis envelope: 0 at a=0 and a=1, flat 1 in the middle (so emphasis returns to rest)."""
    return np.clip(np.sin(np.pi * np.clip(a, 0.0, 1.0)) * 3.0, 0.0, 1.0)


def _fade(a: np.ndarray, amount: float) -> np.ndarray:
    """Opacity falling from 1 at rest to 1-amount when fully away."""
    return np.clip(1.0 - amount * np.clip(a, 0.0, 1.0), 0.0, 1.0)


def direction_name(angle_deg: float) -> str:
    """Compass words for the side letters come from (transition angle, 0 = right, 90 = top)."""
    names = ["the right", "the top right", "the top", "the top left", "the left", "the bottom left", "the bottom", "the bottom right"]
    return names[int(np.round((angle_deg % 360) / 45.0)) % 8]


def _io(phase: str, enter: str, exit: str, emphasis: str = "") -> str:
    return {"enter": enter, "exit": exit}.get(phase, emphasis or enter)


# --- transitions: position change -------------------------------------------------------------


@motion("fly", "transition", ("position",),
        lambda p, ph: _io(ph, f"fly in from {direction_name(p['angle'])}", f"fly out towards {direction_name(p['angle'])}"),
        angle=ParamSpec(0, 360, 180, "side the letters come from / leave to, degrees (0 right, 90 top)"),
        distance=ParamSpec(0.05, 2.0, 0.8, "travel in frame widths"),
        fade=ParamSpec(0, 1, 0.0, "opacity lost when fully away"))
def _fly(a, p, ctx):
    th = np.deg2rad(p["angle"])
    return {"x": np.cos(th) * p["distance"] * a, "y": -np.sin(th) * p["distance"] * a, "opacity": _fade(a, p["fade"])}


@motion("scatter", "transition", ("position",),
        lambda p, ph: _io(ph, "gather from scattered positions", "scatter in all directions"),
        distance=ParamSpec(0.1, 1.5, 0.6), spin=ParamSpec(0, 2, 0.5, "turns of random spin"), fade=ParamSpec(0, 1, 1.0))
def _scatter(a, p, ctx):
    th = 2 * np.pi * ctx.rand[:, 0]
    r = p["distance"] * (0.5 + 0.5 * ctx.rand[:, 1])
    return {"x": np.cos(th) * r * a, "y": np.sin(th) * r * a,
            "rot": 360 * p["spin"] * (ctx.rand[:, 2] * 2 - 1) * a, "opacity": _fade(a, p["fade"])}


@motion("orbit", "transition", ("position",),
        lambda p, ph: _io(ph, "spiral in from an orbit", "spiral away on an orbit"),
        radius=ParamSpec(0.05, 1.0, 0.4), turns=ParamSpec(0.25, 3, 1.0), fade=ParamSpec(0, 1, 1.0))
def _orbit(a, p, ctx):
    phi = 2 * np.pi * (p["turns"] * a + ctx.index / max(ctx.n, 1))
    r = p["radius"] * a
    return {"x": r * np.cos(phi), "y": r * np.sin(phi), "opacity": _fade(a, p["fade"])}


@motion("roll", "transition", ("position",),
        lambda p, ph: _io(ph, f"roll in from {direction_name(p['angle'])}", f"roll away towards {direction_name(p['angle'])}"),
        angle=ParamSpec(0, 360, 180), distance=ParamSpec(0.05, 1.5, 0.6), fade=ParamSpec(0, 1, 0.5))
def _roll(a, p, ctx):
    th = np.deg2rad(p["angle"])
    # A letter of width ~0.6 em rolling on its side turns 360° per pi*0.6 em of travel.
    turns = p["distance"] / (np.pi * 0.6 * ctx.em)
    sign = -1.0 if np.cos(th) < 0 else 1.0
    return {"x": np.cos(th) * p["distance"] * a, "y": -np.sin(th) * p["distance"] * a,
            "rot": sign * 360 * turns * a, "opacity": _fade(a, p["fade"])}


@motion("swing", "transition", ("position",),
        lambda p, ph: _io(ph, "swing into place", "swing away"),
        angle=ParamSpec(-180, 180, 90, "degrees of swing"), drop=ParamSpec(0, 0.5, 0.05), fade=ParamSpec(0, 1, 1.0))
def _swing(a, p, ctx):
    return {"rot": p["angle"] * a, "y": p["drop"] * a, "opacity": _fade(a, p["fade"])}


@motion("wave-in", "transition", ("position",),
        lambda p, ph: _io(ph, "ripple in along a wave", "ripple out along a wave"),
        amplitude=ParamSpec(0.02, 0.8, 0.25), phase=ParamSpec(0.1, 3.0, 0.8, "radians between neighbours"), fade=ParamSpec(0, 1, 1.0))
def _wave_in(a, p, ctx):
    return {"y": p["amplitude"] * np.sin(ctx.index * p["phase"] + 1.0) * a, "opacity": _fade(a, p["fade"])}


@motion("tumble", "transition", ("position",),
        lambda p, ph: _io(ph, "tumble down into place", "tumble and fall away"),
        distance=ParamSpec(0.1, 1.5, 0.7), turns=ParamSpec(0.1, 2, 0.5), fade=ParamSpec(0, 1, 0.0))
def _tumble(a, p, ctx):
    s = np.where(ctx.index % 2 == 0, 1.0, -1.0)
    return {"y": -p["distance"] * a, "x": 0.08 * s * a, "rot": 360 * p["turns"] * s * a, "opacity": _fade(a, p["fade"])}


# --- transitions: size change -----------------------------------------------------------------


@motion("pop", "transition", ("size",),
        lambda p, ph: _io(ph, "pop up out of nothing", "shrink away to nothing"),
        fade=ParamSpec(0, 1, 0.0))
def _pop(a, p, ctx):
    s = np.maximum(1.0 - a, 0.0)
    return {"sx": s, "sy": s, "opacity": _fade(a, p["fade"])}


@motion("zoom", "transition", ("size",),
        lambda p, ph: _io(ph, "zoom in from " + ("far away" if p["scale"] < 1 else "huge"), "zoom out to " + ("a dot" if p["scale"] < 1 else "fill the screen")),
        scale=ParamSpec(0.0, 8.0, 3.0, "scale when fully away"), fade=ParamSpec(0, 1, 1.0))
def _zoom(a, p, ctx):
    s = np.maximum(1.0 + (p["scale"] - 1.0) * a, 0.0)
    return {"sx": s, "sy": s, "opacity": _fade(a, p["fade"])}


@motion("stretch", "transition", ("size",),
        lambda p, ph: _io(ph, ("stretch up from a line" if p["axis"] < 0.5 else "stretch open sideways"), ("squash flat" if p["axis"] < 0.5 else "squeeze shut sideways")),
        axis=ParamSpec(0, 1, 0, "0 vertical, 1 horizontal"), amount=ParamSpec(0.2, 1.0, 1.0), fade=ParamSpec(0, 1, 0.0))
def _stretch(a, p, ctx):
    s = np.maximum(1.0 - p["amount"] * a, 0.0)
    one = np.ones_like(a)
    return {"sy": s if p["axis"] < 0.5 else one, "sx": one if p["axis"] < 0.5 else s, "opacity": _fade(a, p["fade"])}


@motion("flip", "transition", ("size",),
        lambda p, ph: _io(ph, "flip in like cards", "flip over and vanish"),
        axis=ParamSpec(0, 1, 0, "0 around the vertical axis, 1 around the horizontal axis"), turns=ParamSpec(0.25, 2.25, 0.25))
def _flip(a, p, ctx):
    c = np.cos(2 * np.pi * p["turns"] * np.clip(a, 0, None))
    one = np.ones_like(a)
    s = np.abs(c)
    return {"sx": s if p["axis"] < 0.5 else one, "sy": one if p["axis"] < 0.5 else s}


@motion("spin", "transition", ("position", "size"),
        lambda p, ph: _io(ph, "spin in while growing", "spin away while shrinking"),
        turns=ParamSpec(-3, 3, 1.0), shrink=ParamSpec(0, 1, 1.0), fade=ParamSpec(0, 1, 0.5))
def _spin(a, p, ctx):
    s = np.maximum(1.0 - p["shrink"] * a, 0.0)
    return {"rot": 360 * p["turns"] * a, "sx": s, "sy": s, "opacity": _fade(a, p["fade"])}


# --- transitions: glyph change ----------------------------------------------------------------


@motion("fade", "transition", (),
        lambda p, ph: _io(ph, "fade in", "fade out"))
def _fade_motion(a, p, ctx):
    return {"opacity": _fade(a, 1.0)}


@motion("typewriter", "transition", ("glyph",),
        lambda p, ph: _io(ph, "appear one at a time as if typed", "disappear one at a time as if deleted"))
def _typewriter(a, p, ctx):
    return {"opacity": (a < 0.5).astype(float)}


@motion("write-on", "transition", ("glyph",),
        lambda p, ph: _io(ph, "write themselves on stroke by stroke", "unwrite stroke by stroke"))
def _write_on(a, p, ctx):
    return {"reveal": np.clip(1.0 - a, 0.0, 1.0)}


def _glyph_amount(name: str, channel: str, enter: str, exit: str, amount: ParamSpec, fade: float) -> None:
    """Register a transition that sets one glyph channel to ``amount`` (scaled by a) while fading."""

    def fn(a, p, ctx):
        return {channel: p["amount"] * np.clip(a, 0, None), "opacity": _fade(a, p["fade"])}

    motion(name, "transition", ("glyph",), lambda p, ph: _io(ph, enter, exit),
           amount=amount, fade=ParamSpec(0, 1, fade))(fn)


_glyph_amount("blur", "blur", "sharpen into focus out of a blur", "blur out of focus",
              ParamSpec(0.02, 0.5, 0.15, "blur radius in em"), 0.8)
_glyph_amount("weight", "weight", "slim down from heavy bold strokes", "swell into heavy bold strokes",
              ParamSpec(0.01, 0.15, 0.08, "extra stroke weight in em"), 0.3)
_glyph_amount("melt", "melt", "un-melt from dripping puddles", "melt and drip away",
              ParamSpec(0.1, 1.5, 0.8, "drip length in em"), 1.0)
_glyph_amount("warp", "warp", "unwarp from a wavy distortion", "warp into a wavy distortion",
              ParamSpec(0.02, 0.6, 0.25, "slice offset in em"), 0.8)


@motion("decode", "transition", ("glyph",),
        lambda p, ph: _io(ph, "decode from scrambled random letters", "scramble into random letters"),
        fade=ParamSpec(0, 1, 0.3))
def _decode(a, p, ctx):
    # Keep scrambling until the letter has nearly settled, so the final pose is the real glyph.
    return {"scramble": (a > 0.15).astype(float), "opacity": _fade(a, p["fade"])}


@motion("font-switch", "transition", ("glyph",),
        lambda p, ph: _io(ph, "cycle through different typefaces before settling", "cycle through different typefaces and vanish"),
        fonts=ParamSpec(1, 3, 3, "how many other typefaces to cycle through"))
def _font_switch(a, p, ctx):
    k = int(round(p["fonts"]))
    alt = np.ceil(np.clip(a, 0, 1) * k * 2) % (k + 1)  # cycles 0..k while away, 0 at rest
    return {"font_alt": np.where(a > 0.02, np.maximum(alt, 1), 0.0), "opacity": _fade(a, 0.4)}


@motion("tracking", "transition", ("position",),
        lambda p, ph: _io(ph, ("converge from wide letter spacing" if p["amount"] > 0 else "expand from tightly squeezed spacing"),
                          ("spread apart into wide letter spacing" if p["amount"] > 0 else "squeeze together")),
        amount=ParamSpec(-0.5, 3.0, 1.0, "extra spacing between letters in em"), fade=ParamSpec(0, 1, 1.0))
def _tracking(a, p, ctx):
    return {"track": p["amount"] * a, "opacity": _fade(a, p["fade"])}


@motion("skew", "transition", ("position", "glyph"),
        lambda p, ph: _io(ph, f"slide in slanted from {direction_name(180 if p['distance'] > 0 else 0)} and straighten",
                          f"slant and slide out towards {direction_name(180 if p['distance'] > 0 else 0)}"),
        amount=ParamSpec(-1.5, 1.5, 0.6, "horizontal skew"), distance=ParamSpec(-1.5, 1.5, 0.6), fade=ParamSpec(0, 1, 1.0))
def _skew(a, p, ctx):
    return {"skew": p["amount"] * a, "x": -p["distance"] * a, "opacity": _fade(a, p["fade"])}


@motion("glitch", "transition", ("position", "glyph"),
        lambda p, ph: _io(ph, "glitch in with digital jitter and colour splits", "glitch out with digital jitter and colour splits"),
        amount=ParamSpec(0.005, 0.2, 0.05, "jitter in frame widths"))
def _glitch(a, p, ctx):
    on = np.clip(a, 0, 1)
    jump = (ctx.noise[..., 0] > 0.5) * (ctx.noise[..., 1] * 2 - 1)
    return {"x": p["amount"] * jump * on, "chroma": 0.08 * on, "scramble": (ctx.noise[..., 2] < 0.35 * on).astype(float),
            "opacity": np.where(ctx.noise[..., 3] < 0.5 * on, 0.0, 1.0)}


@motion("colour-flash", "transition", (),
        lambda p, ph: _io(ph, "flash in from the accent colour", "flash to the accent colour and fade"))
def _colour_flash(a, p, ctx):
    return {"color": np.clip(a * 2, 0, 1), "opacity": _fade(a, 1.0) ** 0.5}


# --- emphasis ---------------------------------------------------------------------------------


def _emph(phrase: str):
    return lambda p, ph: phrase


@motion("wave", "emphasis", ("position",), _emph("ripple up and down in a wave"),
        amplitude=ParamSpec(0.01, 0.3, 0.08), cycles=ParamSpec(0.5, 6, 2), phase=ParamSpec(0.1, 3.0, 0.7))
def _wave(a, p, ctx):
    return {"y": p["amplitude"] * np.sin(2 * np.pi * p["cycles"] * a - ctx.index * p["phase"]) * _env(a)}


@motion("hop", "emphasis", ("position",), _emph("hop up and land"),
        height=ParamSpec(0.01, 0.4, 0.1), hops=ParamSpec(1, 5, 1))
def _hop(a, p, ctx):
    return {"y": -p["height"] * np.abs(np.sin(np.pi * round(p["hops"]) * np.clip(a, 0, 1)))}


@motion("pulse", "emphasis", ("size",), _emph("pulse bigger and back"),
        amount=ParamSpec(0.03, 0.8, 0.2), beats=ParamSpec(1, 6, 2))
def _pulse(a, p, ctx):
    s = 1.0 + p["amount"] * np.sin(np.pi * round(p["beats"]) * np.clip(a, 0, 1)) ** 2
    return {"sx": s, "sy": s}


@motion("shake", "emphasis", ("position",), _emph("shake side to side"),
        amplitude=ParamSpec(0.005, 0.1, 0.02), frequency=ParamSpec(1, 12, 6))
def _shake(a, p, ctx):
    return {"x": p["amplitude"] * np.sin(2 * np.pi * p["frequency"] * a + 2 * np.pi * ctx.rand[:, 3]) * _env(a)}


@motion("jitter", "emphasis", ("position",), _emph("jitter nervously"),
        amplitude=ParamSpec(0.002, 0.06, 0.015))
def _jitter(a, p, ctx):
    e = _env(a)
    return {"x": p["amplitude"] * (ctx.noise[..., 0] * 2 - 1) * e, "y": p["amplitude"] * (ctx.noise[..., 1] * 2 - 1) * e,
            "rot": 6 * (ctx.noise[..., 2] * 2 - 1) * e}


@motion("wobble", "emphasis", ("position",), _emph("wobble from side to side"),
        angle=ParamSpec(2, 45, 12), cycles=ParamSpec(0.5, 6, 2))
def _wobble(a, p, ctx):
    return {"rot": p["angle"] * np.sin(2 * np.pi * p["cycles"] * a) * _env(a)}


@motion("jelly", "emphasis", ("size",), _emph("squash and stretch like jelly"),
        amount=ParamSpec(0.05, 0.6, 0.25), cycles=ParamSpec(0.5, 6, 2))
def _jelly(a, p, ctx):
    w = p["amount"] * np.sin(2 * np.pi * p["cycles"] * a) * _env(a)
    return {"sx": 1.0 + w, "sy": 1.0 / (1.0 + w)}


@motion("float", "emphasis", ("position",), _emph("float gently up and down"),
        amplitude=ParamSpec(0.005, 0.15, 0.04), cycles=ParamSpec(0.25, 3, 1))
def _float(a, p, ctx):
    ph = 2 * np.pi * ctx.rand[:, 0]
    return {"y": p["amplitude"] * np.sin(2 * np.pi * p["cycles"] * a + ph) * _env(a),
            "x": 0.3 * p["amplitude"] * np.cos(2 * np.pi * p["cycles"] * a + ph) * _env(a)}


@motion("spin-around", "emphasis", ("position",), _emph("spin all the way around"),
        turns=ParamSpec(-3, 3, 1))
def _spin_around(a, p, ctx):
    return {"rot": 360 * round(p["turns"]) * np.clip(a, 0, 1)}


@motion("flip-around", "emphasis", ("size",), _emph("flip around like a coin"),
        turns=ParamSpec(1, 3, 1), axis=ParamSpec(0, 1, 0))
def _flip_around(a, p, ctx):
    s = np.cos(2 * np.pi * round(p["turns"]) * np.clip(a, 0, 1))
    one = np.ones_like(a)
    return {"sx": s if p["axis"] < 0.5 else one, "sy": one if p["axis"] < 0.5 else s}


@motion("heartbeat", "emphasis", ("size",), _emph("beat like a heart"),
        amount=ParamSpec(0.05, 0.5, 0.18), beats=ParamSpec(1, 4, 2))
def _heartbeat(a, p, ctx):
    u = (round(p["beats"]) * np.clip(a, 0, 1)) % 1.0
    bump = np.exp(-((u - 0.2) / 0.07) ** 2) + 0.6 * np.exp(-((u - 0.45) / 0.07) ** 2)
    s = 1.0 + p["amount"] * bump * _env(a)
    return {"sx": s, "sy": s}


@motion("weight-pulse", "emphasis", ("glyph",), _emph("swell bolder and slim back"),
        amount=ParamSpec(0.01, 0.12, 0.05), beats=ParamSpec(1, 4, 1))
def _weight_pulse(a, p, ctx):
    return {"weight": p["amount"] * np.sin(np.pi * round(p["beats"]) * np.clip(a, 0, 1)) ** 2}


@motion("flicker", "emphasis", (), _emph("flicker like a failing neon sign"),
        rate=ParamSpec(0.05, 0.6, 0.25), depth=ParamSpec(0.3, 1.0, 0.8))
def _flicker(a, p, ctx):
    off = (ctx.noise[..., 0] < p["rate"]) * _env(a)
    return {"opacity": 1.0 - p["depth"] * off}


@motion("colour-cycle", "emphasis", (), _emph("shift to the accent colour and back"),
        beats=ParamSpec(1, 4, 1))
def _colour_cycle(a, p, ctx):
    return {"color": np.sin(np.pi * round(p["beats"]) * np.clip(a, 0, 1)) ** 2}


@motion("glitch-hold", "emphasis", ("position", "glyph"), _emph("glitch with jitter and colour splits"),
        amount=ParamSpec(0.005, 0.15, 0.04), rate=ParamSpec(0.05, 0.6, 0.25))
def _glitch_hold(a, p, ctx):
    e = _env(a)
    hit = (ctx.noise[..., 0] < p["rate"]) * e
    return {"x": p["amount"] * hit * (ctx.noise[..., 1] * 2 - 1), "chroma": 0.06 * hit,
            "scramble": ((ctx.noise[..., 2] < 0.5 * p["rate"]) * e > 0.5).astype(float)}


@motion("breathe", "emphasis", ("position",), _emph("breathe their spacing in and out"),
        amount=ParamSpec(0.05, 1.0, 0.3), beats=ParamSpec(1, 3, 1))
def _breathe(a, p, ctx):
    return {"track": p["amount"] * np.sin(np.pi * round(p["beats"]) * np.clip(a, 0, 1)) ** 2}


@motion("wave-warp", "emphasis", ("glyph",), _emph("warp with a rippling distortion"),
        amount=ParamSpec(0.02, 0.4, 0.12), cycles=ParamSpec(0.5, 5, 2))
def _wave_warp(a, p, ctx):
    return {"warp": p["amount"] * np.abs(np.sin(2 * np.pi * p["cycles"] * a)) * _env(a)}


@motion("drip", "emphasis", ("glyph",), _emph("drip downwards and recover"),
        amount=ParamSpec(0.05, 1.0, 0.4))
def _drip(a, p, ctx):
    return {"melt": p["amount"] * np.sin(np.pi * np.clip(a, 0, 1)) ** 2}


@motion("stretch-pulse", "emphasis", ("size",), _emph("stretch tall and settle"),
        amount=ParamSpec(0.05, 1.0, 0.35), axis=ParamSpec(0, 1, 0), beats=ParamSpec(1, 4, 1))
def _stretch_pulse(a, p, ctx):
    s = 1.0 + p["amount"] * np.sin(np.pi * round(p["beats"]) * np.clip(a, 0, 1)) ** 2
    one = np.ones_like(a)
    return {"sy": s if p["axis"] < 0.5 else one, "sx": one if p["axis"] < 0.5 else s}


@motion("sway", "emphasis", ("glyph",), _emph("sway their slant back and forth"),
        amount=ParamSpec(0.05, 0.8, 0.3), cycles=ParamSpec(0.5, 4, 1))
def _sway(a, p, ctx):
    return {"skew": p["amount"] * np.sin(2 * np.pi * p["cycles"] * a) * _env(a)}


@motion("focus-pulse", "emphasis", ("glyph",), _emph("go soft and sharpen again"),
        amount=ParamSpec(0.01, 0.3, 0.08))
def _focus_pulse(a, p, ctx):
    return {"blur": p["amount"] * np.sin(np.pi * np.clip(a, 0, 1)) ** 2}


@motion("font-cycle", "emphasis", ("glyph",), _emph("cycle through different typefaces"),
        fonts=ParamSpec(1, 3, 3), rate=ParamSpec(1, 4, 2, "switches per letter window, times fonts"))
def _font_cycle(a, p, ctx):
    k = int(round(p["fonts"]))
    step = np.floor(np.clip(a, 0, 1) * k * round(p["rate"]) + 1) % (k + 1)
    inside = (a > 0.08) & (a < 0.92)
    return {"font_alt": np.where(inside, np.maximum(step, 1), 0.0)}


@motion("rotate-hold", "emphasis", ("position",), _emph("tilt and straighten"),
        angle=ParamSpec(-60, 60, 15))
def _rotate_hold(a, p, ctx):
    return {"rot": p["angle"] * np.sin(np.pi * np.clip(a, 0, 1)) ** 2}
