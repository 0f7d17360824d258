"""Writes the bundled template library (templates/*/*.toml) from a design grid.

Run ``python tools/make_templates.py`` after changing the grid. The output files are the source of
truth the engine reads; this script is only how the bundled set was authored. Every candidate is
validated by the real schema, and a candidate whose canonical per-letter tracks equal an earlier
one's is dropped, so the written set has no two templates with the same motion.
"""

from __future__ import annotations

import itertools
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kinetype.captions import _phase_clause  # noqa: E402
from kinetype.render.animation import PhasePlan  # noqa: E402
from kinetype.render.motions import MOTIONS  # noqa: E402
from kinetype.templates.schema import parse_template  # noqa: E402
from kinetype.templates.signature import canonical_signature  # noqa: E402

TARGET = 2000

ORDERS = ["left-to-right", "centre-out", "random", "right-to-left", "edges-in", "all-at-once"]
ORDER_SHORT = {"left-to-right": "ltr", "right-to-left": "rtl", "centre-out": "centre", "edges-in": "edges",
               "random": "random", "all-at-once": "together"}

# Looks: the range of appearances a template samples from.
LOOKS = {
    "clean": dict(fonts=["sans", "rounded"], palette=["mono", "cool"], fill=["solid"], effect=["none", "shadow"],
                  background=["solid", "gradient-drift"]),
    "pop": dict(fonts=["display", "condensed", "sans"], palette=["vivid"], fill=["solid", "stripes"],
                effect=["extrude", "shadow"], background=["stripes", "shapes"]),
    "neon": dict(fonts=["script", "rounded", "sans"], palette=["neon"], fill=["solid"], effect=["glow"],
                 background=["particles", "noise", "grid", "solid"]),
    "retro": dict(fonts=["slab", "display"], palette=["warm", "earth"], fill=["solid", "stripes"],
                  effect=["long-shadow", "extrude"], background=["stripes", "solid"]),
    "elegant": dict(fonts=["serif", "script"], palette=["mono", "earth", "warm"], fill=["solid", "gradient"],
                    effect=["none", "shadow"], background=["gradient-drift", "solid"]),
    "playful": dict(fonts=["rounded", "handwritten"], palette=["pastel", "vivid"], fill=["solid", "stripes"],
                    effect=["outline", "shadow"], background=["shapes", "particles"]),
    "tech": dict(fonts=["mono", "sans"], palette=["cool", "neon"], fill=["solid"], effect=["chroma", "none"],
                 background=["grid", "noise"], motion_blur=[False, True], camera=["none", "shake"]),
    "grunge": dict(fonts=["slab", "condensed", "handwritten"], palette=["earth", "mono"], fill=["texture"],
                   effect=["none", "shadow"], background=["noise"]),
    "comic": dict(fonts=["handwritten", "rounded", "display"], palette=["vivid", "pastel"], fill=["solid"],
                  effect=["outline", "extrude"], background=["stripes", "shapes"]),
    "cinematic": dict(fonts=["serif", "sans", "condensed"], palette=["mono", "cool", "warm"], fill=["gradient"],
                      effect=["shadow", "glow"], background=["gradient-drift", "noise"], camera=["zoom-in", "zoom-out"],
                      motion_blur=[False, True]),
    "outline": dict(fonts=["sans", "mono", "slab"], palette=["mono", "cool", "vivid"], fill=["solid"],
                    effect=["hollow", "outline"], background=["solid", "grid"]),
    "sunset": dict(fonts=["sans", "serif", "script"], palette=["warm"], fill=["gradient", "solid"],
                   effect=["none", "glow"], background=["gradient-drift"], camera=["none", "pan-left", "pan-right"]),
}
LOOK_NAMES = list(LOOKS)


def around(v: float, spread: float, lo: float, hi: float) -> list[float]:
    """The range v ± spread·|v|, clipped to the parameter's bounds."""
    return [round(max(lo, v - spread * abs(v)), 3), round(min(hi, v + spread * abs(v)), 3)]


def params(motion: str, **vals: float) -> dict:
    spec = MOTIONS[motion].params
    return {k: (around(v, 0.12, spec[k].lo, spec[k].hi) if k not in ("hops", "beats", "turns", "fonts", "axis") else v)
            for k, v in vals.items()}


# Transition variants: (name, motion, params, easing choices, motion tag when entering, when leaving)
DIRS = [(180, "left"), (0, "right"), (90, "top"), (270, "bottom"), (135, "top-left"), (45, "top-right"),
        (225, "bottom-left"), (315, "bottom-right")]
TRANSITIONS = []
for ang, nm in DIRS:
    TRANSITIONS.append((f"fly-{nm}", "fly", params("fly", angle=ang, distance=0.8, fade=0.3), ["out-cubic", "out-quart"], "fly in", "fly out"))
for ang, nm in DIRS[:4]:
    TRANSITIONS.append((f"slide-{nm}", "fly", params("fly", angle=ang, distance=0.2, fade=1.0), ["out-quad", "ease-out"], "slide in", "slide out"))
    TRANSITIONS.append((f"overshoot-{nm}", "fly", params("fly", angle=ang, distance=0.5, fade=0.0), ["out-back"], "fly in", "fly out"))
TRANSITIONS += [
    ("drop-bounce", "fly", params("fly", angle=90, distance=0.7, fade=0.0), ["out-bounce"], "drop and bounce", "bounce out"),
    ("rise-spring", "fly", params("fly", angle=270, distance=0.6, fade=0.0), ["spring(0.35, 3)", "spring(0.5, 4)"], "spring up", "sink down"),
    ("drop-elastic", "fly", params("fly", angle=90, distance=0.5, fade=0.0), ["out-elastic"], "elastic drop", "elastic lift"),
    ("scatter", "scatter", params("scatter", distance=0.6, spin=0.5, fade=1.0), ["out-cubic", "out-expo"], "assemble", "scatter"),
    ("scatter-far", "scatter", params("scatter", distance=1.2, spin=1.5, fade=0.2), ["out-quart"], "assemble", "explode"),
    ("orbit", "orbit", params("orbit", radius=0.4, turns=1.0, fade=1.0), ["out-cubic"], "orbit in", "orbit out"),
    ("spiral", "orbit", params("orbit", radius=0.7, turns=2.0, fade=0.5), ["out-quint"], "spiral in", "spiral out"),
    ("roll-left", "roll", params("roll", angle=180, distance=0.6, fade=0.5), ["out-cubic"], "roll in", "roll out"),
    ("roll-right", "roll", params("roll", angle=0, distance=0.6, fade=0.5), ["out-cubic"], "roll in", "roll out"),
    ("swing", "swing", params("swing", angle=90, drop=0.05, fade=1.0), ["out-back", "out-elastic"], "swing in", "swing out"),
    ("swing-back", "swing", params("swing", angle=-90, drop=0.05, fade=1.0), ["out-back"], "swing in", "swing out"),
    ("wave-in", "wave-in", params("wave-in", amplitude=0.25, phase=0.8, fade=1.0), ["out-cubic", "out-sine"], "wave in", "wave out"),
    ("tumble", "tumble", params("tumble", distance=0.7, turns=0.5, fade=0.0), ["out-bounce", "out-cubic"], "tumble in", "tumble out"),
    ("pop", "pop", params("pop", fade=0.0), ["out-back", "spring(0.4, 3)"], "pop in", "pop out"),
    ("pop-soft", "pop", params("pop", fade=1.0), ["out-cubic"], "grow in", "shrink out"),
    ("zoom-big", "zoom", params("zoom", scale=3.0, fade=1.0), ["out-expo", "out-quart"], "zoom in", "zoom out"),
    ("zoom-small", "zoom", params("zoom", scale=0.0, fade=1.0), ["out-cubic"], "zoom in", "zoom out"),
    ("slam", "zoom", params("zoom", scale=5.0, fade=0.4), ["in-expo", "in-quart"], "slam in", "blast out"),
    ("stretch-v", "stretch", {"axis": 0, "amount": [0.9, 1.0]}, ["out-back", "out-cubic"], "stretch in", "squash out"),
    ("stretch-h", "stretch", {"axis": 1, "amount": [0.9, 1.0]}, ["out-back", "out-cubic"], "stretch in", "squeeze out"),
    ("flip-v", "flip", {"axis": 0, "turns": 0.25}, ["out-cubic"], "flip in", "flip out"),
    ("flip-h", "flip", {"axis": 1, "turns": 0.25}, ["out-cubic"], "flip in", "flip out"),
    ("flip-spin", "flip", {"axis": 0, "turns": 1.25}, ["out-quart"], "flip in", "flip out"),
    ("spin", "spin", {"turns": 1.0, "shrink": 1.0, "fade": 0.5}, ["out-cubic", "out-back"], "spin in", "spin out"),
    ("spin-reverse", "spin", {"turns": -1.0, "shrink": 0.6, "fade": 1.0}, ["out-quart"], "spin in", "spin out"),
    ("fade", "fade", {}, ["out-sine", "linear"], "fade in", "fade out"),
    ("typewriter", "typewriter", {}, ["linear"], "typewriter", "backspace"),
    ("write-on", "write-on", {}, ["in-out-sine", "linear"], "write on", "write off"),
    ("blur", "blur", params("blur", amount=0.15, fade=0.8), ["out-cubic"], "blur in", "blur out"),
    ("decode", "decode", params("decode", fade=0.3), ["linear", "out-quad"], "decode", "encode"),
    ("weight", "weight", params("weight", amount=0.08, fade=0.3), ["out-cubic"], "weight shift", "weight shift"),
    ("melt", "melt", params("melt", amount=0.8, fade=1.0), ["out-cubic"], "un-melt", "melt"),
    ("warp", "warp", params("warp", amount=0.25, fade=0.8), ["out-cubic"], "warp in", "warp out"),
    ("font-switch", "font-switch", {"fonts": 3}, ["linear"], "font switch", "font switch"),
    ("track-wide", "tracking", params("tracking", amount=1.0, fade=1.0), ["out-expo", "out-cubic"], "tracking in", "tracking out"),
    ("track-tight", "tracking", params("tracking", amount=-0.4, fade=1.0), ["out-cubic"], "tracking in", "tracking out"),
    ("skew-left", "skew", params("skew", amount=0.6, distance=0.6, fade=1.0), ["out-expo"], "skew in", "skew out"),
    ("skew-right", "skew", params("skew", amount=-0.6, distance=-0.6, fade=1.0), ["out-expo"], "skew in", "skew out"),
    ("glitch", "glitch", params("glitch", amount=0.05), ["linear"], "glitch", "glitch"),
    ("flash", "colour-flash", {}, ["out-quad"], "colour flash", "colour flash"),
]

EMPHASES = [
    ("wave", "wave", params("wave", amplitude=0.08, cycles=2, phase=0.7), ["linear"], "wave"),
    ("wave-big", "wave", params("wave", amplitude=0.15, cycles=1, phase=1.2), ["in-out-sine"], "wave"),
    ("hop", "hop", {"height": [0.08, 0.12], "hops": 1}, ["linear"], "bounce"),
    ("hop-double", "hop", {"height": [0.05, 0.08], "hops": 2}, ["linear"], "bounce"),
    ("pulse", "pulse", {"amount": [0.15, 0.25], "beats": 2}, ["linear"], "pulse"),
    ("pulse-big", "pulse", {"amount": [0.4, 0.5], "beats": 1}, ["in-out-sine"], "pulse"),
    ("shake", "shake", params("shake", amplitude=0.02, frequency=6), ["linear"], "shake"),
    ("jitter", "jitter", params("jitter", amplitude=0.015), ["linear"], "jitter"),
    ("wobble", "wobble", params("wobble", angle=12, cycles=2), ["linear"], "wobble"),
    ("jelly", "jelly", params("jelly", amount=0.25, cycles=2), ["linear"], "jelly"),
    ("float", "float", params("float", amplitude=0.04, cycles=1), ["in-out-sine"], "float"),
    ("spin-around", "spin-around", {"turns": 1}, ["in-out-cubic"], "spin"),
    ("flip-around", "flip-around", {"turns": 1, "axis": 0}, ["in-out-cubic"], "flip"),
    ("heartbeat", "heartbeat", {"amount": [0.15, 0.22], "beats": 2}, ["linear"], "heartbeat"),
    ("weight-pulse", "weight-pulse", {"amount": [0.04, 0.06], "beats": 1}, ["in-out-sine"], "weight pulse"),
    ("flicker", "flicker", params("flicker", rate=0.25, depth=0.8), ["linear"], "flicker"),
    ("colour-cycle", "colour-cycle", {"beats": 1}, ["in-out-sine"], "colour shift"),
    ("glitch-hold", "glitch-hold", params("glitch-hold", amount=0.04, rate=0.25), ["linear"], "glitch"),
    ("breathe", "breathe", {"amount": [0.25, 0.35], "beats": 1}, ["in-out-sine"], "breathe"),
    ("wave-warp", "wave-warp", params("wave-warp", amount=0.12, cycles=2), ["linear"], "warp"),
    ("drip", "drip", params("drip", amount=0.4), ["in-out-sine"], "drip"),
    ("stretch-pulse", "stretch-pulse", {"amount": [0.3, 0.4], "axis": 0, "beats": 1}, ["in-out-sine"], "stretch"),
    ("sway", "sway", params("sway", amount=0.3, cycles=1), ["linear"], "sway"),
    ("focus-pulse", "focus-pulse", params("focus-pulse", amount=0.08), ["in-out-sine"], "focus pulse"),
    ("font-cycle", "font-cycle", {"fonts": 3, "rate": 2}, ["linear"], "font switch"),
    ("tilt", "rotate-hold", params("rotate-hold", angle=15), ["in-out-sine"], "tilt"),
]

OVERLAP = {"left-to-right": [0.25, 0.45], "right-to-left": [0.25, 0.45], "centre-out": [0.3, 0.5], "edges-in": [0.3, 0.5],
           "random": [0.2, 0.4], "all-at-once": 1.0}


def phase(motion: str, p: dict, easing: list[str], order: str, duration, unit: str = "letter") -> dict:
    out = {"motion": motion, "duration": duration, "easing": easing if len(easing) > 1 else easing[0],
           "order": order, "unit": unit, "overlap": OVERLAP[order] if unit == "letter" else 1.0}
    if p:
        out["params"] = p
    return out


def canonical_plan(name: str, ph: dict) -> PhasePlan:
    def mid(v):
        return sum(v) / 2 if isinstance(v, list) and v and not isinstance(v[0], str) else (v[0] if isinstance(v, list) else v)

    return PhasePlan(phase=name, motion=ph["motion"], start=0, end=1, easing=mid(ph["easing"]), order=ph["order"],
                     unit=ph["unit"], overlap=mid(ph["overlap"]), params={k: mid(v) for k, v in ph.get("params", {}).items()})


def describe(phases: dict) -> str:
    parts = [_phase_clause(canonical_plan(n, p)) for n, p in phases.items()]
    if len(parts) == 1:
        s = f"Letters {parts[0]}"
        if "enter" in phases:
            s += " and stay"
        elif "exit" in phases:
            s = f"The word rests, then the letters {parts[0]}"
    else:
        s = f"Letters {parts[0]}, then " + ", then ".join(parts[1:])
    return s + "."


def candidates():
    """Yield (file group, template dict) in priority order."""
    k = 0

    def look():
        nonlocal k
        k += 1
        name = LOOK_NAMES[k % len(LOOK_NAMES)]
        return {key: (v if len(v) > 1 else v[0]) for key, v in LOOKS[name].items()}

    enter_dur, exit_dur, hold_dur = [0.3, 0.42], [0.22, 0.32], [0.55, 0.8]
    # 1. Entrances (word stays): every transition × every order.
    for (name, m, p, ease, tag_in, _), order in itertools.product(TRANSITIONS, ORDERS):
        ph = {"enter": phase(m, p, ease, order, enter_dur)}
        yield "enter", dict(id=f"{name}-in-{ORDER_SHORT[order]}", motion_tag=tag_in, phases=ph, style=look())
    # 2. Whole-word entrances (pivot on the word centre).
    for name, m, p, ease, tag_in, _ in TRANSITIONS:
        ph = {"enter": phase(m, p, ease, "all-at-once", enter_dur, unit="word")}
        yield "enter", dict(id=f"{name}-in-word", motion_tag=tag_in, phases=ph, style=look())
    # 3. Emphasis on a word at rest: every emphasis × orders.
    for (name, m, p, ease, tag), order in itertools.product(EMPHASES, ORDERS[:4]):
        ph = {"emphasis": phase(m, p, ease, order, hold_dur)}
        yield "emphasis", dict(id=f"{name}-{ORDER_SHORT[order]}", motion_tag=tag, phases=ph, style=look())
    # 4. Enter → exit pairs (mirror exits and cross pairs).
    for i, (name, m, p, ease, tag_in, tag_out) in enumerate(TRANSITIONS):
        for j in (i, (i + 7) % len(TRANSITIONS)):
            xname, xm, xp, xease, _, xtag = TRANSITIONS[j]
            order = ORDERS[(i + j) % len(ORDERS)]
            out_ease = ["in-cubic" if "bounce" not in e and "spring" not in e else "in-back" for e in xease][:1]
            ph = {"enter": phase(m, p, ease, order, enter_dur), "exit": phase(xm, xp, out_ease, ORDERS[(i + 2 * j + 1) % 6], exit_dur)}
            yield "enter-exit", dict(id=f"{name}-in-{xname}-out", motion_tag=f"{tag_in}, {xtag}" if tag_in != xtag else tag_in,
                                     phases=ph, style=look())
    # 5. Enter → emphasis → exit.
    for i, (name, m, p, ease, tag_in, _) in enumerate(TRANSITIONS):
        for j in range(2):
            en, em_, ep, eease, etag = EMPHASES[(3 * i + 11 * j) % len(EMPHASES)]
            ph = {"enter": phase(m, p, ease, ORDERS[i % 5], [0.25, 0.32]),
                  "emphasis": phase(em_, ep, eease, ORDERS[(i + j + 1) % 4], [0.7, 0.9]),
                  "exit": phase("fade", {}, ["in-sine"], "all-at-once", [0.15, 0.22])}
            yield "sequence", dict(id=f"{name}-in-{en}-fade", motion_tag=f"{tag_in}, {etag}", phases=ph, style=look())
    # 6. Exits from a word at rest.
    for (name, m, p, ease, _, tag_out), order in itertools.product(TRANSITIONS, ORDERS[:3]):
        out_ease = ["in-cubic" if "bounce" not in e and "spring" not in e else "in-back" for e in ease][:1]
        ph = {"exit": phase(m, p, out_ease, order, [0.35, 0.5])}
        yield "exit", dict(id=f"{name}-out-{ORDER_SHORT[order]}", motion_tag=tag_out, phases=ph, style=look())


def to_toml(t: dict) -> str:
    def val(v):
        if isinstance(v, str):
            return f'"{v}"'
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {val(x)}" for k, x in v.items()) + " }"
        return f"{v:g}" if isinstance(v, float) else str(v)

    lines = ["[[template]]", f'id = "{t["id"]}"', f'description = "{t["description"]}"', f'motion_tag = "{t["motion_tag"]}"',
             f"tags = {val(t['tags'])}"]
    for name, ph in t["phases"].items():
        lines.append(f"\n[template.{name}]")
        for k, v in ph.items():
            lines.append(f"{k} = {val(v)}")
    lines.append("\n[template.style]")
    for k, v in t["style"].items():
        lines.append(f"{k} = {val(v)}")
    return "\n".join(lines) + "\n"


def main() -> None:
    out_dir = ROOT / "templates"
    seen: list[np.ndarray] = []
    groups: dict[str, list[str]] = defaultdict(list)
    count = 0
    for group, t in candidates():
        if count >= TARGET:
            break
        t["description"] = describe(t["phases"])
        raw = {"id": t["id"], "description": t["description"], "motion_tag": t["motion_tag"], "style": t["style"], **t["phases"]}
        tpl = parse_template(raw, Path(f"<{t['id']}>"), "template[0]")
        t["tags"] = list(tpl.tags)
        sig = canonical_signature(tpl)
        if any(np.allclose(sig, s, atol=1e-3) for s in seen if s.shape == sig.shape):
            continue
        seen.append(sig)
        groups[group].append(to_toml(t))
        count += 1
    for old in out_dir.glob("*.toml"):
        old.unlink()
    header = "# Generated by tools/make_templates.py; edit the grid there, or add your own file beside these.\n\n"
    for group, items in groups.items():
        (out_dir / f"{group}.toml").write_text(header + "\n".join(items))
    print(f"wrote {count} templates in {len(groups)} files: " + ", ".join(f"{g} {len(v)}" for g, v in groups.items()))


if __name__ == "__main__":
    main()
