"""``render_clip``: template + word + seed → :class:`Clip`. Pure: touches no files but the fonts it reads.

Pipeline: sample a concrete :class:`ClipPlan` from the template's ranges (font, palette, fill,
effect, background, camera, phase timings, easings, stagger, motion parameters) → shape and fit
the word → per-letter tracks → draw frames and masks → captions from the plan.

Determinism: every random choice comes from numpy generators seeded by a stable hash of
(template id, word, seed), split into independent streams for the plan, the animation and the
captions, so changing caption phrasing never changes a pixel.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

import numpy as np

from kinetype.captions import make_captions
from kinetype.errors import FontError, KinetypeError
from kinetype.render.animation import PhasePlan, animate, at_rest, frame_times
from kinetype.render.canvas import FramePainter, Glyphs
from kinetype.render.clip import Clip
from kinetype.render.fonts import FontInfo, FontLibrary
from kinetype.render.layout import layout_word, substitute_path
from kinetype.render.motions import MOTIONS
from kinetype.render.palettes import COLOURS, sample_palette
from kinetype.render.scene import Background, BackgroundPlan, CameraPlan, legible_backgrounds
from kinetype.render.style import StylePlan
from kinetype.templates.schema import PhaseSpec, Spec, Template
from kinetype.words import LETTERS, validate_word

MIN_SIZE, MAX_SIZE = 16, 4096  # pixels; below 16 a letter is a couple of pixels
MAX_FRAMES, MAX_FPS = 1000, 120
MOTION_BLUR_SAMPLES = 3  # sub-frames averaged per frame when a template asks for motion blur
SHUTTER = 0.5  # fraction of a frame interval the virtual shutter stays open (180° shutter)


@dataclass(frozen=True)
class ClipPlan:
    """Every concrete choice of one clip; saved as the clip's metadata."""

    template_id: str
    word: str
    seed: int
    size: int
    num_frames: int
    fps: int
    font_id: str
    phases: tuple[PhasePlan, ...]
    style: StylePlan
    background: BackgroundPlan
    camera: CameraPlan


def stable_seed(*parts: object) -> int:
    """A 64-bit seed from values, identical across processes and Python versions (unlike hash())."""
    h = hashlib.blake2b(repr(parts).encode(), digest_size=8)
    return int.from_bytes(h.digest(), "little")


def _phase_windows(t: Template, rng: np.random.Generator) -> dict[str, tuple[float, float, float]]:
    """Sampled (start, end, duration) of each phase, as fractions of the clip."""
    d_in = float(t.enter.duration.sample(rng)) if t.enter else 0.0
    d_out = float(t.exit.duration.sample(rng)) if t.exit else 0.0
    out = {}
    if t.enter:
        out["enter"] = (0.0, d_in)
    if t.exit:
        out["exit"] = (1.0 - d_out, 1.0)
    if t.emphasis:
        # Emphasis takes `duration` of the hold between entrance and exit, centred in it.
        lo, hi = d_in, 1.0 - d_out
        span = (hi - lo) * float(t.emphasis.duration.sample(rng))
        mid = (lo + hi) / 2
        out["emphasis"] = (mid - span / 2, mid + span / 2)
    return out


def _phase_plan(name: str, spec: PhaseSpec, window: tuple[float, float], rng: np.random.Generator) -> PhasePlan:
    return PhasePlan(phase=name, motion=spec.motion, start=window[0], end=window[1],
                     easing=spec.easing.sample(rng), order=spec.order.sample(rng), unit=spec.unit.sample(rng),
                     overlap=float(spec.overlap.sample(rng)),
                     # Omitted parameters take the motion's defaults, so captions and metadata see them too.
                     params={k: float(d.default) for k, d in MOTIONS[spec.motion].params.items()}
                     | {k: float(v.sample(rng)) for k, v in spec.params})


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
    windows = _phase_windows(template, rng)
    phases = tuple(_phase_plan(name, spec, windows[name], rng) for name, spec in template.phases())
    # Font-switching motions declare a "fonts" parameter: how many other typefaces they cycle through.
    n_alt = max((int(round(p.params.get("fonts", MOTIONS[p.motion].params["fonts"].default)))
                 for p in phases if "fonts" in MOTIONS[p.motion].params), default=0)
    others = [f for f in lib.fonts if f.family != font.family and not (f.caps_only and word != word.upper())]
    alts = tuple(others[int(i)].id for i in rng.choice(len(others), size=min(n_alt, len(others)), replace=False)) if n_alt else ()
    style = StylePlan(font_id=font.id, alt_font_ids=alts, palette=sample_palette(s.palette.sample(rng), rng),
                      fill=s.fill.sample(rng), effect=s.effect.sample(rng), motion_blur=bool(s.motion_blur.sample(rng)))
    # A choice among the legible backgrounds takes one draw, as the template's own choice would.
    backgrounds = legible_backgrounds(s.background.all_values(), font_weight=font.weight, fill=style.fill,
                                      effect=style.effect)
    background = BackgroundPlan(kind=Spec(s.background.kind, backgrounds).sample(rng), colour=COLOURS[style.palette.background],
                                speed=float(s.background_speed.sample(rng)), angle=float(rng.choice([0, 30, 45, 90, 135, 150, 180, 270])),
                                seed=int(rng.integers(2**31)))
    camera = CameraPlan(kind=s.camera.sample(rng), amount=float(s.camera_amount.sample(rng)), seed=int(rng.integers(2**31)))
    return ClipPlan(template_id=template.id, word=word, seed=seed, size=size, num_frames=num_frames, fps=fps,
                    font_id=font.id, phases=phases, style=style, background=background, camera=camera)


def _glyphs(lib: FontLibrary, plan: ClipPlan, layout) -> Glyphs:
    """The word's outlines plus substitutes: four random other letters per letter (shown while the
    scramble channel is on, whichever motion sets it) and the word in each alternative font."""
    font = lib.get(plan.font_id)
    rng = np.random.default_rng(stable_seed("scramble", plan.template_id, plan.word, plan.seed))
    scramble = [[substitute_path(lib, font, LETTERS[int(k)], layout.em_px) for k in rng.choice(52, 4, replace=False)]
                for _ in plan.word]
    alternates = [[substitute_path(lib, lib.get(fid), ch, layout.em_px) for ch in plan.word] for fid in plan.style.alt_font_ids]
    return Glyphs(base=layout.paths, scramble=scramble, alternates=alternates)


def still_frames(tracks, camera: CameraPlan) -> np.ndarray:
    """(T,) bool: frames whose masks equal the previous frame's — no channel changed, no glyph is
    scrambled (those change every frame) and the camera does not move. Holds skip the mask pass."""
    changed = np.zeros(tracks.moving.shape[0], bool)
    for v in tracks.channels.values():
        changed[1:] |= np.any(v[1:] != v[:-1], axis=1)
    changed |= np.any(tracks.channels["scramble"] >= 0.5, axis=1)
    return ~changed & (camera.kind == "none")


def check_render_args(size: int, num_frames: int, fps: int) -> None:
    """One-line errors for clip dimensions the engine cannot draw (the CLI shows them as they are)."""
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise KinetypeError(f"--size must be {MIN_SIZE} to {MAX_SIZE} pixels, got {size}")
    if not 1 <= num_frames <= MAX_FRAMES:
        raise KinetypeError(f"--frames must be 1 to {MAX_FRAMES}, got {num_frames}")
    if not 1 <= fps <= MAX_FPS:
        raise KinetypeError(f"--fps must be 1 to {MAX_FPS}, got {fps}")


def render_clip(template: Template, word: str, seed: int, size: int = 256, num_frames: int = 24, fps: int = 8,
                *, fonts: FontLibrary | None = None) -> Clip:
    """Render one clip: frames ``(T, H, W, 3)``, instance masks, letter boxes, at-rest frames, captions, metadata."""
    validate_word(word)
    check_render_args(size, num_frames, fps)
    lib = fonts or FontLibrary.load()
    plan = plan_clip(template, word, seed, size, num_frames, fps, lib)
    font = lib.get(plan.font_id)
    layout = layout_word(lib, font, word, size)
    em = layout.em_px / size
    anim_rng = np.random.default_rng(stable_seed("animate", template.id, word, seed))

    # -- tracks: one sample per frame, or several inside the shutter for motion blur --------------
    times = frame_times(num_frames)
    k = MOTION_BLUR_SAMPLES if plan.style.motion_blur else 1
    dt = SHUTTER / max(num_frames - 1, 1) / k
    sub_times = (times[:, None] - dt * np.arange(k)[None, :]).reshape(-1)  # (T*k,) frame f's sub-frames f*k .. f*k+k-1
    tracks = animate(list(plan.phases), len(word), sub_times, em, layout.offsets, anim_rng)
    main = dataclasses.replace(tracks, channels={c: v[::k] for c, v in tracks.channels.items()}, moving=tracks.moving[::k])
    cam_noise = anim_rng.random((len(sub_times), 2))

    # -- draw ------------------------------------------------------------------------------------
    painter = FramePainter(layout, _glyphs(lib, plan, layout), plan.style, Background(plan.background, size, COLOURS[plan.style.palette.text]),
                           plan.camera, stable_seed("texture", template.id, seed) % (2**31))
    still = still_frames(main, plan.camera)
    # Sub-frame s shows the same letters as s - 1: held letters are drawn once per hold, not per frame.
    same_text = still_frames(tracks, plan.camera)
    rgba = np.empty((num_frames, size, size, 4), np.uint8)
    instance = np.empty((num_frames, size, size), np.uint8)
    boxes = np.empty((num_frames, len(word), 4), np.float32)
    text_layer = None  # (H, W, 4) premultiplied letters of the current hold, over a moving background
    if k > 1:
        subs = np.empty((k, size, size, 4), np.uint8)
        acc = np.empty((size, size, 4), np.uint16)
        mean_of_k = np.rint(np.arange(255 * k + 1) / k).astype(np.uint8)  # exact rounded mean, as a lookup
    for f in range(num_frames):
        held = f > 0 and bool(same_text[(f - 1) * k + 1: (f + 1) * k].all())  # every sub-frame of f-1 and f alike
        if held and painter.background.static:  # the whole picture is the previous frame's
            rgba[f] = rgba[f - 1]
        elif held and k == 1:
            if text_layer is None:
                text_layer = np.empty((size, size, 4), np.uint8)
                painter.paint_text_layer(tracks, f, times[f], text_layer, cam_noise[f])
            painter.paint_frame(tracks, f, times[f], rgba[f], cam_noise[f], text_layer=text_layer)
        elif k == 1:
            painter.paint_frame(tracks, f, times[f], rgba[f], cam_noise[f])
        elif painter.background.static and same_text[f * k + 1: (f + 1) * k].all():  # shutter sees no motion
            painter.paint_frame(tracks, f * k, sub_times[f * k], rgba[f], cam_noise[f * k])
        else:  # motion blur: the rounded mean of the sub-frames inside the shutter
            for j in range(k):
                painter.paint_frame(tracks, f * k + j, sub_times[f * k + j], subs[j], cam_noise[f * k + j])
            np.sum(subs, axis=0, dtype=np.uint16, out=acc)
            np.take(mean_of_k, acc, out=rgba[f])
        if not held:
            text_layer = None
        if f > 0 and still[f]:  # nothing that shapes the mask changed: same mask, same boxes
            instance[f] = instance[f - 1]
            boxes[f] = boxes[f - 1]
        else:
            painter.paint_mask(main, f, times[f], instance[f], boxes[f], cam_noise[f * k])

    # -- captions and metadata --------------------------------------------------------------------
    rest = at_rest(main, em) & (plan.camera.kind != "shake" or plan.camera.amount < 0.01)
    captions = make_captions(word, font, plan.style, list(plan.phases), plan.background, plan.camera,
                             template.motion_tag, np.random.default_rng(stable_seed("captions", template.id, word, seed)))
    meta = {
        "template": template.id, "tags": list(template.tags), "word": word, "seed": seed, "size": size,
        "num_frames": num_frames, "fps": fps,
        "font": {"id": font.id, "family": font.family, "style": font.style, "licence": font.licence},
        "plan": dataclasses.asdict(plan),
        "at_rest_frames": [int(i) for i in np.flatnonzero(rest)],
    }
    return Clip(frames=rgba[..., :3], instance_map=instance, boxes=boxes, at_rest=rest, captions=captions, fps=fps, word=word,
                metadata=meta)
