"""Reading a JSON file someone handed us (a model folder's index and configs): one object, checked.

``json.loads(path.read_text())`` is not enough for a file from elsewhere, and each way it fails was
met in the reliability table:

- a FIFO in place of the file blocks ``open`` forever, a directory raises ``IsADirectoryError``:
  the path must be a regular file, checked with ``stat`` before it is opened;
- ``[[[[...`` 100,000 deep raises ``RecursionError`` from the decoder, outside ``JSONDecodeError``;
- ``NaN``, ``Infinity`` and ``1e400`` parse to non-finite floats, which then pass every ``x > 0``
  (refused, naming the key);
- a config of gigabytes would be read whole: files are capped at ``MAX_BYTES``.

Every problem is one :class:`~kinetype.errors.KinetypeError` (of the caller's subclass) naming the file.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any

from kinetype.errors import KinetypeError

MAX_BYTES = 16 << 20  # a model folder's configs are a few kB; the largest CLIP tokenizer file is ~2 MB


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words (for the one-line refusal)."""
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


def read_json_object(path: str | Path, error: type[KinetypeError] = KinetypeError) -> dict[str, Any]:
    """The JSON object in regular file ``path``, every number finite; else ``error`` naming the file."""
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise error(f"{path}: missing") from None
    except OSError as e:
        raise error(f"{path}: cannot read ({e.strerror or e})") from None
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{path}: expected a JSON file, found {kind_of(info.st_mode)}")
    if info.st_size > MAX_BYTES:
        raise error(f"{path}: {info.st_size} bytes, more than the {MAX_BYTES >> 20} MiB a JSON config may hold")
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
        data = json.loads(raw.decode("utf-8-sig"))
    except OSError as e:
        raise error(f"{path}: cannot read ({e.strerror or e})") from None
    except RecursionError:
        raise error(f"{path}: not valid JSON (nested too deeply)") from None
    except UnicodeDecodeError as e:
        raise error(f"{path}: not UTF-8 text (byte {e.start})") from None
    except ValueError as e:  # JSONDecodeError
        raise error(f"{path}: not valid JSON ({' '.join(str(e).split())[:160]})") from None
    if not isinstance(data, dict):
        raise error(f"{path}: expected a JSON object, got {type(data).__name__}")
    if found := _non_finite(data):
        where, value = found
        raise error(f"{path}: {where} is {value}, not a number JSON allows")
    return data


def _non_finite(data: dict) -> tuple[str, float] | None:
    """The dotted key of the first NaN or infinite number (``NaN``, ``Infinity``, ``1e400``), found
    without recursion (the decoder accepted the nesting; a walk of it must not overflow either)."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            return where or "a value", value
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        stack.extend((f"{where}.{k}" if where else str(k), v) for k, v in reversed(list(items)))
    return None
