"""`kinetype shards verify DIR`: decode every sample and check the dataset against its plan.

Checks, per shard: the stats marker exists; the tar's checksum matches its stats; every sample has
all members, its video decodes to the promised frames and size, its masks decode and agree with
its metadata; the keys are exactly the planned ones less the recorded render failures. Then the
manifest (when written) lists exactly the samples found.

Exit status (``VerifyReport.exit_code``): 0 all valid; 1 corrupt samples or shards; 3 missing
samples or shards; 4 both.
"""

from __future__ import annotations

import io
import tarfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import av

from kinetype.shards.manifest import MANIFEST, read_manifest, read_render_config
from kinetype.shards.plan import sample_key
from kinetype.shards.sample import INSTANCE_EXT, TEXT_FIELDS, SampleError, check_members, decode_instance, parse_meta
from kinetype.shards.writer import LocalStorage, read_stats, shard_name
from kinetype.words import word_caption

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


@dataclass
class VerifyReport:
    shards: int
    planned: int
    recorded_failures: int = 0
    valid: int = 0
    corrupt: list[tuple[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # sample keys, or "shard-000003 (not complete)"
    unexpected: list[str] = field(default_factory=list)
    manifest_problems: list[str] = field(default_factory=list)

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


def check_shard(root: str, shard: int, expected_range: tuple[int, int]) -> ShardCheck:
    storage = LocalStorage(root)
    result = ShardCheck(shard)
    stats = read_stats(storage, shard)
    name = shard_name(shard)
    planned = [sample_key(i) for i in range(*expected_range)]
    if stats is None or not storage.exists(name + ".tar"):
        result.missing = [f"{name} (not complete)"]
        return result
    result.complete = True
    failed = {f["key"] for f in stats.get("failures", [])}
    result.recorded_failures = len(failed)
    expected = [k for k in planned if k not in failed]
    data = storage.read_bytes(name + ".tar")
    import hashlib

    if hashlib.sha256(data).hexdigest() != stats.get("tar_sha256"):
        result.corrupt.append((name + ".tar", "checksum differs from its stats (file changed after writing)"))
    samples: dict[str, dict[str, bytes]] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for member in tar:
                key, _, ext = member.name.partition(".")
                f = tar.extractfile(member)
                samples.setdefault(key, {})[ext] = f.read() if f else b""
    except (tarfile.TarError, OSError, EOFError) as e:
        result.corrupt.append((name + ".tar", f"tar does not read to the end: {e}"))
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
    result.missing = [k for k in expected if k not in samples]
    return result


def verify_dataset(folder: str | Path, workers: int = 1) -> VerifyReport:
    storage = LocalStorage(folder)
    config = read_render_config(storage)["config"]
    n, shard_size = config["n"], config["shard_size"]
    num_shards = -(-n // shard_size)
    report = VerifyReport(shards=num_shards, planned=n)
    ranges = [(k * shard_size, min((k + 1) * shard_size, n)) for k in range(num_shards)]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            checks = list(pool.map(check_shard, [str(folder)] * num_shards, range(num_shards), ranges))
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
    if storage.exists(MANIFEST):
        listed = read_manifest(storage).column("key").to_pylist()
        if len(listed) != len(set(listed)):
            report.manifest_problems.append("manifest lists some samples twice")
        not_complete = {sample_key(i) for c in checks if not c.complete for i in range(*ranges[c.shard])}
        absent = set(listed) - valid_keys - {k for k, _ in report.corrupt} - not_complete
        if absent:
            report.manifest_problems.append(f"{len(absent)} manifest samples are not in the shards")
        unlisted = valid_keys - set(listed)
        if unlisted:
            report.manifest_problems.append(f"{len(unlisted)} samples in the shards are not in the manifest")
    elif all(c.complete for c in checks):
        report.manifest_problems.append("all shards are complete but manifest.parquet is missing")
    return report


def run_verify(folder: str | Path, workers: int = 1, console=None, limit: int = 20) -> int:
    """Verify and print the result; returns the exit status."""
    from rich.console import Console

    console = console or Console()
    report = verify_dataset(folder, workers=workers)
    expected = report.planned - report.recorded_failures
    console.print(f"{folder}: {report.valid} valid of {expected} expected samples in {report.shards} shard(s) "
                  f"({report.recorded_failures} recorded render failures)")
    for title, items in (("corrupt", [f"{k}: {why}" for k, why in report.corrupt]), ("missing", report.missing),
                         ("unexpected", report.unexpected), ("manifest", report.manifest_problems)):
        if items:
            console.print(f"[red]{title}[/red] ({len(items)}):", highlight=False)
            for item in items[:limit]:
                console.print(f"  {item}", highlight=False)
            if len(items) > limit:
                console.print(f"  … and {len(items) - limit} more")
    console.print("[green]OK[/green]" if report.exit_code == EXIT_OK else f"exit status {report.exit_code}")
    return report.exit_code
