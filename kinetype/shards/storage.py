"""Where a dataset lives: :class:`Storage`, the folder every dataset file is read from and written
to by name (the writer, reader, manifest, verify, inspect, export and the training loader's shard
list all go through it).

Writes are whole or nothing, fsynced (:mod:`kinetype.fsutil`): a shard or a manifest once written
survives a crash, and a killed render leaves no half-written file under a dataset name. Reads
refuse what is named like a dataset file but is not a regular file.
"""

from __future__ import annotations

from pathlib import Path

from kinetype.fsutil import atomic_write_bytes, check_regular_file, read_regular_bytes

NOT_A_FILE_HINT = "remove it, or render the dataset again"


def check_dataset_file(path: Path) -> None:
    """Refuse what is named like a dataset file but is not a regular file (one line naming it)."""
    check_regular_file(path, NOT_A_FILE_HINT)


class Storage:
    """A dataset's folder (local or network-mounted, reachable from every machine that renders into
    it). Names are flat: ``shard-000000.tar``, ``manifest.parquet``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, name: str) -> Path:
        """What a streaming reader (webdataset, pyarrow) opens, and what messages name."""
        return self.root / name

    def exists(self, name: str) -> bool:
        return self.path(name).exists()

    def read_bytes(self, name: str, most: int | None = None) -> bytes:
        """The file's bytes (a regular file's only; with ``most``, one of more bytes is refused unread)."""
        return read_regular_bytes(self.path(name), NOT_A_FILE_HINT, most=most)

    def write_bytes(self, name: str, data: bytes) -> None:
        """Readers see the old file or the new one, never a part."""
        atomic_write_bytes(self.path(name), data)

    def list(self, prefix: str = "") -> list[str]:
        """The names starting with ``prefix`` (a temporary's name starts with a dot)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.name.startswith(prefix))
