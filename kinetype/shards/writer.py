"""Writing shards: a small storage interface, and the writer of one shard's three files.

Per shard ``k`` three files, written in this order, each under a temporary name and renamed when
complete:

1. ``shard-{k:06d}.tar``         the samples (WebDataset layout, see :mod:`kinetype.shards.sample`)
2. ``shard-{k:06d}.parquet``     one row of metadata per sample
3. ``shard-{k:06d}.stats.json``  counts, failures with reasons, bytes, timing, sha256 of the tar
                                 and of the parquet —
                                 written last: its presence is the "shard complete" marker.

Everything goes through :class:`Storage`, so an object store (S3, GCS...) can be added by writing
one more class: the render code never touches paths.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

TMP_MARK = ".tmp-"  # temporary names: <name>.tmp-<random>
TAR_MTIME = 0  # fixed, so the same samples give byte-identical tars


def shard_name(shard: int) -> str:
    return f"shard-{shard:06d}"


class Storage(Protocol):
    """Where a dataset lives. Names are relative, '/'-separated, flat (no folders needed)."""

    def exists(self, name: str) -> bool: ...

    def read_bytes(self, name: str) -> bytes: ...

    def write_bytes(self, name: str, data: bytes) -> None:
        """Atomic: readers see the old file or the new one, never a part."""

    def open_write(self, name: str):
        """Context manager giving a binary file; the file appears under ``name`` only when the
        block ends without an exception."""

    def list(self, prefix: str = "") -> list[str]: ...

    def remove(self, name: str) -> None: ...

    def url(self, name: str) -> str:
        """What a reader (webdataset, pyarrow) opens."""


class LocalStorage:
    """A local (or network-mounted) folder; atomicity by write-to-temporary + fsync + rename."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, name: str) -> Path:
        return self.root / name

    def exists(self, name: str) -> bool:
        return self._path(name).exists()

    def read_bytes(self, name: str) -> bytes:
        return self._path(name).read_bytes()

    def write_bytes(self, name: str, data: bytes) -> None:
        with self.open_write(name) as f:
            f.write(data)

    @contextmanager
    def open_write(self, name: str) -> Iterator[BinaryIO]:
        self.root.mkdir(parents=True, exist_ok=True)
        final = self._path(name)
        tmp = final.with_name(f"{final.name}{TMP_MARK}{uuid.uuid4().hex[:8]}")
        try:
            with open(tmp, "wb") as f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def list(self, prefix: str = "") -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.name.startswith(prefix))

    def remove(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def url(self, name: str) -> str:
        return str(self._path(name))


def remove_temporaries(storage: Storage, shard: int) -> int:
    """Delete leftovers of an interrupted write of this shard; returns how many."""
    stale = [n for n in storage.list(shard_name(shard) + ".") if TMP_MARK in n]
    for name in stale:
        storage.remove(name)
    return len(stale)


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
        self._ctx = storage.open_write(self.name + ".tar")
        self._file = self._ctx.__enter__()
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
        self._ctx.__exit__(None, None, None)
        # The parquet schema is fixed by the rows; an all-failed shard still gets an empty table.
        table = pa.Table.from_pylist(self.rows) if self.rows else pa.table({"key": pa.array([], pa.string())})
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="zstd")
        parquet = buf.getvalue()
        self.storage.write_bytes(self.name + ".parquet", parquet)
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
        self.storage.write_bytes(self.name + ".stats.json", json.dumps(stats, indent=1).encode())
        return stats

    def abort(self) -> None:
        try:
            self._tar.close()
        except Exception:
            pass
        try:
            self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)
        except RuntimeError:
            pass


def read_stats(storage: Storage, shard: int) -> dict[str, Any] | None:
    """The shard's stats, or None when the shard is not complete."""
    name = shard_name(shard) + ".stats.json"
    if not storage.exists(name):
        return None
    try:
        stats = json.loads(storage.read_bytes(name))
    except (OSError, ValueError):
        return None
    return stats if isinstance(stats, dict) else None
