"""Atomic file writes: a reader never sees a half-written file, and a failed write leaves nothing behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

# Permissions a plain open() would give (mkstemp makes 0600 files).
_UMASK = os.umask(0o022)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot fsync a directory
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is fsynced and renamed onto ``path``.

    The temporary name keeps ``path``'s suffix (tools that pick a format by extension still work) and
    starts with a dot. On any error it is removed and the error re-raised; ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def _first_existing(path: Path) -> Path:
    for p in (path, *path.parents):
        if os.path.lexists(p):
            return p
    return Path(".")


def check_output_file(path: str | os.PathLike, option: str) -> Path:
    """Refuse, before anything is computed or written, an output file that cannot be written:
    ``path`` is a folder, or a part of it is a file (``out.png/x.png``), or unwritable."""
    from kinetype.errors import KinetypeError

    path = Path(path)
    if path.is_dir():
        raise KinetypeError(f"{option} {path}: is a folder, give a file name")
    _check_parent_writable(path, option)
    return path


def check_output_dir(path: str | os.PathLike, option: str, *, must_not_exist: bool = False) -> Path:
    """The same for an output folder; with ``must_not_exist`` an existing path is refused too."""
    from kinetype.errors import KinetypeError

    path = Path(path)
    if os.path.lexists(path):
        if must_not_exist:
            raise KinetypeError(f"{option} {path}: already exists (nothing is overwritten: remove it or choose another)")
        if not path.is_dir():
            raise KinetypeError(f"{option} {path}: is a file, not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise KinetypeError(f"{option} {path}: folder is not writable")
        return path
    _check_parent_writable(path, option)
    return path


def _check_parent_writable(path: Path, option: str) -> None:
    from kinetype.errors import KinetypeError

    ancestor = _first_existing(path.parent)
    if not ancestor.is_dir():
        raise KinetypeError(f"{option} {path}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise KinetypeError(f"{option} {path}: folder {ancestor} is not writable")
