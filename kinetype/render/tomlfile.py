"""The one reader of the TOML files a user writes (templates, training configs, the font manifest).

``tomllib`` alone lets three things through as tracebacks: bytes that are not UTF-8, nesting deep
enough to exhaust the recursion limit, and integers of any size (which later overflow numpy, torch
or a seed). Each becomes one line naming the file and, where there is one, the key. A FIFO or a
folder where the file should be is refused before it is opened (opening a FIFO blocks for ever).
A UTF-8 byte-order mark, which Windows editors write at the start of a file, is dropped, as
Python's ``utf-8-sig`` codec, git and most TOML tools do: the file then reads as what it shows.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from kinetype.errors import KinetypeError
from kinetype.fsutil import NotARegularFile, read_regular_bytes

MAX_DEPTH = 32  # tables and arrays inside one another; kinetype's own files use 4
INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # what numpy, torch and the JSON files written back can hold


class TomlError(KinetypeError, ValueError):
    """A TOML file that cannot be read; the message names the file (and the key)."""


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse ``path`` (UTF-8, with or without a byte-order mark) and check its depth and integers;
    raise :class:`TomlError` or ``FileNotFoundError`` (a caller may say what a missing file means)."""
    path = Path(path)
    try:
        raw = read_regular_bytes(path)
    except NotARegularFile as e:
        raise TomlError(str(e)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise TomlError(f"{path}: not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start}): save it as UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise TomlError(f"{path}: not valid TOML: TOML syntax error ({e})") from None
    except RecursionError:
        raise TomlError(f"{path}: nested too deeply (more than {MAX_DEPTH} tables or arrays inside one another)") from None
    _check(data, path, "", 0)
    return data


def _check(value: Any, path: Path, key: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise TomlError(f"{path}: {key or 'the file'}: nested too deeply (more than {MAX_DEPTH} tables or arrays)")
    if isinstance(value, bool):
        return
    if isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
        raise TomlError(f"{path}: {key}: the integer {value} is out of range (at most 64 bits)")
    if isinstance(value, dict):
        for k, v in value.items():
            _check(v, path, f"{key}.{k}" if key else str(k), depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check(v, path, f"{key}[{i}]", depth + 1)
