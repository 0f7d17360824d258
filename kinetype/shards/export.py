"""`kinetype export --format kinety DIR OUT`: the layout the KineTy paper's code reads
(``kinety/data/dataset.py`` in its repository):

- ``OUT/video_info.csv`` with columns ``effect_num, word, caption_st, caption_dy, word_embed``;
- ``OUT/videos/{effect_num:04d}/{word}.mp4``;
- ``OUT/mask/{effect_num:04d}/{word}.png``: the glyph mask of the last frame (the frame KineTy's
  image stage reads, index 23 of 24), white text on black, 8-bit grayscale;
- ``OUT/effects.csv``: ``effect_num, template`` — which kinetype template each effect number is
  (templates numbered in sorted-id order).

KineTy names files by (effect, word), so one (template, word) pair can appear once: later samples
of the same pair are skipped and counted.

The export is whole or absent (:func:`kinetype.fsutil.atomic_folder`): it is written into a
temporary folder next to OUT and renamed to OUT at the end; an existing OUT is never overwritten, a
damaged dataset leaves nothing behind, and the temporary folder of an earlier export killed mid-way
is removed by the next one.
"""

from __future__ import annotations

import csv
import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from rich.console import Console

from kinetype.errors import KinetypeError
from kinetype.fsutil import atomic_folder, check_output_dir
from kinetype.shards.layout import ShardReader, ShardReadError, damage_error, read_all_stats, read_render_record, tar_problems
from kinetype.shards.sample import INSTANCE_EXT, TEXT_FIELDS, SampleError, check_members, decode_instance, parse_meta
from kinetype.shards.storage import Storage

FORMATS = ("kinety",)


@dataclass
class ExportSummary:
    exported: int = 0
    duplicates: int = 0


def export_kinety(folder: str | Path, out: str | Path) -> ExportSummary:
    storage = Storage(folder)
    record = read_render_record(storage)
    effect_of = {tid: i for i, tid in enumerate(record.template_ids)}
    stats = read_all_stats(storage, record.config)
    if problems := tar_problems(storage, stats):
        raise damage_error(storage, problems)
    out = check_output_dir(out, "OUT", must_not_exist=True)
    with atomic_folder(out) as tmp:  # fails, rather than overwrite, if OUT appeared meanwhile
        summary = _write_kinety(storage, stats, effect_of, tmp)
    return summary


def _write_kinety(storage: Storage, stats: list[dict | None], effect_of: dict[str, int], out: Path) -> ExportSummary:
    """The complete shards (``stats`` not None), each only if its tar is the one its stats record."""
    summary = ExportSummary()
    seen: set[tuple[int, str]] = set()
    with open(out / "video_info.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["effect_num", "word", "caption_st", "caption_dy", "word_embed"])
        for shard, st in enumerate(stats):
            if st is None:
                continue
            reader = ShardReader(storage, shard)
            recorded = st.get("tar_sha256")
            if recorded is not None and hashlib.sha256(reader.data).hexdigest() != recorded:
                raise KinetypeError(f"{reader.url}: checksum differs from its stats (changed after writing); "
                                    "run `kinetype shards verify` — nothing exported")
            try:
                for key, sample in reader:
                    _export_checked(sample, key, reader.url, effect_of, out, writer, seen, summary)
            except ShardReadError as e:
                raise KinetypeError(f"{e} — nothing exported") from None
    with open(out / "effects.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["effect_num", "template"])
        writer.writerows([i, tid] for tid, i in effect_of.items())
    return summary


def _export_checked(sample, key, url, effect_of, out, writer, seen, summary) -> None:
    try:
        _export_one(sample, effect_of, out, writer, seen, summary)
    except (KeyError, ValueError, TypeError, SampleError, zlib.error) as e:
        why = str(e) if isinstance(e, SampleError) else f"{type(e).__name__}: {e}"
        raise KinetypeError(f"{url}: sample {key} is damaged ({why}); run `kinetype shards verify` — "
                            "nothing exported") from None


def _export_one(sample: dict[str, bytes], effect_of: dict[str, int], out: Path, writer, seen, summary) -> None:
    check_members(sample)
    meta = parse_meta(sample)
    effect, word = effect_of[meta["template"]], meta["word"]
    if (effect, word) in seen:
        summary.duplicates += 1
        return
    seen.add((effect, word))
    video = out / "videos" / f"{effect:04d}" / f"{word}.mp4"
    mask = out / "mask" / f"{effect:04d}" / f"{word}.png"
    video.parent.mkdir(parents=True, exist_ok=True)
    mask.parent.mkdir(parents=True, exist_ok=True)
    video.write_bytes(sample["mp4"])
    instance = decode_instance(sample[INSTANCE_EXT], meta["num_frames"], meta["height"], meta["size"])
    Image.fromarray(((instance[-1] > 0) * 255).astype("uint8")).save(mask)  # 8-bit grayscale
    texts = {name: sample[ext].decode("utf-8") for name, ext in TEXT_FIELDS.items()}
    writer.writerow([effect, word, texts["static"], texts["dynamic"], texts["word"]])
    summary.exported += 1


def export_dataset(folder: str | Path, out: str | Path, format: str = "kinety") -> ExportSummary:
    if format not in FORMATS:
        raise KinetypeError(f"--format: unknown export format {format!r}: choose from {', '.join(FORMATS)}")
    return export_kinety(folder, out)


def run_export(folder: str | Path, out: str | Path, format: str = "kinety", console=None) -> ExportSummary:
    console = console or Console()
    summary = export_dataset(folder, out, format=format)
    console.print(f"exported {summary.exported} clips to {out} in the {format} layout"
                  + (f" ({summary.duplicates} repeated (template, word) pairs skipped)" if summary.duplicates else ""),
                  markup=False, highlight=False)
    return summary
