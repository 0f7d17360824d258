"""``kinetype generate``: a word and a motion phrase -> a clip from a trained pipeline (the
application; the solvers live in :mod:`kinetype.sample`, the model folder in :mod:`kinetype.pipeline`).

1. The motion phrase is matched to the template vocabulary (motion tags, ids, tags, descriptions).
2. The engine renders the matched template for the word; its captions are the prompt, exactly as
   in training (``--style`` replaces the static caption), and its per-frame glyph masks are the
   glyph-layout input (unless ``--no-glyph``).
3. The pipeline samples with classifier-free guidance (and mitigating-gradient guidance with
   ``--mg``); with ``--verify N`` up to N seeds are sampled and PP-OCR keeps the first whose word
   reads correctly (:mod:`kinetype.eval.verify`). The one clip kept is written atomically as .mp4,
   .gif or .png through :mod:`kinetype.media`, by default to ``WORD-motion.mp4`` in the current folder.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from kinetype.errors import KinetypeError, random_seed
from kinetype.eval.readers import make_reader, reader_available
from kinetype.eval.verify import VERIFY_READER, candidate_seeds, check_verify, clip_judge, describe, first_legible
from kinetype.fsutil import check_output_file
from kinetype.media import VIDEO_SUFFIXES, write_video
from kinetype.render import render_clip
from kinetype.render.settings import check_fps, check_frames
from kinetype.render.templates import get_template, load_templates
from kinetype.render.words import validate_word
from kinetype.sample.settings import SamplingSettings, check_mg_scale

# torch and the model (kinetype.pipeline, kinetype.sample.mitigate) are imported where first used,
# after the cheap checks: a bad word or option is refused without their 4 s of imports.

_STOP = {"a", "an", "the", "and", "then", "with", "of", "to", "in", "out", "on", "it", "by"}


@dataclass(frozen=True)
class MotionMatch:
    template: object  # kinetype.render.schema.Template
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


def default_out(word: str, motion: str | None, template_id: str | None, folder: Path = Path(".")) -> Path:
    """``HELLO-bounce-in.mp4`` in ``folder``; ``-2``, ``-3``... appended rather than overwrite a file."""
    slug = "-".join(re.findall(r"[a-z0-9]+", (motion or template_id or "clip").lower()))[:40] or "clip"
    stem = f"{word}-{slug}"
    out, k = folder / f"{stem}.mp4", 2
    while out.exists():
        out, k = folder / f"{stem}-{k}.mp4", k + 1
    return out


def check_generate_args(*, seed: int, num_frames: int | None, fps: int | None, mg: float | None = None,
                        verify: int = 1) -> None:
    """The numbers besides the sampling settings, checked before a model is read: one line naming the
    option. (The model's own limits come with its folder: :meth:`kinetype.pipeline.ModelFolder.clip`.)"""
    random_seed(seed)
    if num_frames is not None:
        check_frames(num_frames)
    if fps is not None:
        check_fps(fps)
    if mg is not None:
        check_mg_scale(mg)
    if check_verify(verify) > 1:
        why = reader_available(VERIFY_READER)
        if why:
            raise KinetypeError(f"--verify reads with {VERIFY_READER}: {why}")


def generate(
    word: str,
    *,
    motion: str | None,
    out: Path | None = None,
    style: str | None = None,
    template_id: str | None = None,
    model: Path | None = None,
    sampler: str = SamplingSettings.sampler,
    steps: int = SamplingSettings.steps,
    guidance: float = SamplingSettings.guidance,
    seed: int = 0,
    glyph: bool = True,
    num_frames: int | None = None,
    fps: int | None = None,
    templates_dir: Path | None = None,
    echo: Callable[[str], None] = print,
    mg: float | None = None,
    verify: int = 1,
    loop: bool = False,
) -> Path:
    """Generate one clip and write it to ``out`` (default: ``WORD-motion.mp4`` here, never overwriting).

    ``loop``: the last frame leads back into the first (any model: its first frame pinned one frame
    past the last, or an interpolated clip's last gap closed onto keyframe 0; see
    :class:`kinetype.pipeline.Pipeline`), over the glyph layout of the engine's looped render (a motion
    that does not end where it starts plays forward and back: ``render_clip(loop=True)``).

    ``num_frames``: with a model that has an interpolator, its frame count ((n + 1) x the model's) is
    made from the model's keyframes by interpolation, at (n + 1) x its fps.

    ``mg``: mitigating-gradient scale (None: :data:`kinetype.sample.settings.MG_SCALE_DEFAULT`).
    ``verify``: sample up to this many seeds from ``seed`` on and keep the first PP-OCR reads
    correctly (else the best read); only that clip is written.
    """
    started = time.perf_counter()
    # Cheap checks first: the word, the numbers, the output, the template, then the model.
    validate_word(word)
    sampling = SamplingSettings(sampler, steps, guidance)
    check_generate_args(seed=seed, num_frames=num_frames, fps=fps, mg=mg, verify=verify)
    if not motion and not template_id:
        raise KinetypeError("give a motion phrase (--motion 'bounce in') or a template id (--template ID)")
    named = out is not None
    out = Path(out) if named else default_out(word, motion, template_id)
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise KinetypeError(f"--out {out}: unknown output type {out.suffix or '(none)'!r}: use .mp4, .gif or .png")
    check_output_file(out, "--out")
    template, match = choose_template(motion, template_id, templates_dir)
    from kinetype.pipeline import load_pipeline, model_path, read_model_folder

    # The model's configs (no weights): a missing or corrupt model, or frames it cannot make, fail
    # here in one line, before the weights are loaded or the reference is rendered.
    folder = read_model_folder(model_path(model))
    interpolated = num_frames is not None and num_frames == folder.interpolated_frames
    clip_settings = folder.clip(num_frames, fps)
    pipe = load_pipeline(folder)
    echo(match)
    if interpolated:
        n = folder.interpolator.inbetweens
        echo(f"{num_frames} frames: the model's {folder.num_frames} keyframes, {n} interpolated after each")

    frames, fps = clip_settings.frames, clip_settings.fps
    # The engine's render of the same template, word and seed gives the prompt and the glyph layout;
    # its pixels are not needed.
    reference = render_clip(template, word, seed, size=clip_settings.size, num_frames=frames, fps=fps, pixels=False,
                            loop=loop)
    caps = reference.captions
    static = style if style else caps.static
    echo(f"static: {static}")
    echo(f"dynamic: {caps.dynamic}")
    echo(f"word: {caps.word}")
    masks = reference.text_mask[None].astype("float32") if glyph else None  # (1, T, H, W)

    def sample(s: int):  # (T, H, W, 3) uint8
        return pipe([static], [caps.dynamic], [caps.word], masks, num_frames=frames, sampler=sampling.sampler,
                    steps=sampling.steps, guidance=sampling.guidance, seed=s, mg=mg, loop=loop)[0]

    if verify > 1:
        judge = clip_judge(word, reference.at_rest, reference.font.id, make_reader(VERIFY_READER))
        chosen = first_legible(sample, candidate_seeds(seed, verify), judge,
                               on_candidate=lambda k, v: echo(f"candidate {k}/{verify}: seed {v.seed} read {v.read!r}"))
        echo(describe(chosen, verify))
        clip = chosen.frames
    else:
        clip = sample(seed)
    out = write_clip(out, clip, fps, named=named, next_free=lambda: default_out(word, motion, template_id), echo=echo)
    echo(f"wrote {out} ({frames} frames, {fps} fps, {clip_settings.size} px) in {time.perf_counter() - started:.1f} s")
    return out


def choose_template(motion: str | None, template_id: str | None, templates_dir: Path | None) -> tuple[object, str]:
    """The template a request names (``template_id``) or its motion phrase matches, and a line saying which."""
    templates = load_templates(templates_dir)
    if template_id:
        template = get_template(templates, template_id)
        return template, f"template: {template.id} ({template.motion_tag})"
    m = match_motion(motion, templates)
    return m.template, (f"motion {motion!r} -> template {m.template.id} ({m.template.motion_tag}; "
                        f"{'exact tag' if m.exact else f'score {m.score:.2f}'})")


def write_clip(out: Path, clip, fps: int, *, named: bool, next_free: Callable[[], Path], echo) -> Path:
    """Write ``clip`` atomically; a default name (``named`` False) taken meanwhile by another run
    moves on to ``next_free()``: two runs never write one file."""
    while True:
        try:
            write_video(out, clip, fps, overwrite=named)
            return out
        except FileExistsError:
            taken, out = out, next_free()
            echo(f"{taken} was written meanwhile by another run: taking the next free name, {out}")
