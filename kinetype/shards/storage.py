"""Where a dataset lives: the small :class:`Storage` interface every dataset file goes through, and
its local-folder implementation.

The render, write and read code never touches paths, so an object store (S3, GCS...) is one more
class with these methods.
"""

from __future__ import annotations

import os
import stat
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator, Protocol

TMP_MARK = ".tmp-"  # temporary names: <name>.tmp-<random>


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


def check_regular_file(path: Path) -> None:
    """Refuse what is named like a dataset file but is not a file: reading a FIFO blocks for ever, a
    device never ends."""
    from kinetype.errors import KinetypeError

    mode = os.stat(path).st_mode  # FileNotFoundError: the caller's to report
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a folder" if stat.S_ISDIR(mode) else "a special file"
        raise KinetypeError(f"{path} is not a regular file ({kind}): remove it, or render the dataset again")


class LocalStorage:
    """A local (or network-mounted) folder; atomicity by write-to-temporary + fsync + rename."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, name: str) -> Path:
        return self.root / name

    def exists(self, name: str) -> bool:
        return self._path(name).exists()

    def read_bytes(self, name: str) -> bytes:
        path = self._path(name)
        check_regular_file(path)
        return path.read_bytes()

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
