"""`kinetype shards inspect DIR [--sheet FILE.png]`: a summary of a dataset and a contact sheet of
random samples with their captions."""

from __future__ import annotations

import io
import json
import random
import tarfile
import textwrap
from collections import Counter
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from rich.console import Console
from rich.table import Table

from kinetype.shards.manifest import read_manifest, read_render_config
from kinetype.shards.writer import LocalStorage, read_stats, shard_name


def summary(folder: str | Path) -> dict:
    storage = LocalStorage(folder)
    record = read_render_config(storage)
    config = record["config"]
    num_shards = -(-config["n"] // config["shard_size"])
    stats = [s for s in (read_stats(storage, k) for k in range(num_shards)) if s]
    rows = read_manifest(storage).to_pylist()
    samples = sum(s["samples"] for s in stats)
    tar_bytes = sum(s["tar_bytes"] for s in stats)
    return {
        "folder": str(folder),
        "config": config,
        "shards_complete": len(stats),
        "shards": num_shards,
        "samples": samples,
        "failed": sum(s["failed"] for s in stats),
        "tar_bytes": tar_bytes,
        "bytes_per_sample": tar_bytes / samples if samples else 0.0,
        "templates": Counter(r["template"] for r in rows),
        "categories": Counter(t for r in rows for t in r.get("tags") or []),
        "fonts": Counter(r.get("font", "") for r in rows),
        "motions": Counter(r.get("motion", "") for r in rows),
    }


def print_summary(info: dict, console: Console, top: int = 8) -> None:
    cfg = info["config"]
    table = Table(title=f"dataset {info['folder']}", show_header=False)
    table.add_row("samples", f"{info['samples']} of {cfg['n']} planned ({info['failed']} failed to render)")
    table.add_row("shards", f"{info['shards_complete']} of {info['shards']} complete")
    table.add_row("clips", f"{cfg['size']}×{cfg['size']} px, {cfg['num_frames']} frames, {cfg['fps']} fps")
    table.add_row("bytes", f"{info['tar_bytes'] / 2**20:.1f} MiB, {info['bytes_per_sample'] / 1024:.1f} KiB per sample")
    for title in ("templates", "categories", "fonts", "motions"):
        counts = info[title]
        shown = ", ".join(f"{k or '(none)'} {v}" for k, v in counts.most_common(top))
        more = f" … (+{len(counts) - top})" if len(counts) > top else ""
        table.add_row(f"{title} ({len(counts)})", shown + more)
    console.print(table)


def _read_samples(storage: LocalStorage, shard: int, keys: set[str]) -> dict[str, dict[str, bytes]]:
    out: dict[str, dict[str, bytes]] = {}
    with tarfile.open(storage.url(shard_name(shard) + ".tar"), mode="r:") as tar:
        for member in tar:
            key, _, ext = member.name.partition(".")
            if key in keys and ext in ("mp4", "json"):
                out.setdefault(key, {})[ext] = tar.extractfile(member).read()
    return out


def _frames(mp4: bytes) -> np.ndarray:
    with av.open(io.BytesIO(mp4)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def contact_sheet(folder: str | Path, out: str | Path, samples: int = 6, frames_per_row: int = 8, seed: int = 0,
                  thumb_px: int = 96) -> list[str]:
    """Writes a PNG: one row per random sample, ``frames_per_row`` evenly spaced frames, its key,
    template, word and captions beneath. Returns the keys shown."""
    storage = LocalStorage(folder)
    rows = read_manifest(storage).select(["key", "shard"]).to_pylist()
    if not rows:
        raise FileNotFoundError(f"{folder}: no samples to show")
    chosen = random.Random(seed).sample(rows, min(samples, len(rows)))
    by_shard: dict[int, set[str]] = {}
    for r in chosen:
        by_shard.setdefault(int(r["shard"]), set()).add(r["key"])
    data = {}
    for shard, keys in by_shard.items():
        data.update(_read_samples(storage, shard, keys))
    font = ImageFont.load_default()
    text_h = 52
    width = frames_per_row * thumb_px
    sheet = Image.new("RGB", (width, len(chosen) * (thumb_px + text_h)), "white")
    draw = ImageDraw.Draw(sheet)
    for row, r in enumerate(sorted(chosen, key=lambda r: r["key"])):
        members = data[r["key"]]
        meta = json.loads(members["json"])
        frames = _frames(members["mp4"])
        picks = np.linspace(0, len(frames) - 1, frames_per_row).round().astype(int)
        y = row * (thumb_px + text_h)
        for col, t in enumerate(picks):
            thumb = Image.fromarray(frames[t]).resize((thumb_px, thumb_px), Image.BILINEAR)
            sheet.paste(thumb, (col * thumb_px, y))
        caps = meta["captions"]
        lines = [f"{r['key']}  {meta['template']}  '{meta['word']}'  [{caps['motion']}]",
                 *textwrap.wrap(f"static: {caps['static']}", width // 6)[:1],
                 *textwrap.wrap(f"dynamic: {caps['dynamic']}", width // 6)[:2]]
        for i, line in enumerate(lines[:4]):
            draw.text((4, y + thumb_px + 2 + 12 * i), line, fill="black", font=font)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return [r["key"] for r in chosen]


def inspect_dataset(folder: str | Path, sheet: str | Path | None = None, samples: int = 6, seed: int = 0,
                    console: Console | None = None) -> dict:
    console = console or Console()
    info = summary(folder)
    print_summary(info, console)
    if sheet:
        keys = contact_sheet(folder, sheet, samples=samples, seed=seed)
        console.print(f"contact sheet of {len(keys)} samples written to {sheet}")
    return info
