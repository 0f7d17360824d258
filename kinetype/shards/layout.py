"""The dataset folder: what its files are called, the render configuration read back typed, and
the reading side of a shard (the mirror of :class:`~kinetype.shards.writer.ShardWriter`).

A dataset folder holds:

==============================  ==================================================================
``render_config.json``          the resolved :class:`RenderConfig`, its fingerprint, the template
                                ids and the command (:class:`RenderRecord`)
``shard-{k:06d}.tar``           the samples of shard ``k``: sample indices ``config.shard_range(k)``,
                                ``config.num_shards`` shards in all (:mod:`kinetype.shards.plan`)
``shard-{k:06d}.parquet``       one row of metadata per sample of the shard
``shard-{k:06d}.stats.json``    counts, failures, checksums: written last, the "complete" marker
``manifest.parquet``            every sample's row, with the shard checksums in its schema metadata
``dataset_card.json``,          the dataset card (:mod:`kinetype.shards.manifest`)
``README.md``
==============================  ==================================================================

Every file is read through :class:`~kinetype.shards.storage.Storage`; every damaged file is a
one-line :class:`~kinetype.errors.KinetypeError` naming it. Reading the record first checks that
every file named like one of these is a regular file (:func:`check_dataset_files`), so each command
that opens a dataset refuses a FIFO or a folder under a dataset name before it reads anything.
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import MISSING, dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from kinetype.errors import KinetypeError
from kinetype.jsonfile import JsonProblem, json_object
from kinetype.shards.plan import RenderConfig
from kinetype.shards.storage import Storage, check_dataset_file

CONFIG_FILE = "render_config.json"
MANIFEST = "manifest.parquet"
CARD_JSON = "dataset_card.json"
CARD_MD = "README.md"


def shard_name(shard: int) -> str:
    """The stem of shard ``shard``'s three files."""
    return f"shard-{shard:06d}"


def tar_name(shard: int) -> str:
    return shard_name(shard) + ".tar"


def parquet_name(shard: int) -> str:
    return shard_name(shard) + ".parquet"


def stats_name(shard: int) -> str:
    return shard_name(shard) + ".stats.json"


def is_dataset_name(name: str) -> bool:
    """``name`` is one of the names in the table above (any shard number)."""
    return name in (CONFIG_FILE, MANIFEST, CARD_JSON, CARD_MD) or (
        name.startswith("shard-") and name.endswith((".tar", ".parquet", ".stats.json")))


def check_dataset_files(storage: Storage) -> None:
    """Refuse, in one line naming it, a FIFO, folder or device under any dataset name: whichever
    file a command goes on to read (the card, a shard's parquet), opening that one would block for
    ever or fail with a traceback, and a dataset holding one is damaged for every command alike.
    Only ``stat`` is called: nothing is opened."""
    for name in storage.list():
        if is_dataset_name(name):
            try:
                check_dataset_file(storage.path(name))
            except FileNotFoundError:  # a dangling link, or removed meanwhile: missing, as readers report it
                continue


# --- render_config.json ---------------------------------------------------------------------------

PATH_FIELDS = {"templates": False, "words": True}  # RenderConfig path field -> may be null


@dataclass(frozen=True)
class RenderRecord:
    """``render_config.json``: the configuration a dataset was rendered with, and how to recognise it."""

    config: RenderConfig
    fingerprint: str  # of `content`: a run with another fingerprint refuses the folder
    content: dict[str, Any] = field(default_factory=dict)  # what decides the samples (run.describe_config)
    template_ids: tuple[str, ...] = ()  # sorted; export numbers the templates in this order
    command: str = ""
    created: float | None = None  # time.time() of the first run

    def as_json(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "content": self.content, "config": self.config.as_json(),
                "template_ids": list(self.template_ids), "command": self.command, "created": self.created}


def write_render_record(storage: Storage, record: RenderRecord) -> None:
    storage.write_bytes(CONFIG_FILE, json.dumps(record.as_json(), indent=1).encode())


def read_render_record(storage: Storage) -> RenderRecord:
    """The folder's ``render_config.json``; a missing, unparsable or damaged one is a one-line
    KinetypeError naming the file (and the field), as is any dataset file that is not a regular
    file (:func:`check_dataset_files`)."""
    root = storage.path("")
    if not storage.exists(CONFIG_FILE):
        if root.exists() and not root.is_dir():
            raise KinetypeError(f"{root} is a file, not a dataset folder")
        raise KinetypeError(f"{root} is not a kinetype dataset folder (no {CONFIG_FILE})")
    check_dataset_files(storage)
    path = storage.path(CONFIG_FILE)
    try:
        raw = json_object(storage.read_bytes(CONFIG_FILE))
    except JsonProblem as e:
        raise KinetypeError(f"{path} does not parse: {e}") from None

    def damaged(what: str) -> KinetypeError:
        return KinetypeError(f"{path} is damaged: {what} (re-render, or restore it from a copy)")

    record = raw
    if not isinstance(record.get("config"), dict):
        raise damaged("no valid config")
    config = config_from_json(record["config"], damaged)
    template_ids = record.get("template_ids", [])
    if not isinstance(template_ids, list) or not all(isinstance(t, str) for t in template_ids):
        raise damaged("no valid template_ids")
    # Datasets of older versions may lack the other fields: they are only shown or compared.
    content = record.get("content")
    created = record.get("created")
    return RenderRecord(config, str(record.get("fingerprint", "")), content if isinstance(content, dict) else {},
                        tuple(template_ids), str(record.get("command", "")),
                        created if isinstance(created, (int, float)) else None)


def config_from_json(values: dict[str, Any], damaged) -> RenderConfig:
    """:meth:`RenderConfig.as_json` read back. Fields missing in an older file take their defaults;
    ``damaged(what)`` makes the error for a field of the wrong type or out of range."""
    kwargs: dict[str, Any] = {}
    bad = []
    for f in fields(RenderConfig):
        if f.name not in values:
            if f.default is MISSING:
                bad.append(f.name)
            continue
        value = values[f.name]
        if f.name in PATH_FIELDS:
            ok = isinstance(value, str) or (value is None and PATH_FIELDS[f.name])
            value = Path(value) if isinstance(value, str) else None
        elif isinstance(f.default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        else:
            ok = isinstance(value, int) and not isinstance(value, bool)
        if not ok:
            bad.append(f.name)
        kwargs[f.name] = value
    if bad:
        raise damaged(f"no valid {', '.join(bad)}")
    try:
        return RenderConfig(**kwargs)
    except KinetypeError as e:  # a value the render options refuse (names the option)
        raise damaged(str(e)) from None


# --- shard stats and tables --------------------------------------------------------------------------


# The fields every reader relies on, with their types (the stats file is the shard's "complete" marker).
STATS_FIELDS = {"samples": int, "failed": int, "failures": list, "tar_bytes": int, "tar_sha256": str,
                "sample_bytes": int, "fingerprint": str}
MAX_STATS_BYTES = 64 << 20  # a shard's stats are a few kB; its failures' reasons are the only list


def read_stats(storage: Storage, shard: int, planned: int) -> dict[str, Any] | None:
    """The stats of shard ``shard``, which the plan gives ``planned`` samples; None when the shard is
    not complete (no stats file: the writer writes it last, whole or not at all).

    A stats file that is there but is not what the writer writes — not one JSON object, a field of
    the wrong type, counts that do not add up to the planned samples — is damage, one line naming
    it: read as "not complete", the shard would be rendered again over a tar that may be fine; read
    as it stands, a count of 10^12 samples is believed by the loader and the summary."""
    name = stats_name(shard)
    if not storage.exists(name):
        return None
    path = storage.path(name)

    def damaged(what: str) -> KinetypeError:
        return KinetypeError(f"{path} is damaged: {what} (remove it to render the shard again)")

    try:
        stats = json_object(storage.read_bytes(name, most=MAX_STATS_BYTES))
    except JsonProblem as e:
        raise damaged(str(e)) from None
    for key, kind in STATS_FIELDS.items():
        value = stats.get(key)
        if key in stats and (not isinstance(value, kind) or isinstance(value, bool) or (kind is int and value < 0)):
            raise damaged(f"{key} must be {'a count' if kind is int else 'a ' + kind.__name__}, got {value!r}")
    for failure in stats.get("failures", []):
        if not isinstance(failure, dict) or not isinstance(failure.get("key"), str):
            raise damaged(f"failures must be records with a key, got {str(failure)[:80]}")
    samples, failed = stats.get("samples"), stats.get("failed", len(stats.get("failures", [])))
    if samples is not None and samples + failed != planned:
        raise damaged(f"{samples} samples and {failed} failed, where the plan gives the shard {planned}")
    if "failures" in stats and len(stats["failures"]) != failed:
        raise damaged(f"failed is {failed}, but {len(stats['failures'])} failures are listed")
    return stats


def read_all_stats(storage: Storage, config: RenderConfig) -> list[dict[str, Any] | None]:
    """Every shard's stats (None for a shard not complete), read up front: a command that uses the
    stats refuses a damaged one before any work, not half-way."""
    return [read_stats(storage, k, len(config.shard_range(k))) for k in range(config.num_shards)]


def tar_problems(storage: Storage, stats: list[dict[str, Any] | None]) -> list[str]:
    """The complete shards whose files are not as their stats record them (by file name), found cheaply (``stat``
    only: no decoding, no checksum — `kinetype shards verify` does those): a tar or parquet missing,
    or a tar of another size than was written (samples added, dropped or replaced since)."""
    problems = []
    for k, st in enumerate(stats):
        if st is None:
            continue
        tar = storage.path(tar_name(k))
        if not tar.is_file():
            problems.append(f"{tar.name} is missing")
        elif st.get("tar_bytes") is not None and tar.stat().st_size != st["tar_bytes"]:
            problems.append(f"{tar.name} is {tar.stat().st_size} bytes, its stats say {st['tar_bytes']} (changed after writing)")
        elif not storage.exists(parquet_name(k)):
            problems.append(f"{parquet_name(k)} is missing")
    return problems


def damage_error(storage: Storage, problems: list[str]) -> KinetypeError:
    """The one line for :func:`tar_problems`' findings: the folder, the first, and how many more."""
    more = f" (and {len(problems) - 1} more damaged shard(s))" if len(problems) > 1 else ""
    return KinetypeError(f"{storage.path('')}: {problems[0]}{more}; run `kinetype shards verify`")


def read_parquet(storage: Storage, name: str) -> pa.Table:
    """A parquet file of the dataset; a missing or unreadable one is a one-line KinetypeError."""
    if not storage.exists(name):
        raise KinetypeError(f"{storage.path(name)} is missing")
    try:
        # One thread: the files are small, and Arrow's decoding pool could still hold a worker when the
        # process exits, which libstdc++ answers with SIGABRT (apache/arrow#34314: `shards verify`
        # exited -6 after its verdict, now and then, on a loaded machine).
        return pq.read_table(io.BytesIO(storage.read_bytes(name)), use_threads=False)
    except (pa.ArrowException, ValueError) as e:
        raise KinetypeError(f"{storage.path(name)} is not a readable parquet file ({' '.join(str(e).split())})") from None


def shard_table(storage: Storage, shard: int) -> pa.Table:
    return read_parquet(storage, parquet_name(shard))


# --- reading a shard's samples ------------------------------------------------------------------------


class ShardReadError(KinetypeError):
    """A shard's tar that is not a tar or ends early. ``cause`` is tarfile's error; ``partial`` the
    (key, members) read of the sample the tar broke in, if any."""

    def __init__(self, url: str, cause: Exception, partial: tuple[str, dict[str, bytes]] | None):
        super().__init__(f"{url}: damaged ({cause}); run `kinetype shards verify`")
        self.cause, self.partial = cause, partial


class ShardReader:
    """Reads one shard back: ``for key, members in ShardReader(storage, k)`` gives its samples in
    the order :meth:`ShardWriter.add <kinetype.shards.writer.ShardWriter.add>` wrote them, each
    ``members`` a dict of bytes keyed by extension (``mp4``, ``json``, ...) as ``add`` took it.

    A missing tar raises the storage's error (FileNotFoundError) before the first sample; a damaged
    one raises :class:`ShardReadError` after the samples read whole.
    """

    def __init__(self, storage: Storage, shard: int):
        self.storage, self.shard = storage, shard
        self.name = shard_name(shard)
        self.url = str(storage.path(tar_name(shard)))

    @cached_property
    def data(self) -> bytes:
        """The tar's bytes, read once (verify hashes them, then reads the samples from them)."""
        return self.storage.read_bytes(tar_name(self.shard))

    def __iter__(self) -> Iterator[tuple[str, dict[str, bytes]]]:
        data = self.data
        key, members = "", {}
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
                for member in tar:
                    # Members of one sample are consecutive; a sample is complete at the next key.
                    member_key, _, ext = member.name.partition(".")
                    if member_key != key and members:
                        yield key, members
                        members = {}
                    key = member_key
                    f = tar.extractfile(member)
                    members[ext] = f.read() if f else b""
        except (tarfile.TarError, OSError, EOFError) as e:
            raise ShardReadError(self.url, e, (key, members) if members else None) from None
        if members:
            yield key, members
