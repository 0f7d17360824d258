"""`kinetype shards verify DIR`: decode every sample and check the dataset against its plan.

Checks, per shard: the stats marker exists; the sha256 of the tar and of the parquet match its stats;
every sample has all members, its video decodes to the promised frames and size, its masks decode
and agree with its metadata; the keys are exactly the planned ones less the recorded render
failures, and the parquet lists exactly those. Then the manifest (when written): it reads, its
sha256 matches the dataset card, the shard checksums it records match the shards, and its rows
equal the shard parquets' rows (an edited word or a removed column is reported).

Datasets written before the checksums were recorded verify by content, with a note.

Exit status (``VerifyReport.exit_code``): 0 all valid; 1 corrupt samples or shards (a damaged
file, or a sample absent from a shard its stats mark complete); 3 missing shards (not rendered yet:
``kinetype render`` again completes them); 4 both.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import av
import pyarrow as pa
from rich.console import Console

from kinetype.errors import KinetypeError
from kinetype.jsonfile import JsonProblem, json_object
from kinetype.shards.layout import (CARD_JSON, MANIFEST, ShardReader, ShardReadError, parquet_name, read_parquet,
                                    read_render_record, read_stats, shard_name, shard_table, stats_name, tar_name)
from kinetype.shards.manifest import manifest_checksums
from kinetype.shards.plan import sample_key
from kinetype.shards.sample import INSTANCE_EXT, TEXT_FIELDS, SampleError, check_members, decode_instance, parse_meta
from kinetype.shards.storage import Storage
from kinetype.workers import process_pool, stop_pool
from kinetype.render.words import word_caption

EXIT_OK, EXIT_CORRUPT, EXIT_MISSING, EXIT_BOTH = 0, 1, 3, 4


@dataclass
class ShardCheck:
    shard: int
    complete: bool = False
    valid: list[str] = field(default_factory=list)
    corrupt: list[tuple[str, str]] = field(default_factory=list)  # (key or shard file, reason)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    recorded_failures: int = 0
    notes: list[str] = field(default_factory=list)
    parquet_sha256: str | None = None  # of the parquet as found


@dataclass
class VerifyReport:
    shards: int
    planned: int
    recorded_failures: int = 0
    valid: int = 0
    corrupt: list[tuple[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # "shard-000003 (not complete)"
    unexpected: list[str] = field(default_factory=list)
    manifest_problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # not failures: e.g. no checksums in an old dataset

    @property
    def exit_code(self) -> int:
        corrupt = bool(self.corrupt or self.unexpected or self.manifest_problems)
        missing = bool(self.missing)
        return EXIT_BOTH if corrupt and missing else EXIT_CORRUPT if corrupt else EXIT_MISSING if missing else EXIT_OK


def check_video(data: bytes, num_frames: int, size: int, height: int) -> None:
    frames = 0
    with av.open(io.BytesIO(data)) as container:
        for frame in container.decode(video=0):
            if (frame.width, frame.height) != (size, height):
                raise SampleError(f"video frame is {frame.width}x{frame.height}, expected {size}x{height}")
            frame.to_ndarray()
            frames += 1
    if frames != num_frames:
        raise SampleError(f"video has {frames} frames, expected {num_frames}")


def check_sample(members: dict[str, bytes], key: str) -> None:
    check_members(members)
    meta = parse_meta(members)
    if meta.get("key") != key:
        raise SampleError(f"json names key {meta.get('key')!r}")
    num_frames, size, height = int(meta["num_frames"]), int(meta["size"]), int(meta["height"])
    check_video(members["mp4"], num_frames, size, height)
    try:
        instance = decode_instance(members[INSTANCE_EXT], num_frames, height, size)
    except OSError as e:
        raise SampleError(f"instance map does not decompress: {e}") from None
    if int(instance.max(initial=0)) > int(meta["num_letters"]):
        raise SampleError("instance map names more letters than the word has")
    texts = {name: members[ext].decode("utf-8") for name, ext in TEXT_FIELDS.items()}
    if texts["word"] != word_caption(meta["word"]):
        raise SampleError(f"word caption {texts['word']!r} does not match word {meta['word']!r}")
    if not texts["static"] or not texts["dynamic"]:
        raise SampleError("empty caption")


def check_shard(root: str, shard: int, planned_range: range) -> ShardCheck:
    storage = Storage(root)
    result = ShardCheck(shard)
    name = shard_name(shard)
    try:
        stats = read_stats(storage, shard, len(planned_range))
    except KinetypeError as e:  # damaged stats: the shard cannot be checked against them
        result.complete = True
        result.corrupt.append((stats_name(shard), str(e).split(" is damaged: ", 1)[-1]))
        return result
    planned = [sample_key(i) for i in planned_range]
    if stats is None or not storage.exists(tar_name(shard)):
        result.missing = [f"{name} (not complete)"]
        return result
    result.complete = True
    failed = {f["key"] for f in stats.get("failures", [])}
    result.recorded_failures = len(failed)
    expected = [k for k in planned if k not in failed]
    reader = ShardReader(storage, shard)
    recorded = stats.get("tar_sha256")
    if recorded is None:
        result.notes.append(f"{tar_name(shard)}: no checksum recorded (older dataset): checked by content only")
    elif hashlib.sha256(reader.data).hexdigest() != recorded:
        result.corrupt.append((tar_name(shard), "checksum differs from its stats (file changed after writing)"))
    parquet_keys = _check_shard_parquet(storage, shard, stats, result)
    samples: dict[str, dict[str, bytes]] = {}
    try:
        for key, members in reader:
            samples.setdefault(key, {}).update(members)
    except ShardReadError as e:
        if e.partial is not None:  # the sample the tar broke in is checked (and reported) as far as it goes
            samples.setdefault(e.partial[0], {}).update(e.partial[1])
        result.corrupt.append((tar_name(shard), f"tar does not read to the end: {e.cause}"))
    expected_set = set(expected)
    for key, members in samples.items():
        if key not in expected_set:
            result.unexpected.append(key)
            continue
        try:
            check_sample(members, key)
            result.valid.append(key)
        except (SampleError, KeyError, ValueError, OSError, UnicodeDecodeError, av.error.FFmpegError) as e:
            result.corrupt.append((key, f"{type(e).__name__}: {e}"))
    # The shard is complete (its stats say so; render will not write it again): a planned sample
    # absent from its tar was lost after writing — damage, not a shard still to be rendered.
    result.corrupt += [(k, f"not in {tar_name(shard)}, which its stats mark complete") for k in expected if k not in samples]
    if parquet_keys is not None and sorted(parquet_keys) != sorted(samples):
        only_parquet, only_tar = set(parquet_keys) - set(samples), set(samples) - set(parquet_keys)
        result.corrupt.append((parquet_name(shard), f"lists {len(parquet_keys)} samples, the tar holds {len(samples)} "
                               f"({len(only_parquet)} only in the parquet, {len(only_tar)} only in the tar)"))
    return result


def _check_shard_parquet(storage: Storage, shard: int, stats: dict, result: ShardCheck) -> list[str] | None:
    """Checksum and readability of the shard's parquet; its keys, or None when it cannot be used."""
    if not storage.exists(parquet_name(shard)):
        result.corrupt.append((parquet_name(shard), "missing"))
        return None
    raw = storage.read_bytes(parquet_name(shard))
    result.parquet_sha256 = hashlib.sha256(raw).hexdigest()
    recorded = stats.get("parquet_sha256")
    if recorded is None:
        result.notes.append(f"{parquet_name(shard)}: no checksum recorded (older dataset): checked by content only")
    elif result.parquet_sha256 != recorded:
        result.corrupt.append((parquet_name(shard), "checksum differs from its stats (file changed after writing)"))
    try:
        table = read_parquet(storage, parquet_name(shard))
        return table.column("key").to_pylist() if table.num_rows else []
    except KinetypeError as e:
        result.corrupt.append((parquet_name(shard), str(e).split(": ", 1)[-1]))
    except KeyError:
        result.corrupt.append((parquet_name(shard), "has no 'key' column"))
    return None


def verify_dataset(folder: str | Path, workers: int = 1) -> VerifyReport:
    storage = Storage(folder)
    config = read_render_record(storage).config
    num_shards = config.num_shards
    report = VerifyReport(shards=num_shards, planned=config.n)
    ranges = [config.shard_range(k) for k in range(num_shards)]
    if workers > 1:
        pool = process_pool(workers, what="shards verify")
        try:
            checks = list(pool.map(check_shard, [str(folder)] * num_shards, range(num_shards), ranges))
        finally:
            stop_pool(pool)
    else:
        checks = [check_shard(str(folder), k, ranges[k]) for k in range(num_shards)]
    valid_keys: set[str] = set()
    for c in checks:
        report.recorded_failures += c.recorded_failures
        report.valid += len(c.valid)
        valid_keys.update(c.valid)
        report.corrupt += c.corrupt
        report.missing += c.missing
        report.unexpected += c.unexpected
        report.notes += c.notes
    if len(report.notes) > 2:  # one note per file of an old dataset says the same thing
        report.notes = [f"{len(report.notes)} shard files have no recorded checksum (written by an older kinetype): "
                        "checked by content only"]
    report.unexpected += unknown_shard_files(storage, num_shards)
    if storage.exists(MANIFEST):
        check_manifest(storage, checks, ranges, valid_keys, report)
    elif all(c.complete for c in checks):
        report.manifest_problems.append("all shards are complete but manifest.parquet is missing")
    return report


def unknown_shard_files(storage: Storage, num_shards: int) -> list[str]:
    """Files named like shards that the plan does not have (copied in from another dataset): the
    loader does not read them, and they are named rather than passed over."""
    known = {name(k) for k in range(num_shards) for name in (tar_name, parquet_name, stats_name)}
    return [f"{n} (not a shard of this dataset's plan of {num_shards}: not read; remove it)"
            for n in storage.list("shard-") if n not in known]


def check_manifest(storage: Storage, checks: list[ShardCheck], ranges: list[range],
                   valid_keys: set[str], report: VerifyReport) -> None:
    """The manifest against the card's checksum, the shards' checksums, and the shard parquets' rows."""
    raw = storage.read_bytes(MANIFEST)
    card = None
    if storage.exists(CARD_JSON):
        try:
            card = json_object(storage.read_bytes(CARD_JSON))
        except JsonProblem as e:
            report.manifest_problems.append(f"{CARD_JSON}: {e}")
    recorded = card.get("manifest_sha256") if isinstance(card, dict) else None
    if recorded is None:
        report.notes.append("manifest.parquet: no checksum in the dataset card (older dataset): checked by content only")
    elif hashlib.sha256(raw).hexdigest() != recorded:
        report.manifest_problems.append("manifest.parquet: checksum differs from dataset_card.json (file changed after writing)")
    try:
        manifest = read_parquet(storage, MANIFEST)
    except KinetypeError as e:
        report.manifest_problems.append(str(e))
        return
    if "key" not in manifest.column_names:
        report.manifest_problems.append("manifest.parquet has no 'key' column")
        return
    listed = manifest.column("key").to_pylist()
    if len(listed) != len(set(listed)):
        report.manifest_problems.append("manifest lists some samples twice")
    not_complete = {sample_key(i) for c in checks if not c.complete for i in ranges[c.shard]}
    absent = set(listed) - valid_keys - {k for k, _ in report.corrupt} - not_complete
    if absent:
        report.manifest_problems.append(f"{len(absent)} manifest samples are not in the shards")
    unlisted = valid_keys - set(listed)
    if unlisted:
        report.manifest_problems.append(f"{len(unlisted)} samples in the shards are not in the manifest")
    # Shard checksums recorded in the manifest.
    sums = manifest_checksums(manifest)
    if sums is None:
        report.notes.append("manifest.parquet records no shard checksums (older dataset)")
    else:
        for c in checks:
            name = shard_name(c.shard)
            want = sums.get(name, {}).get("parquet_sha256") if isinstance(sums.get(name), dict) else None
            if c.parquet_sha256 is not None and want != c.parquet_sha256:
                report.manifest_problems.append(f"manifest.parquet: the checksum it records for {parquet_name(c.shard)} "
                                                "differs from the file")
    # Its rows: exactly the shard parquets' rows, in order.
    if all(c.complete for c in checks):
        try:
            tables = [t for t in (shard_table(storage, c.shard) for c in checks) if t.num_rows]
        except KinetypeError:
            return  # already reported as a corrupt shard
        if not tables:
            return
        expected = pa.concat_tables(tables, promote_options="default")
        difference = table_difference(manifest, expected)
        if difference:
            report.manifest_problems.append(f"manifest.parquet differs from the shard parquets: {difference}")


def table_difference(got: pa.Table, want: pa.Table) -> str:
    """'' when equal (metadata aside), else the first difference in words."""
    if got.equals(want):
        return ""
    missing = [c for c in want.column_names if c not in got.column_names]
    extra = [c for c in got.column_names if c not in want.column_names]
    if missing or extra:
        return "; ".join(([f"column(s) {', '.join(missing)} missing"] if missing else [])
                         + ([f"unknown column(s) {', '.join(extra)}"] if extra else []))
    if got.num_rows != want.num_rows:
        return f"{got.num_rows} rows, the shards hold {want.num_rows}"
    keys = want.column("key").to_pylist() if "key" in want.column_names else list(range(want.num_rows))
    for name in want.column_names:
        a, b = got.column(name).to_pylist(), want.column(name).to_pylist()
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return f"column {name!r} of {keys[i]}: {x!r}, the shard says {y!r}"
    return "column types differ"


def run_verify(folder: str | Path, workers: int = 1, console=None, limit: int = 20) -> tuple[int, str | None]:
    """Verify and print the result; returns the exit status and, when it is not 0, the one line
    the CLI reports on stderr."""
    console = console or Console()
    report = verify_dataset(folder, workers=workers)
    expected = report.planned - report.recorded_failures
    console.print(f"{folder}: {report.valid} valid of {expected} expected samples in {report.shards} shard(s) "
                  f"({report.recorded_failures} recorded render failures)", markup=False, highlight=False)
    sections = (("corrupt", [f"{k}: {why}" for k, why in report.corrupt]), ("missing", report.missing),
                ("unexpected", report.unexpected), ("manifest", report.manifest_problems))
    for title, items in (*sections, ("note", report.notes)):
        if items:
            console.print(f"[{'yellow' if title == 'note' else 'red'}]{title}[/] ({len(items)}):", highlight=False)
            for item in items[:limit]:
                console.print(f"  {item}", markup=False, highlight=False)
            if len(items) > limit:
                console.print(f"  … and {len(items) - limit} more", markup=False)
    if report.exit_code == EXIT_OK:
        console.print("[green]OK[/green]")
        return report.exit_code, None
    counts = ", ".join(f"{len(items)} {title}" for title, items in sections if items)
    first = next(items[0] for _, items in sections if items)
    return report.exit_code, f"{folder}: {counts} (first: {first}); exit status {report.exit_code}"
