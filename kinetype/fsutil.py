"""Files in and out: the one place kinetype writes a file or a folder that a reader, or a run
after a crash, must never see half-written, and the one check every reader of a user's file
(TOML, JSON, parquet, tar) goes through before it opens one.

:func:`atomic_path` (a file) and :func:`atomic_folder` (a folder) write under a temporary name
beside the output, fsync what was written and the folder it lands in (so a power cut after the
rename cannot lose it), then rename. On any error the temporary is removed and the output is as it
was. Every temporary name comes from :func:`temp_sibling`: it fits the file system's name limit
whenever the output's own name does, and it carries the writer's host and pid, so
:func:`remove_stale_temporaries` can clear what a killed run left without touching the temporary of
a run still going.

:func:`read_regular_bytes` reads a file only if it is a regular one: a FIFO in its place would
block the open for ever, a device would never end, a folder is an IsADirectoryError traceback.
Each is one :class:`NotARegularFile` line naming the path instead.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import stat
import zlib
from collections.abc import Iterator
from pathlib import Path

from kinetype.errors import KinetypeError

# Permissions a plain open() would give (mkstemp makes 0600 files).
_UMASK = os.umask(0o022)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK


class NotARegularFile(KinetypeError):
    """A FIFO, folder, socket or device where kinetype reads a file; the message names the path."""

    def __init__(self, path: str | os.PathLike, mode: int, hint: str = ""):
        kind = ("a FIFO" if stat.S_ISFIFO(mode) else "a folder" if stat.S_ISDIR(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a special file")
        super().__init__(f"{path}: not a regular file ({kind}){': ' + hint if hint else ''}")


def check_regular_file(path: str | os.PathLike, hint: str = "") -> None:
    """Refuse, without opening it, what stands where a file is read but is not a regular file
    (:class:`NotARegularFile`; ``hint`` says what to do). A missing ``path`` raises
    FileNotFoundError: what that means is the caller's to say."""
    mode = os.stat(path).st_mode  # follows a symlink: a link to a regular file is one
    if not stat.S_ISREG(mode):
        raise NotARegularFile(path, mode, hint)


class FileTooLarge(KinetypeError):
    """A file larger than its reader reads (a config of gigabytes would be read whole)."""

    def __init__(self, path: str | os.PathLike, size: int, most: int):
        super().__init__(f"{path}: {size} bytes, more than the {most >> 20} MiB such a file may hold")


def read_regular_bytes(path: str | os.PathLike, hint: str = "", *, most: int | None = None) -> bytes:
    """The bytes of ``path`` if it is a regular file, else :class:`NotARegularFile` (see
    :func:`check_regular_file`); with ``most``, a file of more bytes is :class:`FileTooLarge`,
    refused before it is read."""
    check_regular_file(path, hint)
    # Non-blocking: a FIFO swapped in since the stat is opened without waiting for a writer, and
    # the fstat below refuses it.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with open(fd, "rb", closefd=True) as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotARegularFile(path, info.st_mode, hint)
        if most is not None and info.st_size > most:
            raise FileTooLarge(path, info.st_size, most)
        os.set_blocking(fd, True)
        data = f.read() if most is None else f.read(most + 1)  # one grown since the fstat is refused too
        if most is not None and len(data) > most:
            raise FileTooLarge(path, len(data), most)
        return data


TEMP_MARK = ".tmp-"  # .<stem>.tmp-<host>-<pid>-<random><suffix>
_HOST = f"{zlib.crc32(os.uname().nodename.encode()) & 0xFFFF:04x}" if hasattr(os, "uname") else "0000"


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return 255


def _temp_prefix(path: Path) -> tuple[str, str]:
    """The fixed start and end of ``path``'s temporary names: ``.STEM.tmp-`` and the suffix, the
    stem cut (in bytes of the file-system encoding) so that a whole temporary name fits."""
    folder = path.parent if path.parent.is_dir() else _first_existing(path.parent)
    suffix = path.suffix if len(os.fsencode(path.suffix)) <= 16 else ""
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    fixed = len(os.fsencode(f".{TEMP_MARK}{_HOST}-{os.getpid()}-{'0' * 8}{suffix}")) + 7  # room for a longer pid
    budget = max(1, _name_max(folder) - fixed)
    while len(os.fsencode(stem)) > budget:
        stem = stem[:-1]
    return f".{stem}{TEMP_MARK}", suffix


def temp_sibling(path: str | os.PathLike) -> Path:
    """A new temporary name in ``path``'s folder for writing ``path`` (nothing is created)."""
    path = Path(path)
    start, suffix = _temp_prefix(path)
    return path.with_name(f"{start}{_HOST}-{os.getpid()}-{secrets.token_hex(4)}{suffix}")


def _writer_is_gone(name: str, start: str) -> bool:
    try:
        host, pid, _ = name[len(start):].split("-", 2)
        pid_n = int(pid)
    except ValueError:
        return False  # not one of ours: leave it
    if host != _HOST or pid_n == os.getpid():
        return False  # another machine's (a shared folder), or this process's own
    try:
        os.kill(pid_n, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        return False
    return False


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def remove_stale_temporaries(path: str | os.PathLike, *, any_writer: bool = False) -> list[Path]:
    """Delete the temporaries of ``path`` (files or folders) whose writer has died: what a killed
    run left. With ``any_writer`` every temporary of ``path`` goes, whoever wrote it: for a caller
    that alone owns ``path`` (a shard its plan gives to it), whose earlier writer may have died on
    another machine. Returns what was removed."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    start, _ = _temp_prefix(path)
    try:
        names = [n for n in os.listdir(path.parent) if n.startswith(start)]
    except OSError:
        return []
    removed = [path.parent / n for n in names if any_writer or _writer_is_gone(n, start)]
    for stale in removed:
        _remove(stale)
    return removed


def remove_stale_temporaries_in(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporaries of any output in ``folder`` whose writer has died (a run whose next
    output need not have the name the killed one was writing: checkpoints). Returns what was removed."""
    folder = Path(folder)
    try:
        names = [n for n in os.listdir(folder) if n.startswith(".") and TEMP_MARK in n]
    except OSError:
        return []
    removed = [folder / n for n in names if _writer_is_gone(n, n[: n.rindex(TEMP_MARK) + len(TEMP_MARK)])]
    for stale in removed:
        _remove(stale)
    return removed


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
def atomic_path(path: str | os.PathLike, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary file path next to ``path``; on success it is fsynced and renamed onto ``path``.

    The temporary name (:func:`temp_sibling`) keeps ``path``'s suffix (tools that pick a format by
    extension still work) and starts with a dot. On any error it is removed and the error re-raised
    (an OSError naming ``path``); ``path`` is untouched. Temporaries of killed earlier writes of
    ``path`` are removed first. With ``overwrite=False`` the rename never replaces a file: one that
    appeared meanwhile (another process writing the same name) raises FileExistsError.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = temp_sibling(path)
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        yield tmp
        _fsync_file(tmp)
        os.chmod(tmp, FILE_MODE)
        if overwrite:
            os.replace(tmp, path)
        else:
            _publish_new(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if _names_no_file(e):
            raise OSError(e.errno, e.strerror or str(e), str(path)) from None
        raise
    _fsync_dir(path.parent)


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a new, empty temporary folder next to ``path``; on success every file and folder in it
    is fsynced and it is renamed onto ``path``: a reader (``--resume``, ``from_pretrained``) sees
    the folder whole or not at all.

    On any error the temporary folder is removed and the error re-raised (an OSError naming
    ``path``); ``path`` is untouched. Temporaries of killed earlier writes of ``path`` are removed
    first. With ``overwrite=False`` an existing ``path`` is never replaced (FileExistsError); with
    ``overwrite=True`` an existing folder is moved aside, the new one renamed in, the old removed:
    between the two renames ``path`` is absent, never partial.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = temp_sibling(path)
    try:
        tmp.mkdir()
        yield tmp
        for folder, _, files in os.walk(tmp, topdown=False):  # contents before the folders naming them
            for name in files:
                _fsync_file(Path(folder, name))
            _fsync_dir(Path(folder))
        if os.path.lexists(path) and overwrite:
            old = temp_sibling(path)
            os.rename(path, old)
            os.rename(tmp, path)
            _remove(old)
        else:
            _publish_new_folder(tmp, path)
    except BaseException as e:
        _remove(tmp)
        if _names_no_file(e):
            raise OSError(e.errno, e.strerror or str(e), str(path)) from None
        raise
    _fsync_dir(path.parent)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:  # Linux and macOS fsync a read-only descriptor
        os.fsync(f.fileno())


def _names_no_file(e: BaseException) -> bool:
    """A failed write (disk full) names no file: the caller names the one being written."""
    return isinstance(e, OSError) and not isinstance(e, FileExistsError) and e.filename is None


def _publish_new_folder(tmp: Path, path: Path) -> None:
    """Rename ``tmp`` to ``path`` unless ``path`` exists. A rename replaces an empty folder, so
    that one is checked first; a non-empty one makes the rename itself fail."""
    if os.path.lexists(path):
        raise FileExistsError(errno.EEXIST, "written meanwhile by another process", str(path))
    try:
        os.rename(tmp, path)
    except OSError as e:
        if e.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
            raise FileExistsError(errno.EEXIST, "written meanwhile by another process", str(path)) from None
        raise


def _publish_new(tmp: Path, path: Path) -> None:
    """Rename ``tmp`` to ``path`` unless ``path`` exists, in one step: a hard link fails on an
    existing name (a rename would replace it)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise FileExistsError(errno.EEXIST, "written meanwhile by another process", str(path)) from None
    except OSError:  # no hard links here (some network or FAT file systems): check, then rename
        if os.path.lexists(path):
            raise FileExistsError(errno.EEXIST, "written meanwhile by another process", str(path)) from None
        os.replace(tmp, path)
        return
    tmp.unlink()


def atomic_write_bytes(path: str | os.PathLike, data: bytes, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename); with
    ``overwrite=False`` an existing ``path`` is never replaced (FileExistsError)."""
    with atomic_path(path, overwrite) as tmp:
        tmp.write_bytes(data)


def _first_existing(path: Path) -> Path:
    for p in (path, *path.parents):
        if os.path.lexists(p):
            return p
    return Path(".")


def check_output_file(path: str | os.PathLike, option: str) -> Path:
    """Refuse, before anything is computed or written, an output file that cannot be written:
    ``path`` is a folder, or a part of it is a file (``out.png/x.png``), or unwritable."""
    path = Path(path)
    if path.is_dir():
        raise KinetypeError(f"{option} {path}: is a folder, give a file name")
    _check_parent_writable(path, option)
    return path


def check_output_dir(path: str | os.PathLike, option: str, *, must_not_exist: bool = False) -> Path:
    """The same for an output folder; with ``must_not_exist`` an existing path is refused too."""
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
    ancestor = _first_existing(path.parent)
    if not ancestor.is_dir():
        raise KinetypeError(f"{option} {path}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise KinetypeError(f"{option} {path}: folder {ancestor.absolute()} is not writable")
