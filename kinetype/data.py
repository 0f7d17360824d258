"""Streaming the rendered shards into training: ``ShardDataset`` and ``make_loader``.

Layers (as in webdataset): shard URLs -> split over ranks and DataLoader workers -> tar members
(``webdataset.tariterators``) -> raw samples -> shuffle buffer -> decoded tensors.

Splitting: in finite mode the (shuffled-per-epoch) shard list is dealt round-robin to the
``world_size × num_workers`` readers, so no sample is read twice; readers that get no shard simply
end. Ranks may therefore see different numbers of samples when shards don't divide evenly (up to
one shard's worth): for DDP training use ``resampled=True`` (endless, each reader draws shards at
random with its own seed) and count steps, or stop all ranks at the shortest one.

Corrupt data never stops training: a truncated tar or a sample whose members are missing or fail
to decode is skipped, counted in ``ShardDataset.skipped`` (per process: the main process with
``num_workers=0``, else each worker's copy) and logged.
"""

from __future__ import annotations

import glob
import io
import json
import logging
import os
import random
from pathlib import Path
from typing import Any, Iterator, Sequence

import av
import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info
from webdataset import tariterators

from kinetype.shards.sample import INSTANCE_EXT, TEXT_FIELDS, SampleError, check_members, decode_instance, parse_meta

log = logging.getLogger("kinetype.data")


def expand_shards(shards: str | Path | Sequence[str]) -> list[str]:
    """A dataset folder, a brace pattern (``shard-{000000..000009}.tar``), a glob, or a list."""
    if isinstance(shards, (list, tuple)):
        urls = [str(s) for s in shards]
    else:
        spec = str(shards)
        if Path(spec).is_dir():
            urls = sorted(glob.glob(os.path.join(spec, "shard-*.tar")))
        else:
            urls = []
            for part in tariterators.braceexpand.braceexpand(spec):
                urls += sorted(glob.glob(part)) if any(c in part for c in "*?[") else [part]
    if not urls:
        raise FileNotFoundError(f"no shards found in {shards!r}")
    return urls


def rank_world() -> tuple[int, int]:
    """This process's distributed rank and world size (torch.distributed, else torchrun's env)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


# --- decoding --------------------------------------------------------------------------------------

# YUV -> RGB, rows R, G, B; columns Y, U, V (ITU-R BT.601 / BT.709).
_YUV2RGB = {
    "bt601": torch.tensor([[1.0, 0.0, 1.402], [1.0, -0.344136, -0.714136], [1.0, 1.772, 0.0]]),
    "bt709": torch.tensor([[1.0, 0.0, 1.5748], [1.0, -0.187324, -0.468124], [1.0, 1.8556, 0.0]]),
}


def decode_video(data: bytes, frame_indices: Sequence[int]) -> torch.Tensor:
    """H.264/MP4 bytes -> (len(frame_indices), 3, H, W) float32 in [-1, 1].

    Frames are taken as yuv420p planes and converted in torch: faster than asking libswscale for
    rgb24 and straight to the float layout training wants (compared in benchmarks/dataset_speed.py).
    """
    wanted = sorted(set(frame_indices))
    planes = {}
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "SLICE"  # per-core throughput: no frame threads
        for t, frame in enumerate(container.decode(stream)):
            if t in wanted:
                if frame.format.name != "yuv420p":
                    frame = frame.reformat(format="yuv420p")
                planes[t] = (frame.to_ndarray(), frame)
            if t >= wanted[-1]:
                break
    if len(planes) != len(wanted):
        raise SampleError(f"video has fewer frames than needed (got {len(planes)}, frame {wanted[-1]} needed)")
    first = planes[wanted[0]][1]
    height, width = first.height, first.width
    yuv = torch.from_numpy(np.stack([planes[t][0] for t in frame_indices]))  # (T, H*3/2, W) uint8
    num = yuv.shape[0]
    color_range = getattr(first, "color_range", None)  # 2 = full ("JPEG") range, else limited
    full_range = color_range == 2 or "JPEG" in str(color_range).upper()
    y_off, y_scale, c_scale = (0.0, 1 / 255.0, 1 / 255.0) if full_range else (16.0, 1 / 219.0, 1 / 224.0)
    colorspace = getattr(first, "colorspace", None)  # 1 = ITU-R BT.709; unspecified is taken as BT.601
    m = _YUV2RGB["bt709" if colorspace == 1 or "709" in str(colorspace) else "bt601"]
    # Output in [-1, 1] directly: rgb * 2 - 1 folded into the luma scale and the chroma weights.
    y = yuv[:, :height].float().mul_(2.0 * y_scale).sub_(2.0 * y_off * y_scale + 1.0)  # (T, H, W)
    uv = yuv[:, height:].reshape(num, 2, height // 2, width // 2).float().sub_(128.0).mul_(2.0 * c_scale)
    u, v = uv[:, 0], uv[:, 1]  # (T, H/2, W/2)
    # Chroma terms are computed at half resolution and broadcast over each 2x2 block (nearest
    # upsampling) while adding luma: no full-size temporaries.
    terms = (v * m[0, 2], u * m[1, 1] + v * m[1, 2], u * m[2, 1])
    rgb = torch.empty(num, 3, height, width)
    y_blocks = y.view(num, height // 2, 2, width // 2, 2)
    for c, term in enumerate(terms):
        torch.add(y_blocks, term[:, :, None, :, None], out=rgb[:, c].view(num, height // 2, 2, width // 2, 2))
    return rgb.clamp_(-1.0, 1.0)


class FrameSelectionError(ValueError):
    """The requested frames don't fit the clips: a configuration error, raised, never skipped."""


def frame_indices(total: int, num_frames: int | None, stride: int, random_crop: bool, single_frame: bool,
                  rng: random.Random) -> list[int]:
    if single_frame:
        return [rng.randrange(total)]
    if num_frames is None:
        return list(range(0, total, stride))
    span = (num_frames - 1) * stride + 1
    if span > total:
        raise FrameSelectionError(f"num_frames={num_frames} with frame_stride={stride} needs {span} frames; clips have {total}")
    start = rng.randrange(total - span + 1) if random_crop else 0
    return list(range(start, start + span, stride))


# --- the dataset ---------------------------------------------------------------------------------------


class ShardDataset(IterableDataset):
    """Samples from kinetype shards as dicts of tensors: see the module docstring.

    Each sample: ``video`` (T, 3, H, W) float32 in [-1, 1]; ``mask`` (T, H, W) float32 in {0, 1};
    ``instance`` (T, H, W) uint8 (k = k-th letter); ``static``, ``dynamic``, ``word``, ``motion``
    captions (str); ``meta`` (the sample's JSON metadata); ``__key__``.
    """

    def __init__(self, shards: str | Path | Sequence[str], *, num_frames: int | None = None, frame_stride: int = 1,
                 random_crop: bool = False, single_frame: bool = False, shuffle_buffer: int = 0,
                 resampled: bool = False, seed: int = 0):
        super().__init__()
        if frame_stride < 1:
            raise ValueError("frame_stride must be at least 1")
        self.urls = expand_shards(shards)
        self.num_frames, self.frame_stride = num_frames, frame_stride
        self.random_crop, self.single_frame = random_crop, single_frame
        self.shuffle_buffer, self.resampled, self.seed = shuffle_buffer, resampled, seed
        self.epoch = 0
        self.skipped = 0  # corrupt samples (and unreadable tar tails) skipped in this process

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle shard order and buffers differently per epoch (call before each epoch)."""
        self.epoch = epoch

    # Layers, bottom up.

    def _reader_slot(self) -> tuple[int, int, int]:
        rank, world = rank_world()
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        return rank * workers + worker, world * workers, worker

    def _shard_urls(self, slot: int, slots: int, rng: random.Random) -> Iterator[str]:
        if self.resampled:
            while True:
                yield rng.choice(self.urls)
        urls = list(self.urls)
        if self.shuffle_buffer > 0:
            random.Random(f"{self.seed}:{self.epoch}").shuffle(urls)  # same order on every reader
        yield from urls[slot::slots]

    def _on_error(self, exn: Exception) -> bool:
        self.skipped += 1
        log.warning("skipped unreadable shard data (%s); %d skipped so far in this process", exn, self.skipped)
        return True  # continue with the next shard

    def _raw_samples(self, urls: Iterator[str]) -> Iterator[dict]:
        sources = ({"url": url} for url in urls)
        streams = tariterators.url_opener(sources, handler=self._on_error)
        files = tariterators.tar_file_expander(streams, handler=self._on_error)
        return tariterators.group_by_keys(files, handler=self._on_error)

    def _shuffled(self, samples: Iterator[dict], rng: random.Random) -> Iterator[dict]:
        if self.shuffle_buffer <= 1:
            yield from samples
            return
        buffer: list[dict] = []
        for sample in samples:
            if len(buffer) < self.shuffle_buffer:
                buffer.append(sample)
                continue
            j = rng.randrange(len(buffer))
            yield buffer[j]
            buffer[j] = sample
        rng.shuffle(buffer)
        yield from buffer

    def decode(self, raw: dict[str, Any], rng: random.Random) -> dict[str, Any]:
        """Raw tar members of one sample -> tensors (raises on a corrupt sample)."""
        check_members(raw)
        meta = parse_meta(raw)
        total, height, width = int(meta["num_frames"]), int(meta["height"]), int(meta["size"])
        indices = frame_indices(total, self.num_frames, self.frame_stride, self.random_crop, self.single_frame, rng)
        video = decode_video(raw["mp4"], indices)
        instance = decode_instance(raw[INSTANCE_EXT], total, height, width)[indices]
        if video.shape[-2:] != instance.shape[-2:]:
            raise SampleError(f"video is {tuple(video.shape[-2:])}, masks are {instance.shape[-2:]}")
        instance_t = torch.from_numpy(np.ascontiguousarray(instance))
        out = {
            "video": video,
            "mask": (instance_t > 0).float(),
            "instance": instance_t,
            **{name: raw[ext].decode("utf-8") for name, ext in TEXT_FIELDS.items()},
            "meta": meta,
            "__key__": raw["__key__"],
        }
        return out

    def __iter__(self) -> Iterator[dict[str, Any]]:
        slot, slots, worker = self._reader_slot()
        rng = random.Random(f"{self.seed}:{self.epoch}:{slot}")
        samples = self._shuffled(self._raw_samples(self._shard_urls(slot, slots, rng)), rng)
        for raw in samples:
            try:
                yield self.decode(raw, rng)
            except FrameSelectionError:
                raise
            except (SampleError, ValueError, KeyError, OSError, EOFError, av.error.FFmpegError, RuntimeError,
                    json.JSONDecodeError) as e:
                self.skipped += 1
                log.warning("skipped corrupt sample %s in %s (%s: %s); %d skipped so far in this process",
                            raw.get("__key__"), raw.get("__url__"), type(e).__name__, e, self.skipped)


def collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Tensors are stacked with a leading batch dimension; strings and dicts become lists."""
    out = {}
    for key in samples[0]:
        values = [s[key] for s in samples]
        out[key] = torch.stack(values) if isinstance(values[0], torch.Tensor) else values
    return out


def make_loader(shards, batch_size: int, num_workers: int = 0, **dataset_kwargs) -> DataLoader:
    """A DataLoader over :class:`ShardDataset` with :func:`collate`."""
    dataset = ShardDataset(shards, **dataset_kwargs)
    return DataLoader(dataset, batch_size=batch_size, num_workers=num_workers, collate_fn=collate,
                      persistent_workers=False, prefetch_factor=4 if num_workers > 0 else None)
