"""Shared helpers for the dataset tests: a tiny fake engine (numpy rectangles as letters) for the
tests that must force failures, and a small real-template render used by the round trips."""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from kinetype.render.animation import PhasePlan
from kinetype.render.clip import Captions, Clip
from kinetype.render.fonts import FontInfo
from kinetype.render.palettes import Palette
from kinetype.render.plan import ClipPlan
from kinetype.render.scene import BackgroundPlan, CameraPlan
from kinetype.render.style import StylePlan
from kinetype.render.words import word_caption

REPO = Path(__file__).resolve().parents[1]
TINY = dict(size=64, num_frames=8, fps=8)


@dataclass(frozen=True)
class FakeTemplate:
    id: str
    tags: tuple = ("position", "enter")
    motion_tag: str = "slide in"
    description: str = "fake"
    source: Path | None = None


FAKE_TEMPLATES = [FakeTemplate("fake_a"), FakeTemplate("fake_b", ("size", "emphasis"), "pulse")]


def fake_render(template, word, seed, size=64, num_frames=8, fps=8) -> Clip:
    """Letters as coloured rectangles sliding in from the left; deterministic in (template, word, seed)."""
    if template.id.startswith("fail"):
        raise RuntimeError(f"template {template.id} always fails")
    rng = np.random.default_rng([seed, len(word)])
    n = len(word)
    frames = np.zeros((num_frames, size, size, 3), np.uint8)
    frames[...] = rng.integers(0, 255, 3, dtype=np.uint8)
    instance = np.zeros((num_frames, size, size), np.uint8)
    boxes = np.full((num_frames, n, 4), np.nan, np.float32)
    cell = max(1, (size - 8) // max(n, 1))
    for t in range(num_frames):
        shift = int((num_frames - 1 - t) * size / (2 * num_frames))
        for k in range(n):
            if k > t + 1:
                continue  # hidden until its turn
            x0, y0 = 4 + k * cell - shift, size // 3
            x1, y1 = x0 + max(1, cell - 1), y0 + size // 3
            xa, xb = max(0, x0), max(0, min(size, x1))
            if xb <= xa:
                continue
            instance[t, y0:y1, xa:xb] = k + 1
            frames[t, y0:y1, xa:xb] = (255, 220, 40)
            boxes[t, k] = (xa, y0, xb, y1)
    at_rest = np.zeros(num_frames, bool)
    at_rest[-2:] = True
    captions = Captions(static=f"gold letters on a flat background ({template.id})",
                        dynamic="the letters slide in from the left one by one", word=word_caption(word),
                        motion_tag=template.motion_tag)
    font = FontInfo(family="Fake Sans", style="Bold", weight=700, italic=False, classes=("sans",), path=Path("fake.ttf"),
                    licence="OFL-1.1", licence_file=Path("OFL.txt"), package="fake", caps_only=False)
    phase = PhasePlan(phase="enter", motion="fly", start=0.0, end=0.5, easing="linear", order="left-to-right", unit="letter",
                      overlap=0.5, params={"angle": np.float32(0.5)})
    plan = ClipPlan(template_id=template.id, word=word, seed=seed, size=size, num_frames=num_frames, fps=fps, phases=(phase,),
                    style=StylePlan(font_id=font.id, alt_font_ids=(), palette=Palette("warm", "gold", "grey", "white"),
                                    fill="solid", effect="none", motion_blur=False),
                    background=BackgroundPlan("solid", (128, 128, 128), 0.0, 0.0, 0), camera=CameraPlan("none", 0.0, 0))
    return Clip(frames, instance, boxes, at_rest, captions, plan, font, template.tags)


def encode_mp4(frames: np.ndarray, fps: int, crf: int = 23) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        s.options = {"crf": str(crf), "preset": "veryfast", "threads": "1"}  # threads: deterministic bytes
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return buf.getvalue()


def fake_config(tmp_path: Path, n: int = 10, shard_size: int = 4, **kw):
    from kinetype.shards.plan import RenderConfig

    return RenderConfig(templates=tmp_path / "no-templates", n=n, shard_size=shard_size, **{**TINY, **kw})


def render_fake(tmp_path: Path, out: Path | None = None, templates=None, **kw):
    from kinetype.shards.run import render_dataset

    out = out or tmp_path / "ds"
    config = fake_config(tmp_path, **{k: v for k, v in kw.items() if k not in ("workers",)})
    summary = render_dataset(config, out, workers=kw.get("workers", 1), templates=templates or FAKE_TEMPLATES,
                             render_fn=fake_render, encode_fn=encode_mp4, progress=False)
    return out, summary


def copy_some_templates(dest: Path, count: int = 3) -> Path:
    """A small templates folder (the first few of the repository's templates)."""
    dest.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in (REPO / "templates").iterdir() if p.suffix in (".toml", ".yaml", ".yml", ".json"))
    for p in files[:count]:
        shutil.copy(p, dest / p.name)
    return dest


def test_fake_render_is_consistent():
    clip = fake_render(FAKE_TEMPLATES[0], "Hello", 3)
    assert clip.frames.shape == (8, 64, 64, 3) and clip.instance_map.max() == 5
    visible = ~np.isnan(clip.boxes[..., 0])
    for t, k in zip(*np.nonzero(visible)):
        assert (clip.instance_map[t] == k + 1).any()
