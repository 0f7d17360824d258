"""A JSON file handed to kinetype is one object of finite numbers in a regular file, or one line naming it."""

from __future__ import annotations

import os
import threading

import pytest

from kinetype.errors import KinetypeError
from kinetype.jsonfile import read_json_object
from kinetype.model.errors import ModelError


def test_an_object_reads_as_written_with_or_without_a_byte_order_mark(tmp_path):
    (tmp_path / "a.json").write_text('{"fps": 8, "channels": [32, 64], "noise": {"correlation": 0.5}}')
    (tmp_path / "b.json").write_bytes(b"\xef\xbb\xbf" + (tmp_path / "a.json").read_bytes())
    want = {"fps": 8, "channels": [32, 64], "noise": {"correlation": 0.5}}
    assert read_json_object(tmp_path / "a.json") == read_json_object(tmp_path / "b.json") == want


@pytest.mark.parametrize("text,said", [
    ('{"fps": NaN}', "fps is nan"),
    ('{"noise": {"kind": "mixed", "correlation": 1e400}}', "noise.correlation is inf"),
    ('{"levels": [1, -Infinity]}', "levels.1 is -inf"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("[1, 2]", "expected a JSON object, got list"),
    ('{"a": 1', "not valid JSON"),
    ("", "not valid JSON"),
])
def test_what_json_loads_would_accept_or_crash_on_is_one_line_naming_the_file(tmp_path, text, said):
    (tmp_path / "config.json").write_text(text)
    with pytest.raises(ModelError) as e:
        read_json_object(tmp_path / "config.json", ModelError)
    assert str(e.value).startswith(f"{tmp_path / 'config.json'}: ") and said in str(e.value)
    assert len(str(e.value).splitlines()) == 1


def test_bytes_that_are_not_utf8_are_named_by_position(tmp_path):
    (tmp_path / "config.json").write_bytes(b'{"a": "\xff"}')
    with pytest.raises(KinetypeError, match="not UTF-8 text"):
        read_json_object(tmp_path / "config.json")


def test_a_fifo_or_directory_in_place_of_the_file_is_refused_without_opening_it(tmp_path):
    os.mkfifo(tmp_path / "fifo.json")
    (tmp_path / "dir.json").mkdir()
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(_message(tmp_path / "fifo.json")), daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert result == [f"{tmp_path / 'fifo.json'}: not a regular file (a FIFO)"]  # opening it would block
    assert _message(tmp_path / "dir.json") == f"{tmp_path / 'dir.json'}: not a regular file (a folder)"
    assert _message(tmp_path / "gone.json") == f"{tmp_path / 'gone.json'}: missing"


def test_a_file_over_the_cap_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr("kinetype.jsonfile.MAX_BYTES", 1 << 20)
    (tmp_path / "big.json").write_bytes(b'{"a": "' + b"x" * (1 << 20) + b'"}')
    assert _message(tmp_path / "big.json") == f"{tmp_path / 'big.json'}: {(1 << 20) + 9} bytes, more than the 1 MiB such a file may hold"


def _message(path) -> str:
    with pytest.raises(KinetypeError) as e:
        read_json_object(path)
    return str(e.value)
