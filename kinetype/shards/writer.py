"""Writing shards: the writer of one shard's three files (read back by
:class:`~kinetype.shards.layout.ShardReader`).

Per shard ``k`` three files, written in this order, each whole or not at all
(:func:`kinetype.fsutil.atomic_path`: a temporary name, fsync, rename):

1. ``shard-{k:06d}.tar``         the samples (WebDataset layout, see :mod:`kinetype.shards.sample`)
2. ``shard-{k:06d}.parquet``     one row of metadata per sample
3. ``shard-{k:06d}.stats.json``  counts, failures with reasons, bytes, timing, sha256 of the tar
                                 and of the parquet —
                                 written last: its presence is the "shard complete" marker.

Everything goes through the dataset's :class:`~kinetype.shards.storage.Storage`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import tarfile
import time
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from kinetype.fsutil import atomic_path, remove_stale_temporaries
from kinetype.shards.layout import parquet_name, shard_name, stats_name, tar_name
from kinetype.shards.storage import Storage

TAR_MTIME = 0  # fixed, so the same samples give byte-identical tars


def remove_temporaries(storage: Storage, shard: int) -> int:
    """Delete leftovers of an interrupted write of this shard, whoever wrote them: the plan gives a
    shard to one run, and a Ray task retried elsewhere leaves its first try's temporary on another
    machine's name. Returns how many."""
    return sum(len(remove_stale_temporaries(storage.path(name), any_writer=True))
               for name in (tar_name(shard), parquet_name(shard), stats_name(shard)))


class _HashingFile:
    """Wraps a file: counts and hashes what tarfile writes through it."""

    def __init__(self, f: BinaryIO):
        self.f, self.sha256, self.size = f, hashlib.sha256(), 0

    def tell(self) -> int:
        return self.size

    def write(self, b) -> int:
        self.sha256.update(b)
        self.size += len(b)
        return self.f.write(b)


class ShardWriter:
    """Writes one shard: ``add`` samples in index order, ``fail`` the ones that could not be made,
    then ``close`` (tar, parquet, stats — stats last). ``abort`` leaves nothing behind."""

    def __init__(self, storage: Storage, shard: int, info: dict[str, Any]):
        self.storage, self.shard, self.info = storage, shard, info
        self.name = shard_name(shard)
        self.rows: list[dict[str, Any]] = []
        self.failures: list[dict[str, Any]] = []
        self.started = time.time()
        self._tar_write = atomic_path(storage.path(tar_name(shard)))  # open until close or abort
        self._file = open(self._tar_write.__enter__(), "wb")
        self._hashing = _HashingFile(self._file)
        self._tar = tarfile.open(fileobj=self._hashing, mode="w", format=tarfile.USTAR_FORMAT)

    def add(self, key: str, members: dict[str, bytes], row: dict[str, Any]) -> None:
        for ext, data in members.items():
            info = tarfile.TarInfo(f"{key}.{ext}")
            info.size, info.mtime, info.mode = len(data), TAR_MTIME, 0o444
            self._tar.addfile(info, io.BytesIO(data))
        self.rows.append(row)

    def fail(self, record: dict[str, Any]) -> None:
        self.failures.append(record)

    def close(self) -> dict[str, Any]:
        self._tar.close()
        self._file.close()
        self._tar_write.__exit__(None, None, None)
        # The parquet schema is fixed by the rows; an all-failed shard still gets an empty table.
        table = pa.Table.from_pylist(self.rows) if self.rows else pa.table({"key": pa.array([], pa.string())})
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="zstd")
        parquet = buf.getvalue()
        self.storage.write_bytes(parquet_name(self.shard), parquet)
        seconds = time.time() - self.started
        stats = {
            **self.info,
            "shard": self.shard,
            "samples": len(self.rows),
            "failed": len(self.failures),
            "failures": self.failures,
            "tar_bytes": self._hashing.size,
            "tar_sha256": self._hashing.sha256.hexdigest(),
            "parquet_sha256": hashlib.sha256(parquet).hexdigest(),
            "sample_bytes": sum(r["bytes"] for r in self.rows),
            "started": self.started,
            "seconds": round(seconds, 3),
        }
        self.storage.write_bytes(stats_name(self.shard), json.dumps(stats, indent=1).encode())
        return stats

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._tar.close()
        with contextlib.suppress(OSError):  # a full disk fails the flush: the temporary goes all the same
            self._file.close()
        aborted = RuntimeError("aborted")
        self._tar_write.__exit__(RuntimeError, aborted, None)  # removes the temporary, swallows `aborted`

