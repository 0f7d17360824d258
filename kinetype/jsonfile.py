"""Reading a JSON file someone handed us (a model folder's index and configs, a shard's stats):
one object, checked.

``json.loads(path.read_text())`` is not enough for a file from elsewhere, and each way it fails was
met in the reliability table:

- a FIFO in place of the file blocks ``open`` forever, a directory raises ``IsADirectoryError``:
  the file is read by :func:`kinetype.fsutil.read_regular_bytes`, which refuses both unopened;
- ``[[[[...`` 100,000 deep raises ``RecursionError`` from the decoder, outside ``JSONDecodeError``;
- ``NaN``, ``Infinity`` and ``1e400`` parse to non-finite floats, which then pass every ``x > 0``
  (refused, naming the key);
- a config of gigabytes would be read whole: files are capped at ``MAX_BYTES``.

Every problem is one :class:`~kinetype.errors.KinetypeError` (of the caller's subclass) naming the file.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from kinetype.errors import KinetypeError
from kinetype.fsutil import read_regular_bytes

MAX_BYTES = 16 << 20  # a model folder's configs are a few kB; the largest CLIP tokenizer file is ~2 MB


class JsonProblem(ValueError):
    """Why some bytes are not one JSON object of finite numbers, in words (without a file's name:
    the caller names what it read them from)."""


def read_json_object(path: str | Path, error: type[KinetypeError] = KinetypeError) -> dict[str, Any]:
    """The JSON object in regular file ``path``, every number finite; else ``error`` naming the file."""
    path = Path(path)
    try:
        return json_object(read_regular_bytes(path, most=MAX_BYTES))
    except FileNotFoundError:
        raise error(f"{path}: missing") from None
    except JsonProblem as e:
        raise error(f"{path}: {e}") from None
    except KinetypeError as e:  # not a regular file, or too large
        raise error(str(e)) from None
    except OSError as e:
        raise error(f"{path}: cannot read ({e.strerror or e})") from None


def json_object(raw: bytes | str) -> dict[str, Any]:
    """The JSON object in ``raw`` (a UTF-8 byte-order mark is read past), every number finite;
    else :class:`JsonProblem` saying why."""
    try:
        data = json.loads(raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw)
    except RecursionError:
        raise JsonProblem("not valid JSON (nested too deeply)") from None
    except UnicodeDecodeError as e:
        raise JsonProblem(f"not UTF-8 text (byte {e.start})") from None
    except ValueError as e:  # JSONDecodeError
        raise JsonProblem(f"not valid JSON ({' '.join(str(e).split())[:160]})") from None
    if not isinstance(data, dict):
        raise JsonProblem(f"expected a JSON object, got {type(data).__name__}")
    if found := _non_finite(data):
        where, value = found
        raise JsonProblem(f"{where} is {value}, not a number JSON allows")
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
