"""`kinetype shards inspect DIR [--sheet FILE.png]`: a summary of a dataset and a contact sheet of
random samples with their captions."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kinetype.errors import KinetypeError, whole
from kinetype.fsutil import atomic_write_bytes, check_output_file
from kinetype.media import MAX_SHEET_ROWS, contact_sheet, decode_mp4, encode_png
from kinetype.shards.layout import ShardReader, damage_error, read_all_stats, read_render_record, tar_problems
from kinetype.shards.manifest import read_manifest
from kinetype.shards.storage import Storage


def summary(folder: str | Path) -> dict:
    storage = Storage(folder)
    config = read_render_record(storage).config
    num_shards = config.num_shards
    all_stats = read_all_stats(storage, config)
    damaged = tar_problems(storage, all_stats)
    stats = [s for s in all_stats if s is not None]
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


def _read_samples(storage: Storage, shard: int, keys: set[str]) -> dict[str, dict[str, bytes]]:
    """The samples ``keys`` of the shard; a damaged tar is a one-line ShardReadError naming it."""
    return {key: members for key, members in ShardReader(storage, shard) if key in keys}


def sample_sheet(members: dict[str, bytes], key: str, frames_per_row: int, thumb_px: int) -> np.ndarray:
    """One sample as a row of ``frames_per_row`` evenly spaced frames with its key, template, word
    and captions beneath (:func:`kinetype.media.contact_sheet`)."""
    meta = json.loads(members["json"])
    frames = decode_mp4(members["mp4"])
    picks = np.linspace(0, len(frames) - 1, frames_per_row).round().astype(int)
    thumbs = np.stack([np.asarray(Image.fromarray(frames[t]).resize((thumb_px, thumb_px), Image.BILINEAR))
                       for t in picks])
    caps = meta["captions"]
    caption = [f"{key}  {meta['template']}  '{meta['word']}'  [{caps['motion']}]",
               f"static: {caps['static']}", f"dynamic: {caps['dynamic']}"]
    return contact_sheet(thumbs, columns=frames_per_row, caption=caption)


def write_contact_sheet(folder: str | Path, out: str | Path, samples: int = 6, frames_per_row: int = 8, seed: int = 0,
                        thumb_px: int = 96) -> list[str]:
    """Writes a PNG: one row per random sample (:func:`sample_sheet`). Returns the keys shown."""
    storage = Storage(folder)
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
    sheets = []
    for r in sorted(chosen, key=lambda r: r["key"]):
        try:
            sheets.append(sample_sheet(data.get(r["key"], {}), r["key"], frames_per_row, thumb_px))
        except (KeyError, ValueError, TypeError) as e:  # decode_mp4 reports a bad video as ValueError
            raise KinetypeError(f"{folder}: sample {r['key']} is damaged ({type(e).__name__}: {e}); "
                                "run `kinetype shards verify`") from None
    atomic_write_bytes(out, encode_png(np.concatenate(sheets, axis=0)))
    return [r["key"] for r in chosen]


def inspect_dataset(folder: str | Path, sheet: str | Path | None = None, samples: int = 6, seed: int = 0,
                    console: Console | None = None) -> dict:
    console = console or Console()
    whole("--samples", samples, 1, MAX_SHEET_ROWS)  # every argument checked before anything is read or written
    if sheet is not None:
        if Path(sheet).suffix.lower() != ".png":
            raise KinetypeError(f"--sheet {sheet}: the contact sheet is a .png file")
        check_output_file(sheet, "--sheet")
    info = summary(folder)
    print_summary(info, console)
    if info["damaged"]:  # shown in the summary; the status says so, and no sheet is drawn from them
        raise damage_error(Storage(folder), info["damaged"])
    if sheet:
        keys = write_contact_sheet(folder, sheet, samples=samples, seed=seed)
        console.print(f"contact sheet of {len(keys)} samples written to {sheet}", markup=False, highlight=False)
    return info
