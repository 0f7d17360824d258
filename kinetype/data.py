"""Streaming the rendered shards into training: ``ShardDataset`` and ``make_loader``.

Layers (as in webdataset): shard URLs -> split over ranks and DataLoader workers -> tar members
(``webdataset.tariterators``) -> raw samples -> shuffle blocks -> decoded tensors.

Order: each reader's samples are a pure function of (seed, reader): its n-th shard draw is
fixed by the seed, whole shards are read into a block until it holds ``shuffle_buffer`` samples,
and the block is permuted by a generator seeded with the draw of its first shard; a sample's random
frame crop is seeded by its position. So a position (draw of the block's first shard, index in the
block's order), which every sample carries as ``__pos__``, is enough to restart a reader exactly
there: earlier shards are drawn but never opened, earlier samples of the block are never decoded
(``ShardDataset.resume_from``, what a resumed training run uses).

Splitting: in finite mode the (shuffled) shard list is dealt round-robin to the
``world_size × num_workers`` readers, so no sample is read twice; readers that get no shard simply
end. Ranks may therefore see different numbers of samples when shards don't divide evenly (up to
one shard's worth): for DDP training use ``resampled=True`` (endless, each reader draws shards at
random with its own seed) and count steps, or stop all ranks at the shortest one.

Corrupt data does not stop training: a truncated tar or a sample whose members are missing or fail
to decode is skipped, counted in ``ShardDataset.skipped`` (in samples lost: a tar cut after 3 of 8
samples counts 5, read from the shard's stats file) (per process: the main process with
``num_workers=0``, else each worker's copy) and logged. Data that is mostly or wholly damaged does:
once a reader has read ``MIN_READ`` samples and more than ``MAX_BAD_SHARE`` of them were skipped, or
a finite pass ends with none readable, it raises one :class:`DataError` line (a folder of foreign
tars would otherwise be skipped through for ever).
"""

from __future__ import annotations

import glob
import itertools
import json
import logging
import os
import random
from pathlib import Path
from typing import Any, Iterator, Sequence

import av
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info
from webdataset import tariterators

from kinetype.decode import RGB_DTYPES, ColourError, decode_video, video_dtype
from kinetype.errors import KinetypeError, random_seed, whole
from kinetype.jsonfile import json_object
from kinetype.shards.layout import (CONFIG_FILE, MAX_STATS_BYTES, damage_error, read_all_stats, read_render_record, tar_name,
                                    tar_problems)
from kinetype.shards.sample import INSTANCE_EXT, TEXT_FIELDS, SampleError, check_members, decode_instance, parse_meta
from kinetype.shards.storage import Storage, check_dataset_file
from kinetype.workers import loader_worker_init

log = logging.getLogger("kinetype.data")

Position = tuple[int, int]  # within one reader: (draw of its block's first shard, index in the block's order)


def expand_shards(shards: str | Path | Sequence[str]) -> list[str]:
    """A dataset folder, a brace pattern (``shard-{000000..000009}.tar``), a glob, or a list."""
    if isinstance(shards, (list, tuple)):
        urls = [str(s) for s in shards]
    else:
        spec = str(shards)
        if Path(spec).is_dir():
            urls = _planned_shards(Path(spec))
        else:
            urls = []
            for part in tariterators.braceexpand.braceexpand(spec):
                urls += sorted(glob.glob(part)) if any(c in part for c in "*?[") else [part]
    if not urls:
        raise FileNotFoundError(f"no shards found in {shards!r}")

    for url in urls:  # a FIFO named like a shard would block the loader for ever
        if "://" not in url and os.path.lexists(url):
            check_dataset_file(Path(url))
    return urls


def _planned_shards(folder: Path) -> list[str]:
    """The tars of a dataset folder that its plan (``render_config.json``) names: a ``shard-*.tar``
    copied in from elsewhere is not read (``kinetype shards verify`` names it). A folder without a
    plan (shards gathered by hand) gives every ``shard-*.tar``. A damaged plan or stats file, a
    complete shard's tar of another size than its stats record, or a FIFO or folder under any
    dataset name is refused here, in one line naming it, before the run folder is made (the loader
    would otherwise skip, block or stop on it mid-run)."""
    storage = Storage(folder)
    if not storage.exists(CONFIG_FILE):
        return sorted(glob.glob(os.path.join(str(folder), "shard-*.tar")))
    config = read_render_record(storage).config
    if problems := tar_problems(storage, read_all_stats(storage, config)):
        raise damage_error(storage, problems)
    return [str(storage.path(tar_name(k))) for k in range(config.num_shards) if storage.exists(tar_name(k))]


def expected_samples(url: str) -> int | None:
    """The number of samples a local shard holds, from the stats file written beside it (None when
    there is none: a remote URL, or shards copied without their stats)."""
    if "://" in url or not url.endswith(".tar"):
        return None
    tar = Path(url)
    try:  # through Storage: a FIFO named like a stats file is refused, not read for ever
        stats = json_object(Storage(tar.parent).read_bytes(tar.name[: -len(".tar")] + ".stats.json", most=MAX_STATS_BYTES))
        return int(stats["samples"])
    except (OSError, ValueError, KeyError, TypeError, KinetypeError):  # JsonProblem is a ValueError
        return None


def rank_world() -> tuple[int, int]:
    """This process's distributed rank and world size (torch.distributed, else torchrun's env)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


# --- frames ------------------------------------------------------------------------------------------


MIN_READ = 100  # samples a reader reads before it judges the share of damaged ones
MAX_BAD_SHARE = 0.5


class DataError(KinetypeError):
    """Shards whose samples are mostly or wholly unreadable: training on them would only skip."""


class FrameSelectionError(KinetypeError, ValueError):
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
    captions (str); ``meta`` (the sample's JSON metadata); ``__key__``; ``__pos__`` (its :data:`Position`
    in its reader's stream).

    ``dtype="uint8"``: ``video`` is RGB in [0, 255] and ``mask`` uint8 in {0, 1} instead — a quarter
    of the bytes through worker queues and onto the GPU, normalised there with
    ``video.float().div_(127.5).sub_(1)`` (equal to the float32 video within one level of 8-bit
    rounding). ``dtype="float16"``: both in float16, video in [-1, 1].

    ``dtype="yuv420"``: ``video`` is the decoded frames with no colour conversion at all,
    (T, H*3/2, W) uint8 in PyAV's yuv420p layout (each frame's Y plane, then U, then V at half
    size; BT.709 limited range, a clip tagged otherwise raises :class:`~kinetype.decode.ColourError`),
    half the bytes of uint8 RGB; ``mask`` uint8 as for "uint8".
    :func:`kinetype.decode.planes_to_rgb` turns it into the float32 video on the GPU (the trainer's
    ``prepare`` does).
    """

    def __init__(self, shards: str | Path | Sequence[str], *, num_frames: int | None = None, frame_stride: int = 1,
                 random_crop: bool = False, single_frame: bool = False, shuffle_buffer: int = 0,
                 resampled: bool = False, seed: int = 0, dtype: str | torch.dtype = "float32"):
        super().__init__()

        if not isinstance(shards, (str, Path)) and not (isinstance(shards, (list, tuple))
                                                       and all(isinstance(u, (str, Path)) for u in shards)):
            raise KinetypeError(f"shards must be a folder, a glob or a list of shard paths, got {type(shards).__name__}")
        if num_frames is not None:
            whole("num_frames", num_frames, 1)
        whole("frame_stride", frame_stride, 1)
        whole("shuffle_buffer", shuffle_buffer, 0)
        random_seed(seed, "seed")
        self.dtype = video_dtype(dtype)  # its name: "float32", "float16", "uint8" or "yuv420"
        self.mask_dtype = RGB_DTYPES.get(self.dtype, torch.uint8)
        self.urls = expand_shards(shards)
        self.num_frames, self.frame_stride = num_frames, frame_stride
        self.random_crop, self.single_frame = random_crop, single_frame
        self.shuffle_buffer, self.resampled, self.seed = shuffle_buffer, resampled, seed
        self.skipped = 0  # corrupt samples (and unreadable tar tails) skipped in this process
        self._skipped_at_start, self._delivered, self._last_damage = 0, 0, ""  # this iteration's (_judge)
        # Resuming (set before iterating): where each reader (DataLoader worker) starts, and which
        # reader worker 0 plays (the loader takes batches from its workers in turn, so a stream
        # stopped after b batches continues with reader b % num_workers).
        self.resume_from: dict[int, Position] = {}
        self.first_worker = 0

    # Layers, bottom up.

    def _reader_slot(self) -> tuple[int, int, int]:
        rank, world = rank_world()
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        worker = (worker + self.first_worker) % workers
        return rank * workers + worker, world * workers, worker

    def _shard_draws(self, slot: int, slots: int) -> Iterator[str]:
        """The reader's shards, draw after draw: a function of (seed, slot) only."""
        # The ":0:" in this class's seed strings is part of the order every dataset is read in: a
        # checkpoint's data positions point into it, so a resumed run must draw the same.
        if self.resampled:
            rng = random.Random(f"{self.seed}:0:{slot}")
            while True:
                yield rng.choice(self.urls)
        urls = list(self.urls)
        if self.shuffle_buffer > 0:
            random.Random(f"{self.seed}:0").shuffle(urls)  # same order on every reader
        yield from urls[slot::slots]

    def _raw_samples(self, urls: Iterator[str]) -> Iterator[dict]:
        """Raw samples shard after shard. A shard whose sample count is known (its stats file next to
        the tar) counts every sample it did not deliver as skipped — a truncated tar loses all the
        samples after the cut, not one per read error; otherwise each read error counts one."""
        for url in urls:
            expected = expected_samples(url)
            errors, delivered = 0, 0

            def on_error(exn: Exception, url=url) -> bool:
                nonlocal errors
                errors += 1
                log.warning("unreadable shard data in %s (%s)", url, exn)
                return True  # continue with what can still be read

            streams = tariterators.url_opener([{"url": url}], handler=on_error)
            files = tariterators.tar_file_expander(streams, handler=on_error)
            for sample in tariterators.group_by_keys(files, handler=on_error):
                delivered += 1
                yield sample
            lost = max(expected - delivered, 0) if expected is not None else errors
            if lost:
                self.skipped += lost
                self._last_damage = self._last_damage or f"{url}: {lost} sample(s) unreadable"
                log.warning("%d sample(s) of %s could not be read; %d skipped so far in this process",
                            lost, url, self.skipped)
                self._judge()  # a shard that yields nothing at all never reaches __iter__'s check

    def _positioned(self, slot: int, slots: int, start: Position) -> Iterator[tuple[Position, dict]]:
        """The reader's raw samples from ``start`` on, each with its position (module docstring).
        Without shuffling a block is one shard in its own order, streamed rather than held."""
        first_draw, skip = start
        draws = enumerate(itertools.islice(self._shard_draws(slot, slots), first_draw, None), first_draw)
        if self.shuffle_buffer <= 1:
            for draw, url in draws:
                for i, raw in enumerate(self._raw_samples([url])):
                    if draw > first_draw or i >= skip:
                        yield (draw, i), raw
            return
        block: list[dict] = []
        block_draw = first_draw
        for draw, url in draws:
            block += self._raw_samples([url])
            if len(block) < self.shuffle_buffer:
                continue
            yield from self._block_order(slot, block_draw, block, skip if block_draw == first_draw else 0)
            block, block_draw = [], draw + 1
        yield from self._block_order(slot, block_draw, block, skip if block_draw == first_draw else 0)

    def _block_order(self, slot: int, block_draw: int, block: list[dict], skip: int) -> Iterator[tuple[Position, dict]]:
        order = list(range(len(block)))
        random.Random(f"{self.seed}:0:{slot}:{block_draw}").shuffle(order)  # ":0:": see _shard_draws
        for i in range(skip, len(order)):
            yield (block_draw, i), block[order[i]]

    def decode(self, raw: dict[str, Any], rng: random.Random) -> dict[str, Any]:
        """Raw tar members of one sample -> tensors (raises on a corrupt sample)."""
        check_members(raw)
        meta = parse_meta(raw)
        total, height, width = int(meta["num_frames"]), int(meta["height"]), int(meta["size"])
        indices = frame_indices(total, self.num_frames, self.frame_stride, self.random_crop, self.single_frame, rng)
        video = decode_video(raw["mp4"], indices, self.dtype)  # (T, 3, H, W); yuv420: (T, H*3/2, W)
        instance = decode_instance(raw[INSTANCE_EXT], total, height, width, indices)  # (T, H, W) uint8
        frame_size = (video.shape[-2] * 2 // 3, video.shape[-1]) if self.dtype == "yuv420" else video.shape[-2:]
        if tuple(frame_size) != instance.shape[-2:]:
            raise SampleError(f"video is {tuple(frame_size)}, masks are {instance.shape[-2:]}")
        instance_t = torch.from_numpy(instance)
        mask = instance_t.clamp(max=1)  # {0, 1} uint8: one pass (``> 0`` then a cast took four times as long)
        out = {
            "video": video,
            "mask": mask if self.mask_dtype == torch.uint8 else mask.to(self.mask_dtype),
            "instance": instance_t,
            **{name: raw[ext].decode("utf-8") for name, ext in TEXT_FIELDS.items()},
            "meta": meta,
            "__key__": raw["__key__"],
        }
        return out

    def _judge(self) -> None:
        """Raise DataError when the samples this iteration read are mostly damaged (module docstring)."""
        bad = self.skipped - self._skipped_at_start
        seen = bad + self._delivered
        if seen >= MIN_READ and bad > MAX_BAD_SHARE * seen:
            raise DataError(f"{bad} of {seen} samples read from {self._where()} are damaged (first: {self._last_damage}): "
                            "not kinetype shards, or damaged ones; run `kinetype shards verify`")

    def _where(self) -> str:
        folders = sorted({str(Path(u).parent) for u in self.urls})
        return folders[0] if len(folders) == 1 else f"{len(self.urls)} shards"

    def __iter__(self) -> Iterator[dict[str, Any]]:
        slot, slots, worker = self._reader_slot()
        self._skipped_at_start, self._delivered, self._last_damage = self.skipped, 0, ""
        for pos, raw in self._positioned(slot, slots, self.resume_from.get(worker, (0, 0))):
            rng = random.Random(f"{self.seed}:0:{slot}:{pos[0]}:{pos[1]}")  # its frame crop (":0:": see _shard_draws)
            try:
                sample = {**self.decode(raw, rng), "__pos__": pos}
            except (FrameSelectionError, ColourError):  # the configuration, not the sample: never skipped
                raise
            except (SampleError, ValueError, KeyError, OSError, EOFError, av.error.FFmpegError, RuntimeError,
                    json.JSONDecodeError) as e:
                self.skipped += 1
                self._last_damage = self._last_damage or f"{raw.get('__key__')} in {raw.get('__url__')}: {e}"
                if self.skipped <= 10 or self.skipped % 1000 == 0:  # the count, not a line per sample
                    log.warning("skipped corrupt sample %s in %s (%s: %s); %d skipped so far in this process",
                                raw.get("__key__"), raw.get("__url__"), type(e).__name__, e, self.skipped)
                self._judge()
                continue
            self._delivered += 1
            yield sample
        if self._delivered == 0 and self.skipped > self._skipped_at_start:
            raise DataError(f"a whole pass over {self._where()} gave no readable sample (first: {self._last_damage}): "
                            "not kinetype shards, or damaged ones; run `kinetype shards verify`")


def collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Tensors are stacked with a leading batch dimension; strings and dicts become lists.

    In a DataLoader worker the stack is written straight into shared memory (as torch's
    default_collate does): otherwise sending the batch to the main process copies it once more.
    """
    in_worker = get_worker_info() is not None
    out = {}
    for key in samples[0]:
        values = [s[key] for s in samples]
        if not isinstance(values[0], torch.Tensor):
            out[key] = values
            continue
        buffer = None
        if in_worker:
            first = values[0]
            storage = first.untyped_storage()._new_shared(len(values) * first.numel() * first.element_size())
            buffer = first.new(storage).resize_(len(values), *first.shape)
        out[key] = torch.stack(values, out=buffer)
    return out


def make_loader(shards, batch_size: int, num_workers: int = 0, *, collate_fn=collate, pin_memory: bool = False,
                dataset_cls: type | None = None, **dataset_kwargs) -> DataLoader:
    """A DataLoader over :class:`ShardDataset` (or ``dataset_cls``, a subclass) with :func:`collate`."""
    dataset = (dataset_cls or ShardDataset)(shards, **dataset_kwargs)
    return DataLoader(dataset, batch_size=batch_size, num_workers=num_workers, collate_fn=collate_fn,
                      pin_memory=pin_memory, persistent_workers=False, prefetch_factor=4 if num_workers > 0 else None,
                      worker_init_fn=loader_worker_init)
