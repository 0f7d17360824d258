"""Decoding clips to tensors: float32 (the contract), float16, uint8 and yuv420 planes agree; frames,
out=, errors."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
import torch

from kinetype.decode import ColourError, decode_video, decode_yuv420, planes_to_rgb, yuv420_to_rgb
from kinetype.media import encode_mp4 as encode_tagged_mp4
from test_shards_helpers import encode_mp4


@pytest.fixture(scope="module")
def mp4() -> bytes:
    """Smooth random colours (saturated enough to leave the RGB gamut after H.264) at 64 px."""
    rng = np.random.default_rng(0)
    frames = np.clip(np.cumsum(rng.integers(-9, 10, (6, 64, 64, 3)), axis=2) + 128, 0, 255).astype(np.uint8)
    return encode_mp4(frames, 8)


def test_float32_matches_libswscale_and_stays_in_range(mp4):
    with av.open(io.BytesIO(mp4)) as c:
        ref = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)]).astype(np.float32)
    video = decode_video(mp4, range(6))
    assert video.shape == (6, 3, 64, 64) and video.dtype == torch.float32
    assert video.min() >= -1 and video.max() <= 1
    ours = ((video.permute(0, 2, 3, 1) + 1) * 127.5).numpy()
    assert np.abs(ours - ref).mean() < 2 and np.abs(ours - ref).max() < 8


def test_uint8_and_float16_equal_float32_after_normalisation(mp4):
    ref = decode_video(mp4, range(6))
    u8 = decode_video(mp4, range(6), "uint8")
    assert u8.dtype == torch.uint8 and u8.shape == ref.shape
    # What the trainer does on the GPU; 8-bit rounding is half a level, fixed point adds < 0.2.
    assert (u8.float().div_(127.5).sub_(1) - ref).abs().max() <= 0.7 / 127.5
    f16 = decode_video(mp4, range(6), torch.float16)
    assert f16.dtype == torch.float16 and (f16.float() - ref).abs().max() <= 1e-3


def test_frames_in_any_order_and_repeated(mp4):
    full = decode_video(mp4, range(6), "uint8")
    assert torch.equal(decode_video(mp4, [4, 1, 4], "uint8"), full[[4, 1, 4]])
    with pytest.raises(ValueError, match="fewer frames"):
        decode_video(mp4, [6])


def test_out_is_written_in_place_and_checked(mp4):
    yuv = decode_yuv420(mp4, range(3))
    batch = torch.zeros(2, 3, 3, 64, 64, dtype=torch.uint8)
    assert yuv420_to_rgb(yuv, "uint8", out=batch[1]).data_ptr() == batch[1].data_ptr()
    assert torch.equal(batch[1], decode_video(mp4, range(3), "uint8")) and not batch[0].any()
    with pytest.raises(ValueError, match="out must be"):
        yuv420_to_rgb(yuv, "float32", out=batch[1])


def test_bad_dtype_is_one_line_naming_the_argument(mp4):
    with pytest.raises(ValueError, match="^dtype must be one of 'float32', 'float16', 'uint8', 'yuv420', got 'int8'$"):
        decode_video(mp4, range(2), "int8")
    with pytest.raises(ValueError, match="^dtype must be one of 'float32', 'float16', 'uint8' for RGB, got 'yuv420'$"):
        yuv420_to_rgb(decode_yuv420(mp4, range(2)), "yuv420")


@pytest.fixture(scope="module")
def tagged_mp4() -> bytes:
    """As kinetype writes clips: BT.709, limited range, tagged (what dtype="yuv420" carries); 50 rows,
    so the U and V planes do not fill whole rows of the packed layout."""
    rng = np.random.default_rng(1)
    frames = np.clip(np.cumsum(rng.integers(-9, 10, (6, 50, 64, 3)), axis=2) + 128, 0, 255).astype(np.uint8)
    return encode_tagged_mp4(frames, 8)


def test_yuv420_planes_are_pyav_layout_and_convert_to_the_float_video(tagged_mp4):
    with av.open(io.BytesIO(tagged_mp4)) as c:
        ref = np.stack([f.to_ndarray() for f in c.decode(video=0)])  # yuv420p: (T, H*3/2, W)
    planes = decode_video(tagged_mp4, [5, 0, 2, 2], "yuv420")
    assert planes.dtype == torch.uint8 and planes.shape == (4, 75, 64)
    assert np.array_equal(planes.numpy(), ref[[5, 0, 2, 2]])
    # The shared conversion (what the trainer runs on the GPU) gives the float32 video, for any
    # leading dimensions (a (B, T) batch) and each RGB type.
    video = decode_video(tagged_mp4, [5, 0, 2, 2])
    assert (planes_to_rgb(planes) - video).abs().max() <= 1e-6
    assert (planes_to_rgb(planes.view(2, 2, 75, 64)) - video.view(2, 2, 3, 50, 64)).abs().max() <= 1e-6
    assert torch.equal(planes_to_rgb(planes, "uint8"), decode_video(tagged_mp4, [5, 0, 2, 2], "uint8"))
    with pytest.raises(ValueError, match="planes must be"):
        planes_to_rgb(video)


def test_yuv420_refuses_clips_it_cannot_carry(mp4):
    # Untagged (taken as BT.601): the planes would be converted with the wrong matrix on the GPU.
    with pytest.raises(ColourError, match="BT.601 .* dtype='yuv420' carries BT.709 limited range only"):
        decode_video(mp4, range(2), "yuv420")
