"""Template schema: typed, validated parameter *ranges*; a render samples concrete values.

A value in a template file is one of
* a scalar (``0.4``, ``"out-back"``, ``true``) — fixed;
* a two-number list (``[0.3, 0.5]``) — a uniform range;
* a list of strings (``["left-to-right", "random"]``) — a choice.
The full schema is documented in ``kinetype/assets/templates/README.md``; every check below names the file and
the field it rejects (``templates/x.toml: template[2].enter.params.angle: ...``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kinetype.errors import TemplateError
from kinetype.render.animation import ORDERS, PHASES, UNITS
from kinetype.render.easing import get_easing
from kinetype.render.fonts import CLASSES
from kinetype.render.motions import CHANGE_KINDS, MOTIONS
from kinetype.render.palettes import MOODS
from kinetype.render.scene import BACKGROUNDS, CAMERAS
from kinetype.render.style import EFFECTS, FILLS

FONT_CLASSES = CLASSES  # the font library's classes are the template vocabulary
TAGS = CHANGE_KINDS + PHASES
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")  # no dots: ids end up inside WebDataset keys


@dataclass(frozen=True)
class Spec:
    """A fixed value, a numeric range or a choice."""

    kind: str  # "fixed" | "range" | "choice"
    values: tuple

    def sample(self, rng: np.random.Generator):
        if self.kind == "fixed":
            return self.values[0]
        if self.kind == "range":
            lo, hi = self.values
            return float(lo + (hi - lo) * rng.random())
        return self.values[int(rng.integers(len(self.values)))]

    def canonical(self):
        """The middle of a range or the first choice: the template's representative value."""
        if self.kind == "range":
            return float(sum(self.values) / 2)
        return self.values[0]

    def all_values(self) -> tuple:
        return self.values

    def to_toml(self):
        return self.values[0] if self.kind == "fixed" else list(self.values)


@dataclass(frozen=True)
class PhaseSpec:
    motion: str
    duration: Spec
    easing: Spec
    order: Spec
    unit: Spec
    overlap: Spec
    params: tuple[tuple[str, Spec], ...] = ()


@dataclass(frozen=True)
class StyleSpec:
    fonts: Spec
    palette: Spec
    fill: Spec
    effect: Spec
    motion_blur: Spec
    background: Spec
    background_speed: Spec
    camera: Spec
    camera_amount: Spec


@dataclass(frozen=True)
class Template:
    """One motion template (picklable, hashable): what moves, how, and the range of looks."""

    id: str
    description: str
    motion_tag: str
    tags: tuple[str, ...]
    enter: PhaseSpec | None
    emphasis: PhaseSpec | None
    exit: PhaseSpec | None
    style: StyleSpec
    source: Path = field(default=Path("<memory>"), compare=False)

    def phases(self) -> list[tuple[str, PhaseSpec]]:
        return [(name, p) for name, p in (("enter", self.enter), ("emphasis", self.emphasis), ("exit", self.exit)) if p]


STYLE_DEFAULTS: dict[str, Any] = {
    "fonts": list(FONT_CLASSES[:5]), "palette": "any", "fill": "solid", "effect": "none", "motion_blur": False,
    "background": "solid", "background_speed": [0.3, 1.0], "camera": "none", "camera_amount": [0.05, 0.15],
}
PHASE_DEFAULTS: dict[str, Any] = {"easing": "out-cubic", "order": "left-to-right", "unit": "letter", "overlap": 0.5}


class _Checker:
    """Builds Specs from raw TOML values, raising TemplateError with the file and field path."""

    def __init__(self, path: Path):
        self.path = path
        self.errors: list[TemplateError] = []  # every error found, in file order

    def fail(self, fld: str, msg: str):
        raise TemplateError(self.path, fld, msg)

    def field(self, check, default=None):
        """Run one field's check; an error is collected (not raised) so the next fields are checked too."""
        try:
            return check()
        except TemplateError as e:
            self.errors.append(e)
            return default

    def spec(self, fld: str, raw: Any, *, number: tuple[float, float] | None = None, words: tuple[str, ...] | None = None,
             boolean: bool = False, check=None) -> Spec:
        if boolean:
            if isinstance(raw, bool):
                return Spec("fixed", (raw,))
            if isinstance(raw, list) and raw and all(isinstance(v, bool) for v in raw):
                return Spec("choice", tuple(raw))
            self.fail(fld, f"expected true/false or a list of them, got {raw!r}")
        if number is not None:
            lo, hi = number
            if isinstance(raw, bool) or not (isinstance(raw, (int, float)) or (isinstance(raw, list) and len(raw) == 2
                                                                             and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw))):
                self.fail(fld, f"expected a number or a [low, high] range, got {raw!r}")
            vals = (float(raw),) if not isinstance(raw, list) else (float(raw[0]), float(raw[1]))
            for v in vals:
                if not lo <= v <= hi:
                    self.fail(fld, f"value {v:g} outside the allowed {lo:g}..{hi:g}")
            if len(vals) == 2 and vals[0] > vals[1]:
                self.fail(fld, f"range [{vals[0]:g}, {vals[1]:g}] has low > high")
            return Spec("fixed", vals) if len(vals) == 1 else Spec("range", vals)
        # words
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
            self.fail(fld, f"expected a string or a non-empty list of strings, got {raw!r}")
        for v in items:
            if words is not None and v not in words:
                self.fail(fld, f"unknown value {v!r} (allowed: {', '.join(words)})")
            if check is not None:
                try:
                    check(v)
                except ValueError as e:
                    self.fail(fld, str(e))
        return Spec("fixed", (items[0],)) if len(items) == 1 else Spec("choice", tuple(items))

    def keys(self, fld: str, table: Any, allowed: set[str], required: set[str] = frozenset()) -> dict:
        """The table without its unknown fields; each unknown or missing field is a collected error."""
        if not isinstance(table, dict):
            self.fail(fld, f"expected a table, got {type(table).__name__}")
        for k in table:
            if k not in allowed:
                self.errors.append(TemplateError(self.path, f"{fld}.{k}" if fld else k,
                                                 f"unknown field (allowed: {', '.join(sorted(allowed))})"))
        for k in sorted(required):
            if k not in table:
                self.errors.append(TemplateError(self.path, f"{fld}.{k}" if fld else k, "missing required field"))
        return {k: v for k, v in table.items() if k in allowed}


def _phase(ck: _Checker, fld: str, raw: Any, phase: str) -> PhaseSpec:
    t = ck.keys(fld, raw, {"motion", "duration", "easing", "order", "unit", "overlap", "params"}, set())
    if "motion" not in t:
        ck.fail(f"{fld}.motion", "missing required field")
    name = t["motion"]
    if not isinstance(name, str) or name not in MOTIONS:
        known = sorted(k for k, m in MOTIONS.items() if (m.kind == "emphasis") == (phase == "emphasis"))
        ck.fail(f"{fld}.motion", f"unknown motion {name!r} (known {phase} motions: {', '.join(known)})")
    m = MOTIONS[name]
    if (m.kind == "emphasis") != (phase == "emphasis"):
        ck.fail(f"{fld}.motion", f"motion {name!r} is a{'n emphasis' if m.kind == 'emphasis' else ' transition'} and cannot be used as {phase}")
    v = PHASE_DEFAULTS | {"duration": 0.35 if phase != "emphasis" else 1.0} | t
    params = ck.field(lambda: ck.keys(f"{fld}.params", v.get("params", {}), set(m.params)), {})
    pspecs = tuple((k, ck.field(lambda k=k: ck.spec(f"{fld}.params.{k}", params[k], number=(m.params[k].lo, m.params[k].hi))))
                   for k in sorted(params))
    return PhaseSpec(
        motion=name,
        duration=ck.field(lambda: ck.spec(f"{fld}.duration", v["duration"], number=(0.02, 1.0))),
        easing=ck.field(lambda: ck.spec(f"{fld}.easing", v["easing"], check=get_easing)),
        order=ck.field(lambda: ck.spec(f"{fld}.order", v["order"], words=ORDERS)),
        unit=ck.field(lambda: ck.spec(f"{fld}.unit", v["unit"], words=UNITS)),
        overlap=ck.field(lambda: ck.spec(f"{fld}.overlap", v["overlap"], number=(0.0, 1.0))),
        params=pspecs,
    )


def derived_tags(t: Template) -> tuple[str, ...]:
    """The category tags a template's motions imply (paper's change kinds + phases present)."""
    kinds = {c for _, p in t.phases() for c in MOTIONS[p.motion].changes}
    return tuple(k for k in CHANGE_KINDS if k in kinds) + tuple(name for name, _ in t.phases())


def parse_template(raw: Any, path: Path, where: str) -> Template:
    """Validate one raw template table; errors name ``path`` and the field under ``where``. Raises the
    first error found (:func:`check_template` returns all of them)."""
    template, errors = check_template(raw, path, where)
    if errors:
        raise errors[0]
    return template


def check_template(raw: Any, path: Path, where: str) -> tuple[Template | None, list[TemplateError]]:
    """Validate one raw template table: the template (None if invalid) and every error found in it."""
    ck = _Checker(path)
    try:
        template = _parse(ck, raw, where)
    except TemplateError as e:  # an error the remaining checks depend on
        ck.errors.append(e)
        template = None
    return (template if not ck.errors else None), ck.errors


def _parse(ck: _Checker, raw: Any, where: str) -> Template | None:
    allowed = {"id", "description", "motion_tag", "tags", "enter", "emphasis", "exit", "style"}
    t = ck.keys(where, raw, allowed, {"id", "description", "motion_tag"})
    for k in ("id", "description", "motion_tag"):
        if k in t and (not isinstance(t[k], str) or not t[k].strip()):
            ck.errors.append(TemplateError(ck.path, f"{where}.{k}", f"expected a non-empty string, got {t[k]!r}"))
    if isinstance(t.get("id"), str) and not ID_RE.match(t["id"]):
        ck.errors.append(TemplateError(ck.path, f"{where}.id", f"{t['id']!r} is not a valid id (lowercase letters, digits and '-', 2-64 chars, no dots)"))
    phases = {ph: ck.field(lambda ph=ph: _phase(ck, f"{where}.{ph}", t[ph], ph)) if ph in t else None for ph in PHASES}
    if not any(ph in t for ph in PHASES):
        ck.errors.append(TemplateError(ck.path, where, "a template needs at least one of enter, emphasis, exit"))
    if phases["enter"] and phases["exit"] and phases["enter"].duration and phases["exit"].duration:
        longest = max(phases["enter"].duration.values) + max(phases["exit"].duration.values)
        if longest > 0.9:
            ck.errors.append(TemplateError(ck.path, f"{where}.exit.duration", f"enter and exit together may last {longest:g} of the clip; keep it at most 0.9"))
    s = ck.field(lambda: ck.keys(f"{where}.style", t.get("style", {}), set(STYLE_DEFAULTS)), {})
    s = STYLE_DEFAULTS | s
    w = f"{where}.style"
    style = StyleSpec(
        fonts=ck.field(lambda: ck.spec(f"{w}.fonts", s["fonts"], words=FONT_CLASSES)),
        palette=ck.field(lambda: ck.spec(f"{w}.palette", s["palette"], words=tuple(MOODS) + ("any",))),
        fill=ck.field(lambda: ck.spec(f"{w}.fill", s["fill"], words=FILLS)),
        effect=ck.field(lambda: ck.spec(f"{w}.effect", s["effect"], words=EFFECTS)),
        motion_blur=ck.field(lambda: ck.spec(f"{w}.motion_blur", s["motion_blur"], boolean=True)),
        background=ck.field(lambda: ck.spec(f"{w}.background", s["background"], words=BACKGROUNDS)),
        background_speed=ck.field(lambda: ck.spec(f"{w}.background_speed", s["background_speed"], number=(0.0, 4.0))),
        camera=ck.field(lambda: ck.spec(f"{w}.camera", s["camera"], words=CAMERAS)),
        camera_amount=ck.field(lambda: ck.spec(f"{w}.camera_amount", s["camera_amount"], number=(0.0, 0.5))),
    )
    if ck.errors:
        return None
    tpl = Template(id=t["id"], description=t["description"].strip(), motion_tag=t["motion_tag"].strip(), tags=(),
                   enter=phases["enter"], emphasis=phases["emphasis"], exit=phases["exit"], style=style, source=ck.path)
    implied = derived_tags(tpl)
    if "tags" in t:
        given = t["tags"]
        if not isinstance(given, list) or not all(isinstance(g, str) for g in given):
            ck.fail(f"{where}.tags", f"expected a list of strings, got {given!r}")
        unknown = [g for g in given if g not in TAGS]
        for g in unknown:
            ck.errors.append(TemplateError(ck.path, f"{where}.tags", f"unknown tag {g!r} (allowed: {', '.join(TAGS)})"))
        if not unknown and set(given) != set(implied):
            ck.fail(f"{where}.tags", f"tags {sorted(given)} disagree with the motions used, which imply {sorted(implied)}")
    return Template(**{**tpl.__dict__, "tags": implied})
