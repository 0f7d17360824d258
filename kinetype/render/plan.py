"""Planning a clip: template ranges → every concrete choice of one clip (:class:`ClipPlan`).

:func:`plan_phases` is the one phase planner. The engine calls it with the clip's seeded generator
(``Spec.sample``); the template signature, which proves no two templates move alike, and the
template authoring script call it with ``Spec.canonical``. So what the test compares is what the
engine draws.

Determinism: every random choice comes from numpy generators seeded by :func:`stable_seed` of
(template id, word, seed), split into independent streams for the plan, the animation and the
captions, so changing caption phrasing never changes a pixel.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from kinetype.errors import FontError
from kinetype.render.animation import PhasePlan
from kinetype.render.fonts import FontInfo, FontLibrary
from kinetype.render.motions import MOTIONS
from kinetype.render.palettes import COLOURS, sample_palette
from kinetype.render.scene import BackgroundPlan, CameraPlan, legible_backgrounds
from kinetype.render.style import StylePlan
from kinetype.render.schema import Spec, Template

Pick = Callable[[Spec], Any]  # chooses one value of a Spec: a seeded sample, or its canonical value


@dataclass(frozen=True)
class ClipPlan:
    """Every concrete choice of one clip; the clip carries it, and its metadata is :meth:`to_json`."""

    template_id: str
    word: str
    seed: int
    size: int
    num_frames: int
    fps: int
    phases: tuple[PhasePlan, ...]
    style: StylePlan  # holds the font (style.font_id)
    background: BackgroundPlan
    camera: CameraPlan

    def to_json(self) -> dict[str, Any]:
        """The plan as the ``plan`` entry of a clip's metadata: the same keys, order and values as in
        datasets already written, where ``font_id`` followed ``fps``."""
        fields = dataclasses.asdict(self)
        head = {k: fields.pop(k) for k in ("template_id", "word", "seed", "size", "num_frames", "fps")}
        return head | {"font_id": self.style.font_id} | fields


def stable_seed(*parts: object) -> int:
    """A 64-bit seed from values, identical across processes and Python versions (unlike hash())."""
    h = hashlib.blake2b(repr(parts).encode(), digest_size=8)
    return int.from_bytes(h.digest(), "little")


def plan_phases(template: Template, pick: Pick) -> tuple[PhasePlan, ...]:
    """The template's phases with concrete values, each chosen by ``pick``; times are fractions of the clip.

    The draw order (durations first, then each phase's easing, order, unit, overlap and parameters)
    is part of every render's seed stream: changing it changes every clip.
    """
    t = template
    d_in = float(pick(t.enter.duration)) if t.enter else 0.0
    d_out = float(pick(t.exit.duration)) if t.exit else 0.0
    windows = {"enter": (0.0, d_in), "exit": (1.0 - d_out, 1.0)}
    if t.emphasis:
        # Emphasis takes `duration` of the hold between entrance and exit, centred in it.
        lo, hi = d_in, 1.0 - d_out
        span = (hi - lo) * float(pick(t.emphasis.duration))
        mid = (lo + hi) / 2
        windows["emphasis"] = (mid - span / 2, mid + span / 2)
    return tuple(PhasePlan(phase=name, motion=spec.motion, start=windows[name][0], end=windows[name][1],
                           easing=pick(spec.easing), order=pick(spec.order), unit=pick(spec.unit),
                           overlap=float(pick(spec.overlap)), params={k: float(pick(v)) for k, v in spec.params})
                 for name, spec in t.phases())


def pick_font(lib: FontLibrary, classes: list[str], word: str, rng: np.random.Generator) -> FontInfo:
    """A font of one of ``classes``. Caps-only fonts are skipped for words with lowercase letters,
    so what is on screen always matches the word caption."""
    usable = [f for f in lib.fonts if not (f.caps_only and word != word.upper())]
    cls = classes[int(rng.integers(len(classes)))]
    pool = [f for f in usable if cls in f.classes] or [f for f in usable if set(classes) & set(f.classes)] or usable
    if not pool:
        raise FontError(f"no usable font for {word!r} in the font library")
    return pool[int(rng.integers(len(pool)))]


def plan_clip(template: Template, word: str, seed: int, size: int, num_frames: int, fps: int,
              lib: FontLibrary) -> ClipPlan:
    """Sample the concrete plan of one clip from the template's ranges."""
    rng = np.random.default_rng(stable_seed("plan", template.id, word, seed))
    s = template.style
    classes = list(s.fonts.all_values())
    font = pick_font(lib, classes, word, rng)
    phases = plan_phases(template, lambda spec: spec.sample(rng))
    # Font-switching motions declare a "fonts" parameter: how many other typefaces they cycle through.
    n_alt = max((int(round(p.params["fonts"])) for p in phases if "fonts" in MOTIONS[p.motion].params), default=0)
    others = [f for f in lib.fonts if f.family != font.family and not (f.caps_only and word != word.upper())]
    alts = tuple(others[int(i)].id for i in rng.choice(len(others), size=min(n_alt, len(others)), replace=False)) if n_alt else ()
    style = StylePlan(font_id=font.id, alt_font_ids=alts, palette=sample_palette(s.palette.sample(rng), rng),
                      fill=s.fill.sample(rng), effect=s.effect.sample(rng), motion_blur=bool(s.motion_blur.sample(rng)))
    # Among the template's backgrounds, those that leave these letters legible (one busy layer at a time).
    backgrounds = legible_backgrounds(s.background.all_values(), font_weight=font.weight, fill=style.fill,
                                      effect=style.effect)
    background = BackgroundPlan(kind=Spec(s.background.kind, backgrounds).sample(rng), colour=COLOURS[style.palette.background],
                                speed=float(s.background_speed.sample(rng)), angle=float(rng.choice([0, 30, 45, 90, 135, 150, 180, 270])),
                                seed=int(rng.integers(2**31)))
    camera = CameraPlan(kind=s.camera.sample(rng), amount=float(s.camera_amount.sample(rng)), seed=int(rng.integers(2**31)))
    return ClipPlan(template_id=template.id, word=word, seed=seed, size=size, num_frames=num_frames, fps=fps,
                    phases=phases, style=style, background=background, camera=camera)
