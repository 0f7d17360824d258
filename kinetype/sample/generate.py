"""``kinetype generate``: a word and a motion phrase -> a clip from a trained pipeline.

1. The motion phrase is matched to the template vocabulary (motion tags, ids, tags, descriptions).
2. The engine renders the matched template for the word; its captions are the prompt, exactly as
   in training (``--style`` replaces the static caption), and its per-frame glyph masks are the
   glyph-layout input (unless ``--no-glyph``).
3. The pipeline samples with classifier-free guidance; the clip is written as .mp4, .gif or .png.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from kinetype.model.errors import ModelError
from kinetype.sample.output import SUFFIXES

_STOP = {"a", "an", "the", "and", "then", "with", "of", "to", "in", "out", "on", "it", "by"}


@dataclass(frozen=True)
class MotionMatch:
    template: object  # kinetype.templates.Template
    score: float
    exact: bool


def _tokens(text: str) -> set[str]:
    out = set()
    for w in re.findall(r"[a-z]+", text.lower()):
        for suffix in ("ing", "es", "s"):  # crude stemming: "bounces", "bouncing" -> "bounc"/"bounce"
            if w.endswith(suffix) and len(w) - len(suffix) >= 3:
                w = w[: -len(suffix)]
                break
        out.add(w.rstrip("e"))
    return out


def match_motion(phrase: str, templates: list) -> MotionMatch:
    """The template whose vocabulary best matches ``phrase``; ties go to the simplest template, then the id.

    Scores: overlap (Jaccard) with each item of the motion tag ("fly in, bounce out" has two), an
    exact item match, direction words ("in" -> the template has an enter phase, "out" -> an exit),
    and coverage by the template id and description.
    """
    from kinetype.errors import KinetypeError

    stop = {_t for w in _STOP for _t in _tokens(w)}
    words = _tokens(phrase)
    want = words - stop or words
    if not want:
        raise KinetypeError(f"motion {phrase!r} has no words to match: try e.g. 'bounce in', 'typewriter', 'glitch'")
    key = " ".join(phrase.lower().split())
    direction = {"in": "enter", "out": "exit"}

    def score(t) -> tuple[float, int, int]:
        items = [m.strip() for m in t.motion_tag.lower().split(",")]
        s = 4.0 if key in items else 0.0
        for item in items:
            toks = _tokens(item) - (stop - set(direction))
            s = max(s, 3.0 * len(words & toks) / len(words | toks)) if toks else s
        for w, tag in direction.items():
            if w in words:
                s += 1.0 if tag in t.tags else -0.5
        s += 1.0 * len(words & _tokens(t.id.replace("-", " "))) / len(words)
        s += 0.5 * len(want & _tokens(t.description)) / len(want)
        return round(s, 6), -len(t.phases()), -len(t.id)

    ranked = sorted(templates, key=lambda t: t.id)  # max() keeps the first best: the smallest id wins ties
    best = max(ranked, key=score)
    s = score(best)[0]
    if s < 1.0:
        examples = sorted({t.motion_tag for t in templates if "," not in t.motion_tag})[:6]
        raise KinetypeError(
            f"no template matches the motion {phrase!r}: try one of {', '.join(repr(e) for e in examples)} "
            "(`kinetype templates list` shows all)"
        )
    return MotionMatch(best, s, s >= 4.0)


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def generate(
    word: str,
    *,
    motion: str | None,
    out: Path,
    style: str | None = None,
    template_id: str | None = None,
    model: Path | None = None,
    sampler: str = "dpm++",
    steps: int = 25,
    guidance: float = 3.0,
    seed: int = 0,
    glyph: bool = True,
    num_frames: int | None = None,
    fps: int | None = None,
    templates_dir: Path | None = None,
    echo: Callable[[str], None] = print,
) -> Path:
    """Generate one clip and write it to ``out``; prints what the motion phrase matched."""
    from kinetype.errors import KinetypeError
    from kinetype.pipeline import DEFAULT_MODEL_DIR, HOW_TO_GET_ONE
    from kinetype.templates import DEFAULT_TEMPLATES, get_template, load_templates
    from kinetype.words import validate_word

    # Cheap checks first: the word, the output type, the template, then the model.
    validate_word(word)
    out = Path(out)
    if out.suffix.lower() not in SUFFIXES:
        raise KinetypeError(f"{out}: unknown output type {out.suffix or '(none)'!r}: use .mp4, .gif or .png")
    model_dir = Path(model) if model else DEFAULT_MODEL_DIR
    if not (model_dir / "model_index.json").is_file():
        raise ModelError(f"no model at {model_dir}: {HOW_TO_GET_ONE}")
    from kinetype.pipeline import Pipeline

    pipe = Pipeline.from_pretrained(model_dir, device=default_device())  # a corrupt model fails here, in one line
    templates = load_templates(templates_dir or DEFAULT_TEMPLATES)
    if template_id:
        template = get_template(templates, template_id)
        echo(f"template: {template.id} ({template.motion_tag})")
    elif motion:
        m = match_motion(motion, templates)
        template = m.template
        echo(f"motion {motion!r} -> template {template.id} ({template.motion_tag}; "
             f"{'exact tag' if m.exact else f'score {m.score:.2f}'})")
    else:
        raise KinetypeError("give a motion phrase (--motion 'bounce in') or a template id (--template ID)")

    from kinetype.render import render_clip
    from kinetype.sample.output import write_clip

    frames = num_frames or pipe.num_frames
    if frames < 1:
        raise KinetypeError(f"--frames must be at least 1 (got {frames})")
    # The engine's render of the same template, word and seed gives the prompt and the glyph layout.
    reference = render_clip(template, word, seed, size=pipe.size_px, num_frames=frames, fps=fps or pipe.fps)
    caps = reference.captions
    static = style if style else caps.static
    echo(f"static: {static}")
    echo(f"dynamic: {caps.dynamic}")
    echo(f"word: {caps.word}")
    masks = reference.text_mask[None].astype("float32") if glyph else None  # (1, T, H, W)
    clip = pipe([static], [caps.dynamic], [caps.word], masks, num_frames=frames, sampler=sampler, steps=steps,
                guidance=guidance, seed=seed)[0]
    write_clip(out, clip, fps or pipe.fps)
    echo(f"wrote {out} ({frames} frames, {fps or pipe.fps} fps, {pipe.size_px} px)")
    return out
