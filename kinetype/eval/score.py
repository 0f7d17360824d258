"""One clip -> one row of measures: legibility per reader, motion and colour fidelity, flicker.

Pure apart from the readers: ``score_clip(item, frames, reference, readers)`` compares ``frames``
(an engine render itself, or a generated clip) with the engine's reference render of the same
(template, word, seed). The reference decides which frames are at rest, where the glyphs are and
which colours the caption names.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from kinetype.eval.evalset import EvalItem
from kinetype.eval.lookalikes import lookalike_map
from kinetype.eval.measures import (delta_e, dilate, erode, flicker, frame_ious, loop_seam, mask_iou, mean_colour, vote,
                                     word_scores)
from kinetype.eval.readers import Reader, Reading
from kinetype.eval.regions import DEFAULT_FINDER, FINDERS, NEEDS_BOXES, RegionHints, find_text
from kinetype.render.clip import Clip

MAX_READ_FRAMES = 3  # the first, middle and last at-rest frames are read (OCR is the slow part)
BACKGROUND_GAP_PX = 3  # background colour is measured this far from the glyphs (shadows, glows, edges)


def read_frames(at_rest: np.ndarray) -> list[int]:
    """Indices of the at-rest frames to read: first, middle, last (fewer when fewer rest)."""
    rest = np.flatnonzero(at_rest)
    if len(rest) == 0:
        return []
    picks = [rest[0], rest[len(rest) // 2], rest[-1]] if MAX_READ_FRAMES >= 3 else [rest[len(rest) // 2]]
    return sorted({int(i) for i in picks})


def clip_labels(item: EvalItem, reference: Clip) -> dict[str, Any]:
    """What the breakdowns group by: the clip's font class, look and motion."""
    plan, font = reference.plan, reference.font
    return {
        "index": item.index, "template": item.template_id, "word": item.word, "seed": item.seed,
        "word type": item.word_type, "motion": item.motion, "font": font.id, "font class": list(font.classes),
        "effect": plan.style.effect, "fill": plan.style.fill, "background": plan.background.kind,
        "camera": plan.camera.kind, "palette": plan.style.palette.mood,
        "motion category": [t for t in reference.tags if t in ("position", "size", "glyph")],
    }


def read_picks(frames: np.ndarray, picks: list[int], reader: Reader) -> list[Reading]:
    """Readings of ``frames[picks]``; a frame identical to one already read is not read again."""
    out: list[Reading] = []
    for j, f in enumerate(picks):
        same = next((out[k] for k in range(j) if np.array_equal(frames[picks[k]], frames[f])), None)
        out.append(same or reader.read(frames[f]))
    return out


def score_clip(item: EvalItem, frames: np.ndarray, reference: Clip, readers: Mapping[str, Reader], *,
               compare_finders: bool = False, finder: str = DEFAULT_FINDER) -> dict[str, Any]:
    """Measures of one clip (T, H, W, 3) against its reference render. Legibility and colour need
    at-rest frames: a clip whose reference never comes to rest has ``rest`` False and only the
    motion and flicker measures. ``compare_finders``: also the IoU of every region finder on the
    read frames (``iou.<finder>``), for choosing one on renders."""
    row = clip_labels(item, reference)
    pal = reference.plan.style.palette
    text_rgb, bg_rgb = pal.rgb("text"), pal.rgb("background")
    truth = reference.text_mask  # (T, H, W)
    picks = read_frames(reference.at_rest)
    row["rest"] = bool(picks)
    row["read_frames"] = picks

    # -- legibility: every reader on the picked frames, then a vote --------------------------------
    alike = lookalike_map(row["font"])
    readings: dict[str, list[Reading]] = {}
    for name, reader in readers.items():
        rs = read_picks(frames, picks, reader) if picks else []
        readings[name] = rs
        clip_read = vote([(r.text, r.confidence) for r in rs])
        row[f"{name}.read"] = clip_read
        if picks:
            for k, v in word_scores(clip_read, item.word, alike).items():
                row[f"{name}.{k}"] = v
            row[f"{name}.frame_ci"] = float(np.mean([word_scores(r.text, item.word, alike)["ci"] for r in rs]))

    # -- motion fidelity: the text region found in each frame against the reference's glyphs ------
    boxes = readings.get("ppocr")
    hints = [RegionHints(text_rgb, bg_rgb) for _ in range(len(frames))]
    if finder in NEEDS_BOXES:
        raise ValueError(f"finder {finder!r} needs OCR boxes on every frame; choose one of "
                         f"{sorted(set(FINDERS) - NEEDS_BOXES)}")
    found = np.stack([find_text(f, h, finder) for f, h in zip(frames, hints)])
    row["iou"] = float(frame_ious(found, truth).mean())
    if compare_finders and picks:
        for name in FINDERS:
            if name in NEEDS_BOXES and boxes is None:
                continue
            ious = [mask_iou(find_text(frames[f], RegionHints(text_rgb, bg_rgb, boxes[j].boxes if boxes else None), name), truth[f])
                    for j, f in enumerate(picks)]
            row[f"iou.{name}"] = float(np.mean(ious))

    # -- colour fidelity: mean colours inside / away from the reference glyphs, at rest -----------
    if picks:
        inside = erode(truth[picks], 1)  # anti-aliased edges mix both colours
        outside = ~dilate(truth[picks], BACKGROUND_GAP_PX)
        text_mean, bg_mean = mean_colour(frames[picks], inside), mean_colour(frames[picks], outside)
        row["text_delta_e"] = float(delta_e(text_mean, text_rgb)) if text_mean is not None else float("nan")
        row["background_delta_e"] = float(delta_e(bg_mean, bg_rgb)) if bg_mean is not None else float("nan")

    # -- temporal stability -----------------------------------------------------------------------
    row["flicker"] = flicker(frames, reference.frames)
    row["loop_seam"] = loop_seam(frames)
    row["thumb_frame"] = picks[len(picks) // 2] if picks else len(frames) // 2
    return row
