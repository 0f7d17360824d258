"""Captions from the parameters a render actually used: static (appearance), dynamic (motion), word.

Phrasing varies — several sentence forms and connectors, picked by the clip's own random stream —
so a caption model learns the content, not one fill-in-the-blank line. Every phrase is derived
from the concrete plan (font, palette, fill, effect, background, motions, stagger, easing, camera),
so a caption never claims what the clip does not show.
"""

from __future__ import annotations

import numpy as np

from kinetype.render.animation import PhasePlan
from kinetype.render.fonts import FontInfo
from kinetype.render.motions import MOTIONS
from kinetype.render.scene import BackgroundPlan, CameraPlan, background_phrase, camera_phrase
from kinetype.render.style import StylePlan, effect_phrase, fill_phrase
from kinetype.render.clip import Captions
from kinetype.render.words import word_caption

CLASS_NOUNS = {"serif": "serif", "sans": "sans-serif", "slab": "slab-serif", "rounded": "rounded", "condensed": "condensed",
               "display": "display", "script": "script", "handwritten": "handwritten", "mono": "monospaced"}


def font_phrase(font: FontInfo) -> str:
    """E.g. "bold italic condensed sans-serif"."""
    w = font.weight
    weight = ("thin" if w <= 200 else "light" if w <= 300 else "" if w <= 400 else "medium" if w <= 500
              else "semibold" if w <= 600 else "bold" if w <= 700 else "heavy")
    classes = [CLASS_NOUNS[c] for c in font.classes if c in CLASS_NOUNS]
    # Put modifiers (condensed, rounded) before the base style noun.
    mods = [c for c in classes if c in ("condensed", "rounded")]
    base = [c for c in classes if c not in mods][:1]
    words = [weight, "italic" if font.italic else "", *mods, *base]
    return " ".join(w for w in words if w) or "plain"


def order_phrase(plan: PhasePlan) -> str:
    if plan.unit == "word":
        return "as one word"
    if plan.order == "all-at-once" or plan.overlap >= 0.9:
        return "all together"
    quick = plan.overlap >= 0.45
    return {
        "left-to-right": "in a quick ripple from left to right" if quick else "one after another from left to right",
        "right-to-left": "in a quick ripple from right to left" if quick else "one after another from right to left",
        "centre-out": "from the middle outwards",
        "edges-in": "from both ends towards the middle",
        "random": "in random order",
    }[plan.order]


def easing_phrase(name: str) -> str:
    n = name.split("(")[0]
    if "bounce" in n:
        return "with a bounce"
    if "elastic" in n:
        return "with an elastic wobble"
    if n.startswith("spring"):
        return "with a springy settle"
    if "back" in n:
        return "overshooting a little"
    if n == "step":
        return "abruptly"
    if n == "linear":
        return "at an even pace"
    if n.startswith("in-out") or n in ("ease", "ease-in-out") or n.startswith("cubic-bezier"):
        return "smoothly"
    if n.startswith("in-") or n == "ease-in":
        return "speeding up"
    return "slowing to a stop"


def _phase_clause(plan: PhasePlan) -> str:
    verb = MOTIONS[plan.motion].phrase(plan.params, plan.phase)
    parts = [verb]
    if plan.phase != "emphasis" and plan.motion not in ("typewriter",):
        parts.append(easing_phrase(plan.easing))
    parts.append(order_phrase(plan))
    return " ".join(parts)


def static_caption(font: FontInfo, style: StylePlan, background: BackgroundPlan, rng: np.random.Generator) -> str:
    f = font_phrase(font)
    eff = effect_phrase(style)
    # Hollow letters have no fill to speak of: the effect phrase says it all.
    fill = f"{style.palette.text} outline" if style.effect == "hollow" else fill_phrase(style)
    bg, _ = background_phrase(background, style.palette.background)
    eff_s = f" {eff}" if eff else ""
    forms = [
        f"{f} letters in {fill}{eff_s} on {bg}.",
        f"The word is set in {f} type, {fill}{',' if eff else ''}{eff_s}, over {bg}.",
        f"{fill} {f} lettering{eff_s} against {bg}.",
        f"A {f} typeface coloured {fill}{eff_s}, with {bg} behind it.",
        f"{bg} with {f} text in {fill}{eff_s}.",
        f"Text in a {f} font, {fill}{eff_s}; the backdrop is {bg}.",
    ]
    s = forms[int(rng.integers(len(forms)))]
    return s[0].upper() + s[1:]


def dynamic_caption(plans: list[PhasePlan], background: BackgroundPlan, camera: CameraPlan,
                    rng: np.random.Generator) -> str:
    clauses = [(p.phase, _phase_clause(p)) for p in plans]
    subject = ["The letters", "The characters", "The word's letters", "Its letters"][int(rng.integers(4))]
    style = int(rng.integers(3))
    if len(clauses) == 1:
        text = f"{subject} {clauses[0][1]}"
    elif style == 0:
        text = f"{subject} {clauses[0][1]}, then " + ", and finally ".join(c for _, c in clauses[1:])
    elif style == 1:
        lead = ["first"] + ["then"] * (len(clauses) - 2) + ["finally"]
        text = f"{subject} " + "; ".join(f"{w} {c}" for w, (_, c) in zip(lead, clauses))
    else:
        names = {"enter": "On entry", "emphasis": "While holding", "exit": "On the way out"}
        text = ". ".join(f"{names[ph]}, {subject.lower()} {c}" for ph, c in clauses)
        text = text[0].upper() + text[1:]
    _, bg_motion = background_phrase(background, "")
    scene = [bg_motion if background.kind != "solid" else "", camera_phrase(camera)]
    scene = [s for s in scene if s]
    if scene:
        joiner = [" while ", ". Meanwhile ", "; "][int(rng.integers(3))]
        text += joiner + " and ".join(scene)
    return text.rstrip(".") + "."


def make_captions(word: str, font: FontInfo, style: StylePlan, plans: list[PhasePlan], background: BackgroundPlan,
                  camera: CameraPlan, motion_tag: str, rng: np.random.Generator) -> Captions:
    return Captions(static=static_caption(font, style, background, rng),
                    dynamic=dynamic_caption(plans, background, camera, rng),
                    word=word_caption(word), motion_tag=motion_tag)
