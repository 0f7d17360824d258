"""``render_clip``: template + word + seed → :class:`Clip`. Pure: touches no files but the fonts it reads.

Pipeline: sample a concrete :class:`~kinetype.render.plan.ClipPlan` from the template's ranges
(:mod:`kinetype.render.plan`) → shape and fit the word → per-letter tracks → draw frames and masks
→ captions from the plan. Every random choice comes from seeded streams (see the plan module).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from kinetype.errors import KinetypeError, random_seed
from kinetype.render.captions import make_captions
from kinetype.render.animation import animate, at_rest, frame_times
from kinetype.render.canvas import FramePainter, Glyphs, MaskPainter
from kinetype.render.clip import Clip
from kinetype.render.fonts import FontLibrary
from kinetype.render.layout import layout_word, substitute_path
from kinetype.render.palettes import COLOURS
from kinetype.render.plan import ClipPlan, plan_clip, stable_seed
from kinetype.render.scene import Background, CameraPlan
from kinetype.render.schema import Template
from kinetype.render.settings import ClipSettings
from kinetype.render.words import LETTERS, validate_word

MOTION_BLUR_SAMPLES = 3  # sub-frames averaged per frame when a template asks for motion blur
SHUTTER = 0.5  # fraction of a frame interval the virtual shutter stays open (180° shutter)


def _glyphs(lib: FontLibrary, plan: ClipPlan, layout) -> Glyphs:
    """The word's outlines plus substitutes: four random other letters per letter (shown while the
    scramble channel is on, whichever motion sets it) and the word in each alternative font."""
    font = lib.get(plan.style.font_id)
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


def render_clip(template: Template, word: str, seed: int, size: int = ClipSettings.size,
                num_frames: int = ClipSettings.frames, fps: int = ClipSettings.fps, *, fonts: FontLibrary | None = None,
                pixels: bool = True, loop: bool = False) -> Clip:
    """Render one clip: frames ``(T, H, W, 3)``, instance masks, letter boxes, at-rest frames, captions, plan.

    ``pixels=False`` paints no frame (``frames`` is None) for callers that need only the captions,
    masks, boxes and at-rest frames: those are the same bytes as in the full render.

    ``loop``: the clip made to loop (a model's ``--loop`` takes its glyph layout from it). A template
    whose letters end where they start (enter and exit, most emphases) plays as usual; any other —
    an entrance that stays, an exit — plays as a boomerang, forward and back
    (:func:`~kinetype.render.animation.frame_times`), so that the frame after the last would be the
    first again. The boomerang starts (and closes) at whichever end of the motion is stiller: an
    entrance's loop opens on the word at rest, plays the entrance backwards and then forwards, and the
    jump back from its last frame to its first is a step between frames at rest.
    """
    if not isinstance(template, Template):
        raise KinetypeError(f"template must be a Template (from kinetype.render.templates.load_templates), "
                            f"got {type(template).__name__}")
    validate_word(word)
    random_seed(seed, "seed")
    ClipSettings(size, num_frames, fps)  # one line naming --size, --frames or --fps
    lib = fonts or FontLibrary.load()
    plan = plan_clip(template, word, seed, size, num_frames, fps, lib)
    font = lib.get(plan.style.font_id)
    layout = layout_word(lib, font, word, size)
    em = layout.em_px / size
    k = MOTION_BLUR_SAMPLES if plan.style.motion_blur else 1
    glyphs = _glyphs(lib, plan, layout)
    texture_seed = stable_seed("texture", template.id, seed) % (2**31)
    mask_painter = MaskPainter(layout, glyphs, plan.camera, texture_seed)

    def timeline(boomerang: str | None):
        """The tracks at every frame's time: (times (T,), sub-frame times (T*k,), tracks at them,
        camera noise (T*k, 2)); one track sample per frame, or k inside the shutter for motion blur."""
        times = frame_times(num_frames, boomerang)
        if boomerang:  # the shutter trails each frame's own step, backwards on the way back
            step = (times - np.roll(times, 1)) * SHUTTER / k
        else:
            step = np.full(num_frames, SHUTTER / max(num_frames - 1, 1) / k)
        sub_times = (times[:, None] - step[:, None] * np.arange(k)[None, :]).reshape(-1)  # frame f: f*k .. f*k+k-1
        anim_rng = np.random.default_rng(stable_seed("animate", template.id, word, seed))
        tracks = animate(list(plan.phases), len(word), sub_times, em, layout.offsets, anim_rng)
        return times, sub_times, tracks, anim_rng.random((len(sub_times), 2))

    def masks(tracks, times, cam_noise):
        main = dataclasses.replace(tracks, channels={c: v[::k] for c, v in tracks.channels.items()}, moving=tracks.moving[::k])
        return main, *_paint_masks(mask_painter, main, times, cam_noise[::k])

    times, sub_times, tracks, cam_noise = timeline(boomerang=None)
    main, instance, boxes = masks(tracks, times, cam_noise)
    if loop and not layout_loops(instance):
        times, sub_times, tracks, cam_noise = timeline(boomerang=stiller_end(instance))
        main, instance, boxes = masks(tracks, times, cam_noise)

    # -- draw ------------------------------------------------------------------------------------
    frames = None
    if pixels:
        painter = FramePainter(layout, glyphs, plan.style, Background(plan.background, size, COLOURS[plan.style.palette.text]),
                               plan.camera, texture_seed)
        frames = _paint_frames(painter, tracks, k, times, sub_times, cam_noise)[..., :3]

    # -- at-rest frames and captions --------------------------------------------------------------
    rest = at_rest(main, em) & (plan.camera.kind != "shake" or plan.camera.amount < 0.01)
    captions = make_captions(word, font, plan.style, list(plan.phases), plan.background, plan.camera,
                             template.motion_tag, np.random.default_rng(stable_seed("captions", template.id, word, seed)))
    return Clip(frames=frames, instance_map=instance, boxes=boxes, at_rest=rest, captions=captions, plan=plan,
                font=font, tags=template.tags)


def layout_loops(instance: np.ndarray) -> bool:
    """Whether a glyph layout ``(T, H, W)`` already loops: the change from its last frame back to its
    first (the share of pixels that change cover) is no larger than its median step between frames."""
    covered = instance > 0
    steps = (covered[1:] != covered[:-1]).mean(axis=(1, 2))  # (T-1,)
    jump = float((covered[0] != covered[-1]).mean())
    return jump == 0.0 or (len(steps) > 0 and jump <= float(np.median(steps)))


def stiller_end(instance: np.ndarray) -> str:
    """``"end"`` when a glyph layout ``(T, H, W)`` changes less over its last step than over its first
    (an entrance that comes to rest), else ``"start"``: where a boomerang loop of it should close."""
    covered = instance > 0
    first, last = (float((covered[a] != covered[b]).mean()) for a, b in ((0, 1), (-2, -1)))
    return "end" if last <= first else "start"


def _paint_masks(painter: MaskPainter, main, times: np.ndarray, cam_noise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Instance maps ``(T, H, W)`` uint8 and letter boxes ``(T, N, 4)`` of every frame (``main``: one
    track sample per frame; ``cam_noise`` ``(T, 2)``)."""
    num_frames, n = main.moving.shape
    size = painter.size
    still = still_frames(main, painter.camera)
    instance = np.empty((num_frames, size, size), np.uint8)
    boxes = np.empty((num_frames, n, 4), np.float32)
    for f in range(num_frames):
        if f > 0 and still[f]:  # nothing that shapes the mask changed: same mask, same boxes
            instance[f] = instance[f - 1]
            boxes[f] = boxes[f - 1]
        else:
            painter.paint_mask(main, f, times[f], instance[f], boxes[f], cam_noise[f])
    return instance, boxes


def _paint_frames(painter: FramePainter, tracks, k: int, times: np.ndarray, sub_times: np.ndarray,
                  cam_noise: np.ndarray) -> np.ndarray:
    """RGBA frames ``(T, H, W, 4)``; ``tracks`` has ``k`` samples per frame (motion blur when k > 1)."""
    num_frames, size = len(times), painter.size
    # Sub-frame s shows the same letters as s - 1: held letters are drawn once per hold, not per frame.
    same_text = still_frames(tracks, painter.camera)
    rgba = np.empty((num_frames, size, size, 4), np.uint8)
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
    return rgba
