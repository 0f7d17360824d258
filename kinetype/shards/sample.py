"""One sample as WebDataset tar members, and back.

Members of sample ``s000000042`` (a plain tar: any tar reader, ``webdataset`` and Hugging Face
``datasets`` read it without kinetype):

=========================  =======================================================================
``s000000042.mp4``         the clip, H.264 (yuv420p) in MP4
``….instance.u4x.zlib``   per-letter instance map, lossless: the (T, H, W) uint8 array (0 =
                           background, k = k-th letter) packed two pixels per byte (even column in
                           the high nibble), each frame XOR-ed with the one before it, then zlib.
                           The binary text mask is ``instance > 0``.
``….static.txt``           static caption (appearance)
``….dynamic.txt``          dynamic caption (motion)
``….word.txt``             word caption in KineTy's format (``H^|e|l|l|o``)
``….motion.txt``           short motion tag
``….json``                 metadata: index, template id and tags, word, seed, size, fps, frames,
                           every sampled parameter from the engine, per-letter boxes per frame
                           (null where hidden), at-rest frames
=========================  =======================================================================

Why packed nibbles, frame XOR and zlib: letters move little between frames, so the XOR with the
previous frame is mostly zeros; on 256×256×24 instance maps this was about 2× smaller than a 4-bit
PNG strip and 3× faster to write than bz2 (which was 30% smaller), see
``benchmarks/dataset_speed.py``. Decoding is a few lines of numpy (:func:`decode_instance`).
"""

from __future__ import annotations

import zlib
import json
import math
from typing import Any, Sequence

import numpy as np

INSTANCE_EXT = "instance.u4x.zlib"
TEXT_FIELDS = {"static": "static.txt", "dynamic": "dynamic.txt", "word": "word.txt", "motion": "motion.txt"}
MEMBER_EXTS = ("mp4", INSTANCE_EXT, *TEXT_FIELDS.values(), "json")


class SampleError(ValueError):
    """A sample whose members are missing or do not decode."""


# --- masks --------------------------------------------------------------------------------------


def encode_instance(instance: np.ndarray, level: int = 6) -> bytes:
    """(T, H, W) uint8 with values < 16 -> packed nibbles, XOR with the previous frame, zlib."""
    if instance.dtype != np.uint8 or instance.ndim != 3:
        raise ValueError(f"instance map must be (T, H, W) uint8, got {instance.shape} {instance.dtype}")
    if instance.max(initial=0) > 15:
        raise ValueError("instance map has more than 15 letters")
    inst = instance if instance.shape[2] % 2 == 0 else np.pad(instance, ((0, 0), (0, 0), (0, 1)))
    packed = (inst[:, :, 0::2] << 4) | inst[:, :, 1::2]  # (T, H, ceil(W/2))
    packed[1:] ^= packed[:-1].copy()  # frame deltas: mostly zeros
    return zlib.compress(np.ascontiguousarray(packed).tobytes(), level)


def decode_instance(data: bytes, num_frames: int, height: int, width: int,
                    frames: Sequence[int] | None = None) -> np.ndarray:
    """Inverse of :func:`encode_instance` -> (T, H, W) uint8; with ``frames``, only those frames
    (len(frames), H, W), and only the deltas up to the last of them are undone."""
    half = (width + 1) // 2
    try:
        raw = zlib.decompress(data)
    except zlib.error as e:
        raise SampleError(f"instance map does not decompress: {e}") from None
    if len(raw) != num_frames * height * half:
        raise SampleError(f"instance map has {len(raw)} bytes, expected {num_frames * height * half}")
    last = num_frames - 1 if frames is None else max(frames)
    packed = np.frombuffer(raw, np.uint8).reshape(num_frames, height, half)[: last + 1].copy()
    for t in range(1, last + 1):  # undo the frame deltas (faster here than np.bitwise_xor.accumulate)
        packed[t] ^= packed[t - 1]
    if frames is not None:
        packed = packed[list(frames)]
    out = np.empty((len(packed), height, 2 * half), np.uint8)
    out[:, :, 0::2] = packed >> 4
    out[:, :, 1::2] = packed & 15
    return out if width % 2 == 0 else np.ascontiguousarray(out[:, :, :width])


# --- metadata -------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    """numpy scalars/arrays, tuples and NaN -> plain JSON values (NaN -> null)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return None if math.isnan(v) or math.isinf(v) else v
    if hasattr(value, "__fspath__"):
        return str(value)
    return value


def boxes_to_json(boxes: np.ndarray) -> list:
    """(T, N, 4) float (x0, y0, x1, y1) with NaN for hidden letters -> nested lists of whole pixels,
    rounded outwards so the box still holds every mask pixel; hidden letters as null.
    Whole pixels: the boxes are most of a sample's JSON and 0.1 px cost a third more bytes."""
    boxes = np.asarray(boxes, np.float64)
    hidden = np.isnan(boxes).any(axis=-1)  # (T, N)
    whole = np.concatenate([np.floor(boxes[..., :2]), np.ceil(boxes[..., 2:])], axis=-1)
    ints = np.where(hidden[..., None], 0, whole).astype(np.int64).tolist()  # one tolist, not an int() per value
    return [[None if h else box for box, h in zip(frame, frame_hidden)]
            for frame, frame_hidden in zip(ints, hidden.tolist())]


def boxes_from_json(boxes: list, num_letters: int) -> np.ndarray:
    """Inverse of :func:`boxes_to_json` -> (T, N, 4) float32 with NaN for hidden letters."""
    out = np.full((len(boxes), num_letters, 4), np.nan, np.float32)
    for t, frame in enumerate(boxes):
        for k, box in enumerate(frame):
            if box is not None:
                out[t, k] = box
    return out


# --- whole samples --------------------------------------------------------------------------------


def encode_sample(clip, spec, template, mp4: bytes) -> tuple[dict[str, bytes], dict[str, Any]]:
    """A rendered clip (a :class:`~kinetype.render.clip.Clip`) -> (tar members by extension, one manifest row).

    ``spec`` is the :class:`~kinetype.shards.plan.SampleSpec`, ``template`` the engine template
    (for its tags), ``mp4`` the encoded frames.
    """
    captions = clip.captions.as_dict()
    num_frames, height, width = clip.instance_map.shape
    engine_meta = _jsonable(clip.metadata)
    font, palette = clip.font, clip.plan.style.palette
    meta = {
        "key": spec.key,
        "index": spec.index,
        "template": spec.template_id,
        "tags": list(getattr(template, "tags", ()) or ()),
        "word": clip.word,
        "seed": spec.seed,
        "size": int(width),
        "height": int(height),
        "num_frames": int(num_frames),
        "fps": int(clip.fps),
        "num_letters": int(clip.boxes.shape[1]),
        "captions": captions,
        "at_rest": [int(t) for t in np.flatnonzero(clip.at_rest)],
        "boxes": boxes_to_json(clip.boxes),
        "engine": engine_meta,
    }
    members = {
        "mp4": mp4,
        INSTANCE_EXT: encode_instance(np.ascontiguousarray(clip.instance_map, np.uint8)),
        **{ext: captions[name].encode("utf-8") for name, ext in TEXT_FIELDS.items()},
        "json": json.dumps(meta, separators=(",", ":"), ensure_ascii=False).encode("utf-8"),
    }
    row = {
        "key": spec.key,
        "index": spec.index,
        "template": spec.template_id,
        "tags": [str(t) for t in meta["tags"]],
        "word": clip.word,
        "seed": spec.seed,
        "static": captions["static"],
        "dynamic": captions["dynamic"],
        "word_caption": captions["word"],
        "motion": captions["motion"],
        "font": f"{font.family} {font.style}" if font.style else font.family,
        "palette": f"{palette.text} on {palette.background}",  # e.g. "gold on deep red"
        "num_frames": int(num_frames),
        "size": int(width),
        "fps": int(clip.fps),
        "at_rest_frames": len(meta["at_rest"]),
        "bytes": sum(len(v) for v in members.values()),
    }
    return members, row


def parse_meta(members: dict[str, bytes]) -> dict[str, Any]:
    """The ``json`` member of a sample as a dict (raises SampleError if missing or invalid)."""
    try:
        meta = json.loads(members["json"])
    except KeyError:
        raise SampleError("no json member") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise SampleError(f"json member does not parse: {e}") from None
    if not isinstance(meta, dict):
        raise SampleError("json member is not an object")
    return meta


def check_members(members: dict[str, Any]) -> None:
    missing = [ext for ext in MEMBER_EXTS if ext not in members]
    if missing:
        raise SampleError(f"missing members: {', '.join(missing)}")
