"""A weights file's header is checked against its bytes before any tensor is read."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from kinetype.model.errors import ModelError  # noqa: E402
from kinetype.model.weights import check_header, read_header, save_weights  # noqa: E402


@pytest.fixture
def weights(tmp_path):
    file = tmp_path / "model.safetensors"
    save_weights({"a.weight": torch.ones(3, 4), "b.bias": torch.zeros(5)}, file)
    return file


def _header(file):
    raw = file.read_bytes()
    size = int.from_bytes(raw[:8], "little")
    return raw, size, json.loads(raw[8:8 + size])


def _rewrite(file, header, data):
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    file.write_bytes(len(text).to_bytes(8, "little") + text + data)


def test_a_whole_file_reads_as_its_names_dtypes_and_shapes(weights):
    assert read_header(weights) == {"a.weight": ("F32", (3, 4)), "b.bias": ("F32", (5,))}
    check_header(weights, {"a.weight": (3, 4), "b.bias": (5,)})


@pytest.mark.parametrize("damage,said", [
    (lambda raw, size, header: raw[: len(raw) - 7], "cut short or appended to"),
    (lambda raw, size, header: raw + b"\0" * 64, "cut short or appended to"),
    (lambda raw, size, header: raw[:12], "not a safetensors header"),
])
def test_a_file_cut_short_or_appended_to_is_refused(weights, damage, said):
    weights.write_bytes(damage(*_header(weights)))
    with pytest.raises(ModelError, match=said):
        read_header(weights)


def test_byte_ranges_that_do_not_hold_their_tensor_are_refused(weights):
    raw, size, header = _header(weights)
    header["a.weight"]["data_offsets"] = [0, 4]  # 4 bytes for twelve float32s
    _rewrite(weights, header, raw[8 + size:])
    with pytest.raises(ModelError, match="'a.weight' spans bytes 0..4"):
        read_header(weights)


def test_shapes_other_than_the_config_builds_are_named(weights):
    with pytest.raises(ModelError, match="'a.weight' has shape \\[3, 4\\], the config builds \\[4, 4\\]"):
        check_header(weights, {"a.weight": (4, 4), "b.bias": (5,)})
    with pytest.raises(ModelError, match="'c' is missing"):
        check_header(weights, {"a.weight": (3, 4), "b.bias": (5,), "c": (1,)})
