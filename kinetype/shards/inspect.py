"""`kinetype shards inspect DIR [--sheet FILE.png]`: a summary of a dataset and a contact sheet of
random samples with their captions."""

from __future__ import annotations

import io
import json
import random
import textwrap
from collections import Counter
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kinetype.errors import KinetypeError
from kinetype.fsutil import atomic_path, check_output_file
from kinetype.shards.layout import ShardReader, parquet_name, read_render_record, read_stats, tar_name
from kinetype.shards.manifest import read_manifest
from kinetype.shards.storage import LocalStorage


def damaged_shards(storage: LocalStorage, stats: list[dict]) -> list[str]:
    """Complete shards (by their stats) whose tar is missing or not the size its stats record: a cheap
    check (no decoding, no checksum; `kinetype shards verify` does those)."""
    damaged = []
    for st in stats:
        path = Path(storage.url(tar_name(st["shard"])))
        if not path.is_file():
            damaged.append(f"{path.name} missing")
        elif st.get("tar_bytes") is not None and path.stat().st_size != st["tar_bytes"]:
            damaged.append(f"{path.name} is {path.stat().st_size} bytes, its stats say {st['tar_bytes']}")
        elif not storage.exists(parquet_name(st["shard"])):
            damaged.append(f"{parquet_name(st['shard'])} missing")
    return damaged


def summary(folder: str | Path) -> dict:
    storage = LocalStorage(folder)
    config = read_render_record(storage).config
    num_shards = config.num_shards
    stats = [dict(s, shard=s.get("shard", k)) for k, s in ((k, read_stats(storage, k)) for k in range(num_shards)) if s]
    damaged = damaged_shards(storage, stats)
    rows = read_manifest(storage).to_pylist()
    samples = sum(int(s.get("samples", 0)) for s in stats)
    tar_bytes = sum(int(s.get("tar_bytes", 0)) for s in stats)
    return {
        "folder": str(folder),
        "config": config,
        "shards_complete": len(stats) - len(damaged),
        "shards": num_shards,
        "damaged": damaged,
        "samples": samples,
        "failed": sum(int(s.get("failed", 0)) for s in stats),
        "tar_bytes": tar_bytes,
        "bytes_per_sample": tar_bytes / samples if samples else 0.0,
        "templates": Counter(r.get("template", "") for r in rows),
        "categories": Counter(t for r in rows for t in r.get("tags") or []),
        "fonts": Counter(r.get("font", "") for r in rows),
        "motions": Counter(r.get("motion", "") for r in rows),
    }


def print_summary(info: dict, console: Console, top: int = 8) -> None:
    cfg = info["config"]
    table = Table(title=escape(f"dataset {info['folder']}"), show_header=False)
    damaged = info.get("damaged") or []
    listed = f"{info['samples']} of {cfg.n} planned ({info['failed']} failed to render)"
    table.add_row("samples", listed + (" according to the stats: some shards are damaged" if damaged else ""))
    table.add_row("shards", f"{info['shards_complete']} of {info['shards']} complete"
                  + (f", [red]{len(damaged)} damaged[/red]: {escape('; '.join(damaged[:3]))}"
                     f"{' …' if len(damaged) > 3 else ''} (run `kinetype shards verify`)" if damaged else ""))
    table.add_row("clips", f"{cfg.size}×{cfg.size} px, {cfg.num_frames} frames, {cfg.fps} fps")
    table.add_row("bytes", f"{info['tar_bytes'] / 2**20:.1f} MiB, {info['bytes_per_sample'] / 1024:.1f} KiB per sample")
    for title in ("templates", "categories", "fonts", "motions"):
        counts = info[title]
        shown = escape(", ".join(f"{k or '(none)'} {v}" for k, v in counts.most_common(top)))
        more = f" … (+{len(counts) - top})" if len(counts) > top else ""
        table.add_row(f"{title} ({len(counts)})", shown + more)
    console.print(table)


def _read_samples(storage: LocalStorage, shard: int, keys: set[str]) -> dict[str, dict[str, bytes]]:
    """The samples ``keys`` of the shard; a damaged tar is a one-line ShardReadError naming it."""
    return {key: members for key, members in ShardReader(storage, shard) if key in keys}


def _frames(mp4: bytes) -> np.ndarray:
    with av.open(io.BytesIO(mp4)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def contact_sheet(folder: str | Path, out: str | Path, samples: int = 6, frames_per_row: int = 8, seed: int = 0,
                  thumb_px: int = 96) -> list[str]:
    """Writes a PNG: one row per random sample, ``frames_per_row`` evenly spaced frames, its key,
    template, word and captions beneath. Returns the keys shown."""
    storage = LocalStorage(folder)
    manifest = read_manifest(storage)
    if not {"key", "shard"} <= set(manifest.column_names):
        raise KinetypeError(f"{folder}: the manifest has no key/shard columns (run `kinetype shards verify`)")
    rows = manifest.select(["key", "shard"]).to_pylist()
    if not rows:
        raise KinetypeError(f"{folder}: no samples to show")
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
        members = data.get(r["key"], {})
        try:
            meta = json.loads(members["json"])
            frames = _frames(members["mp4"])
        except (KeyError, ValueError, av.error.FFmpegError) as e:
            raise KinetypeError(f"{folder}: sample {r['key']} is damaged ({type(e).__name__}: {e}); "
                                "run `kinetype shards verify`") from None
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
    with atomic_path(out) as tmp:
        sheet.save(tmp, format="PNG")
    return [r["key"] for r in chosen]


def inspect_dataset(folder: str | Path, sheet: str | Path | None = None, samples: int = 6, seed: int = 0,
                    console: Console | None = None) -> dict:
    console = console or Console()
    if samples < 1:  # every argument checked before anything is read or written
        raise KinetypeError(f"--samples must be at least 1, got {samples}")
    if sheet is not None:
        if Path(sheet).suffix.lower() != ".png":
            raise KinetypeError(f"--sheet {sheet}: the contact sheet is a .png file")
        check_output_file(sheet, "--sheet")
    info = summary(folder)
    print_summary(info, console)
    if sheet:
        keys = contact_sheet(folder, sheet, samples=samples, seed=seed)
        console.print(f"contact sheet of {len(keys)} samples written to {sheet}", markup=False, highlight=False)
    return info
