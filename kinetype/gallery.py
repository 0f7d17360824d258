"""Things to look at: one clip as mp4/gif/png, and PNG sheets of every template.

I/O edge of the engine: it calls :func:`render_clip` and writes files atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from kinetype.errors import KinetypeError, whole
from kinetype.fsutil import atomic_path, check_output_dir, check_output_file
from kinetype.media import MAX_SHEET_ROWS, VIDEO_SUFFIXES, contact_sheet, write_video
from kinetype.render.engine import render_clip
from kinetype.render.fonts import FontLibrary
from kinetype.render.schema import Template
from kinetype.render.settings import ClipSettings

def check_preview_args(out: Path, *, size: int, num_frames: int, fps: int, masks: bool) -> Path:
    """Every check of a preview's output, before anything is rendered or written."""
    out = Path(out)
    ClipSettings(size, num_frames, fps)
    suffix = out.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise KinetypeError(f"--out {out}: unknown suffix {out.suffix!r} (use .mp4, .gif or .png)")
    if masks and suffix != ".png":
        raise KinetypeError(f"--masks draws the glyph masks on a .png contact sheet; --out {out} is a {suffix} video")
    if suffix == ".mp4" and size % 2:
        raise KinetypeError(f"--size must be even for .mp4 (H.264 4:2:0 halves the colour planes), got {size}")
    return check_output_file(out, "--out")


def preview(template: Template, word: str, seed: int, out: Path, *, size: int = ClipSettings.size,
            num_frames: int = ClipSettings.frames, fps: int = ClipSettings.fps, masks: bool = False) -> dict:
    """Render one clip and write it: ``.mp4``/``.gif`` as video, ``.png`` as a contact sheet
    (with ``masks``, each frame's instance mask beside it). Returns the captions and metadata."""
    out = check_preview_args(out, size=size, num_frames=num_frames, fps=fps, masks=masks)  # before anything is written
    if seed < 0:
        raise KinetypeError(f"--seed must be 0 or more, got {seed}")
    clip = render_clip(template, word, seed, size=size, num_frames=num_frames, fps=fps)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".png":
        caption = f"{template.id} | {clip.captions.motion_tag}\n{clip.captions.static}\n{clip.captions.dynamic}"
        sheet = contact_sheet(clip.frames, columns=8, masks=clip.instance_map if masks else None,
                              labels=[f"{i}{'*' if r else ''}" for i, r in enumerate(clip.at_rest)], caption=caption)
        with atomic_path(out) as tmp:
            Image.fromarray(sheet).save(tmp, format="PNG")
    else:
        write_video(out, clip.frames, fps)
    return {"captions": clip.captions.as_dict(), "metadata": clip.metadata}


def template_records(templates: list[Template]) -> list[dict]:
    """One JSON-able record per template (id, tags, motion tag, description, motions, source file)."""

    def motions(t: Template) -> dict:
        return {name: p.motion for name, p in t.phases()}

    return [{"id": t.id, "tags": list(t.tags), "motion_tag": t.motion_tag, "description": t.description,
             "motions": motions(t), "file": str(t.source)} for t in templates]


def template_sheets(templates: list[Template], out_dir: Path, *, word: str = "Type", per_sheet: int = 20,
                    size: int = 96, frames_shown: int = 8, seed: int = 0) -> list[Path]:
    """PNG gallery: each sheet shows ``per_sheet`` templates as rows of ``frames_shown`` frames with the id."""
    out_dir = Path(out_dir)
    clip_settings = ClipSettings(size=size)  # the default frames and fps, of which frames_shown are shown
    whole("--per-sheet", per_sheet, 1, MAX_SHEET_ROWS)
    if seed < 0:
        raise KinetypeError(f"--seed must be 0 or more, got {seed}")
    if not templates:
        raise KinetypeError("no templates to draw")
    check_output_dir(out_dir, "--out")
    out_dir.mkdir(parents=True, exist_ok=True)
    label_w = 230
    paths = []
    lib = FontLibrary.load()
    with Progress(TextColumn("sheets"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()) as bar:
        task = bar.add_task("", total=len(templates))
        for start in range(0, len(templates), per_sheet):
            chunk = templates[start:start + per_sheet]
            sheet = Image.new("RGB", (label_w + frames_shown * size, len(chunk) * size), (24, 24, 28))
            draw = ImageDraw.Draw(sheet)
            for row, t in enumerate(chunk):
                clip = render_clip(t, word, seed, size=size, num_frames=clip_settings.frames, fps=clip_settings.fps, fonts=lib)
                pick = np.linspace(0, clip.num_frames - 1, frames_shown).round().astype(int)
                strip = np.concatenate(list(clip.frames[pick]), axis=1)
                sheet.paste(Image.fromarray(strip), (label_w, row * size))
                draw.text((6, row * size + 6), t.id, fill=(240, 240, 240))
                draw.text((6, row * size + 22), ", ".join(t.tags), fill=(160, 200, 255))
                draw.text((6, row * size + 38), t.motion_tag, fill=(255, 210, 120))
                bar.advance(task)
            path = out_dir / f"templates_{start // per_sheet:03d}.png"
            with atomic_path(path) as tmp:
                sheet.save(tmp, format="PNG")
            paths.append(path)
    index = out_dir / "index.json"
    with atomic_path(index) as tmp:
        Path(tmp).write_text(json.dumps({"sheets": [p.name for p in paths], "templates": [t.id for t in templates]}, indent=1))
    return paths

