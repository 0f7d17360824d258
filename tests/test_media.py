"""Video/GIF/PNG encoding round trips and contact sheets (atomic writes: test_fsutil.py)."""

import io
import os

import numpy as np
import pytest
from PIL import Image

from kinetype.errors import KinetypeError
from kinetype.media import (SHEET_GAP_PX, colourise_mask, contact_sheet, decode_mp4, encode_gif, encode_mp4,
                            encode_png, write_video)


def smooth_clip(num_frames=12, height=96, width=128) -> np.ndarray:
    """(T, H, W, 3) uint8: drifting low-frequency colour waves (what H.264 handles well)."""
    t = np.arange(num_frames)[:, None, None] / num_frames
    y = np.linspace(0, 1, height)[None, :, None]
    x = np.linspace(0, 1, width)[None, None, :]
    r = 0.5 + 0.4 * np.sin(2 * np.pi * (x + t))
    g = 0.5 + 0.4 * np.cos(2 * np.pi * (0.7 * y + 0.5 * t))
    b = 0.5 + 0.3 * np.sin(2 * np.pi * (x + y - t))
    return np.round(255 * np.stack(np.broadcast_arrays(r, g, b), axis=-1)).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(float) - b.astype(float)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def _top_level_boxes(data: bytes) -> list[str]:
    boxes, i = [], 0
    while i + 8 <= len(data):
        size = int.from_bytes(data[i:i + 4], "big")
        boxes.append(data[i + 4:i + 8].decode("latin-1"))
        if size < 8:
            break
        i += size
    return boxes


# --- MP4 ----------------------------------------------------------------------------------------------

def test_mp4_round_trip():
    frames = smooth_clip()
    data = encode_mp4(frames, fps=8)
    decoded = decode_mp4(data)
    assert decoded.shape == frames.shape and decoded.dtype == np.uint8
    assert psnr(decoded, frames) > 30.0


def test_mp4_is_deterministic_and_well_formed():
    frames = smooth_clip()
    a, b = encode_mp4(frames, fps=8), encode_mp4(frames, fps=8)
    assert a == b
    boxes = _top_level_boxes(a)
    assert boxes[0] == "ftyp" and {"moov", "mdat"} <= set(boxes)


def test_fast_decode_matches_ffmpeg_colour_conversion():
    """Our numpy BT.709 conversion agrees with swscale reading the stream's colour tags."""
    import io

    import av

    data = encode_mp4(smooth_clip(), fps=8)
    with av.open(io.BytesIO(data)) as c:
        reference = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
    ours = decode_mp4(data)
    assert np.abs(ours.astype(int) - reference.astype(int)).mean() < 2.0


def test_mp4_odd_size_is_padded():
    frames = smooth_clip(4, 33, 47)
    decoded = decode_mp4(encode_mp4(frames, fps=8))
    assert decoded.shape == (4, 34, 48, 3)
    assert psnr(decoded[:, :33, :47], frames) > 30.0


def test_mp4_rejects_bad_input():
    with pytest.raises(ValueError, match="uint8"):
        encode_mp4(np.zeros((2, 8, 8, 3), np.float32), fps=8)
    with pytest.raises(ValueError, match="fps"):
        encode_mp4(np.zeros((2, 8, 8, 3), np.uint8), fps=0)
    with pytest.raises(ValueError, match="cannot decode"):
        decode_mp4(b"not a video")


# --- GIF ----------------------------------------------------------------------------------------------

def test_gif_round_trip():
    frames = smooth_clip(8, 32, 40)
    data = encode_gif(frames, fps=8)
    assert data == encode_gif(frames, fps=8)
    with Image.open(io.BytesIO(data)) as im:
        assert im.n_frames == 8 and im.size == (40, 32) and im.info["loop"] == 0
        total_ms = 0
        for k in range(im.n_frames):
            im.seek(k)
            total_ms += im.info["duration"]
            got = np.asarray(im.convert("RGB"))
            assert np.abs(got.astype(int) - frames[k]).mean() < 10  # 256 colours for a smooth 3-D colour field
    assert total_ms == 1000  # 8 frames at 8 fps, exactly, though 125 ms is not whole centiseconds


# --- contact sheet --------------------------------------------------------------------------------------

def test_contact_sheet_shape():
    frames = smooth_clip(10, 24, 32)
    g = SHEET_GAP_PX
    sheet = contact_sheet(frames, columns=4)
    assert sheet.dtype == np.uint8 and sheet.shape == (3 * 24 + 4 * g, 4 * 32 + 5 * g, 3)
    np.testing.assert_array_equal(sheet[g:g + 24, g:g + 32], frames[0])
    np.testing.assert_array_equal(sheet[g:g + 24, 2 * g + 32:2 * g + 64], frames[1])
    assert contact_sheet(frames, columns=99).shape == (24 + 2 * g, 10 * 32 + 11 * g, 3)


def test_contact_sheet_masks_labels_caption():
    frames = smooth_clip(4, 24, 32)
    masks = np.zeros((4, 24, 32), np.uint8)
    masks[:, 4:10, 4:12] = 1
    masks[:, 12:20, 16:30] = 2
    g = SHEET_GAP_PX
    sheet = contact_sheet(frames, columns=2, masks=masks)
    assert sheet.shape == (2 * (2 * 24 + g) + 3 * g, 2 * 32 + 3 * g, 3)
    mask_img = sheet[g + 24 + g:g + 48 + g, g:g + 32]
    np.testing.assert_array_equal(mask_img, colourise_mask(masks[0]))
    assert (mask_img[5, 5] != mask_img[15, 20]).any() and (mask_img[0, 0] == 0).all()
    labelled = contact_sheet(frames, columns=2, masks=masks, labels=["a", "b", "c", "d"],
                             caption=["static: red letters", "dynamic: " + "bounce in, " * 30])
    assert labelled.shape[1] == sheet.shape[1] and labelled.shape[0] > sheet.shape[0] + 40
    one_string = contact_sheet(frames, columns=2, masks=masks, labels=["a", "b", "c", "d"],
                               caption="static: red letters\ndynamic: " + "bounce in, " * 30)
    np.testing.assert_array_equal(one_string, labelled)
    with pytest.raises(ValueError, match="masks"):
        contact_sheet(frames, masks=masks[:, :10])
    with pytest.raises(ValueError, match="labels"):
        contact_sheet(frames, labels=["a"])


def test_colourise_mask_distinct_ids():
    colours = colourise_mask(np.arange(12, dtype=np.int64).reshape(3, 4)).reshape(-1, 3)
    assert (colours[0] == 0).all()
    assert len({tuple(c) for c in colours}) == 12


# --- files ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".mp4", ".gif", ".png"])
def test_write_video(tmp_path, suffix):
    frames = smooth_clip(4, 32, 32)
    path = write_video(tmp_path / "out" / f"clip{suffix}", frames, fps=8)
    assert path.is_file() and path.stat().st_size > 0
    assert os.listdir(path.parent) == [path.name]  # no temporary left behind
    if suffix == ".png":
        assert np.asarray(Image.open(path)).shape == contact_sheet(frames).shape
    if suffix == ".mp4":
        assert decode_mp4(path.read_bytes()).shape == frames.shape


def test_write_video_unknown_suffix(tmp_path):
    with pytest.raises(KinetypeError) as e:
        write_video(tmp_path / "clip.avi", smooth_clip(2, 8, 8), fps=8)
    assert "clip.avi" in str(e.value) and "'.avi'" in str(e.value) and "\n" not in str(e.value)
    assert not os.listdir(tmp_path)


def test_png_bytes():
    img = smooth_clip(1, 16, 16)[0]
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(encode_png(img)))), img)


def test_mp4_bytes_are_the_same_in_every_process():
    """x264's macroblock tree read uninitialised memory on small frames: bytes changed per process."""
    import subprocess
    import sys

    code = (
        "import hashlib, numpy as np\n"
        "from kinetype.render.templates import load_templates\n"
        "from kinetype.render import render_clip\n"
        "from kinetype.media import encode_mp4\n"
        "ts = load_templates()\n"
        "h = hashlib.sha256()\n"
        "for k in range(6):\n"
        "    h.update(encode_mp4(render_clip(ts[k * 100], 'Hello', k, size=64, num_frames=8).frames, 8))\n"
        "print(h.hexdigest())\n"
    )
    digests = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
               for _ in range(3)}
    assert len(digests) == 1
