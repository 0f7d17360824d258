"""One sample as tar members: lossless masks, JSON metadata with null for hidden letters."""

import json

import numpy as np
import pytest

from kinetype.shards.plan import SampleSpec
from kinetype.shards.sample import (INSTANCE_EXT, MEMBER_EXTS, boxes_from_json, boxes_to_json, decode_instance,
                                    encode_instance, encode_sample)
from test_shards_helpers import FAKE_TEMPLATES, fake_render


@pytest.mark.parametrize("shape", [(3, 16, 16), (2, 5, 7)])
def test_instance_round_trip(shape):
    inst = np.random.default_rng(0).integers(0, 13, shape, dtype=np.uint8)
    assert np.array_equal(decode_instance(encode_instance(inst), *shape), inst)


def test_instance_rejects_too_many_letters():
    with pytest.raises(ValueError):
        encode_instance(np.full((1, 2, 2), 16, np.uint8))


def test_boxes_nan_as_null():
    boxes = np.array([[[1.04, 2, 3.2, 4.9], [np.nan] * 4]], np.float32)
    js = boxes_to_json(boxes)
    assert js == [[[1, 2, 4, 5], None]]  # whole pixels, rounded outwards
    assert json.dumps(js) == "[[[1, 2, 4, 5], null]]"
    back = boxes_from_json(json.loads(json.dumps(js)), 2)
    assert np.isnan(back[0, 1]).all() and np.allclose(back[0, 0], [1, 2, 4, 5])


def test_encode_sample_members_and_row():
    clip = fake_render(FAKE_TEMPLATES[0], "Hey", 5)
    spec = SampleSpec(4, "s000000004", "fake_a", "Hey", 5)
    members, row = encode_sample(clip, spec, FAKE_TEMPLATES[0], b"mp4")
    assert set(members) == set(MEMBER_EXTS)
    meta = json.loads(members["json"])
    assert meta["key"] == "s000000004" and meta["word"] == "Hey" and meta["at_rest"] == [6, 7]
    assert meta["boxes"][0][2] is None  # the third letter is hidden in the first frame
    assert meta["engine"]["plan"]["phases"][0]["params"]["angle"] == 0.5  # numpy scalars become JSON numbers
    assert members["word.txt"] == b"H^|e|y" and members["motion.txt"] == b"slide in"
    assert np.array_equal(decode_instance(members[INSTANCE_EXT], 8, 64, 64), clip.instance_map)
    assert row["font"] == "Fake Sans Bold" and row["tags"] == ["position", "enter"] and row["bytes"] > 0
