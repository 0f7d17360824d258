"""The training data stream: shards (``kinetype.data``), their latent cache
(:mod:`kinetype.train.latents`) or built-in synthetic clips, with a position that a checkpoint
records and a resumed run restores.

Loader workers tokenise the captions (:class:`TrainingCollate`), so a batch arrives with fixed-length
token tensors; on CUDA batches are pinned, and :func:`prepare` copies them to the device without
blocking the host.

Resuming rebuilds the same deterministic stream (same seed, same rank split) and restarts each
reader at the position after the last sample the run consumed from it (every sample carries its
``__pos__``; see :mod:`kinetype.data`), so the resumed run draws exactly the batches the
uninterrupted run would have drawn, without reading or decoding the samples it already saw.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from kinetype.data import Position, collate, make_loader
from kinetype.decode import planes_to_rgb, video_dtype
from kinetype.model.errors import TrainingError
from kinetype.model.text import Tokens
from kinetype.train.config import DataConfig
from kinetype.train.latents import LatentShardDataset
from kinetype.workers import loader_worker_init

CAPTIONS = ("static", "dynamic", "word")


class TrainingCollate:
    """``collate`` plus the captions tokenised: ``batch["tokens"][kind]`` is a
    :class:`~kinetype.model.text.Tokens` for each caption kind, padded to the tokenizer's
    ``max_tokens`` (``fixed_length``: for a compiled network) or to the batch's longest caption of
    that kind. Runs in the loader workers."""

    def __init__(self, tokenizer=None, fixed_length: bool = True):
        self.tokenizer, self.fixed_length = tokenizer, fixed_length

    def __call__(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        batch = collate(samples)
        if self.tokenizer is not None:
            batch["tokens"] = {}
            for kind in CAPTIONS:
                length = None if self.fixed_length else self.tokenizer.shortest_length(batch[kind])
                batch["tokens"][kind] = self.tokenizer(batch[kind], length)
        return batch


class SyntheticClips(IterableDataset):
    """Deterministic moving-block clips with the loader's sample dicts (tests, benchmarks, dry runs).

    Sample i: a few coloured "letter" blocks slide, grow or blink over a coloured background;
    the mask covers the blocks; captions describe exactly that.
    """

    COLOURS = {"red": (220, 40, 40), "gold": (240, 190, 40), "white": (240, 240, 240), "teal": (30, 160, 150)}
    BACKS = {"navy": (20, 30, 80), "black": (10, 10, 10), "deep red": (110, 10, 20)}
    MOTIONS = ("slide in", "grow", "blink")

    def __init__(self, *, size_px: int, num_frames: int, single_frame: bool = False, num_clips: int | None = None,
                 seed: int = 0, rank: int = 0, world_size: int = 1):
        self.size, self.frames, self.single = size_px, num_frames, single_frame
        self.num_clips, self.seed, self.rank, self.world = num_clips, seed, rank, world_size
        # As ShardDataset's: each reader's start, and which reader worker 0 plays. A reader's
        # stream is one endless "shard": its k-th clip is at position (0, k).
        self.resume_from: dict[int, Position] = {}
        self.first_worker = 0

    def clip(self, index: int) -> dict[str, Any]:
        rng = np.random.default_rng([self.seed, index])
        s, t = self.size, (1 if self.single else self.frames)
        fg_name, bg_name = rng.choice(list(self.COLOURS)), rng.choice(list(self.BACKS))
        motion = self.MOTIONS[int(rng.integers(len(self.MOTIONS)))]
        letters = int(rng.integers(1, 4))
        word = "".join(rng.choice(list("AbCdEfGh"), letters))
        video = np.empty((t, s, s, 3), np.uint8)
        video[:] = self.BACKS[bg_name]
        inst = np.zeros((t, s, s), np.uint8)
        w = max(2, s // (2 * letters + 1))
        t0 = int(rng.integers(0, max(1, self.frames)))  # start frame of a single-frame sample
        for f in range(t):
            p = ((t0 if self.single else f) + 1) / self.frames  # progress 0..1
            for k in range(letters):
                x0 = int((2 * k + 1) * w * (p if motion == "slide in" else 1.0))
                hh = int(s * 0.4 * (p if motion == "grow" else 1.0)) + 1
                if motion == "blink" and int(p * 4) % 2:
                    continue
                y0 = s // 2 - hh // 2
                video[f, y0 : y0 + hh, x0 : x0 + w] = self.COLOURS[fg_name]
                inst[f, y0 : y0 + hh, x0 : x0 + w] = k + 1
        x = torch.from_numpy(video).permute(0, 3, 1, 2).float() / 127.5 - 1.0  # (T, 3, H, W)
        return {
            "video": x,
            "mask": torch.from_numpy(inst > 0).float(),
            "instance": torch.from_numpy(inst),
            "static": f"{fg_name} blocks on a {bg_name} background",
            "dynamic": {"slide in": "the blocks slide in from the left one after another",
                        "grow": "the blocks grow upwards from the middle",
                        "blink": "the blocks blink on and off"}[motion],
            "word": "|".join(c + "^" if c.isupper() else c for c in word),
            "motion": motion,
            "meta": {"index": index},
            "__key__": f"synthetic-{index:08d}",
        }

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info else (0, 1)
        wid = (wid + self.first_worker) % nw
        stride, k = self.world * nw, self.resume_from.get(wid, (0, 0))[1]
        while True:  # endless, like the resampled shard stream
            i = self.rank * nw + wid + k * stride
            yield {**self.clip(i % self.num_clips if self.num_clips else i), "__pos__": (0, k)}
            k += 1


class DataStream:
    """An endless iterator of batches that knows where it stands (its resumable position): the
    batches it has yielded, and for each loader worker the position of its next sample."""

    def __init__(self, cfg: DataConfig, *, single_frame: bool, seed: int, rank: int, world_size: int,
                 num_clips: int | None = None, tokenizer=None, fixed_length: bool = True,
                 latents: str | list[str] | None = None, pin_memory: bool = False):
        self.cfg, self.single, self.seed = cfg, single_frame, seed
        self.rank, self.world, self.num_clips = rank, world_size, num_clips
        self.collate = TrainingCollate(tokenizer, fixed_length)
        self.latents = latents  # latent cache shards (a folder or a list) read instead of cfg.shards
        self.pin_memory = pin_memory
        self.batches_seen = 0
        self.workers = max(1, cfg.num_workers)  # readers: the DataLoader's workers (or the main process)
        self.next_sample: list[Position] = [(0, 0)] * self.workers  # per reader
        self._it: Iterator | None = None

    def _loader(self) -> DataLoader:
        cfg = self.cfg
        if cfg.shards == "synthetic" or cfg.shards.startswith("synthetic:"):  # "synthetic:N" = N distinct clips
            n = int(cfg.shards.split(":", 1)[1]) if ":" in cfg.shards else self.num_clips
            ds = SyntheticClips(size_px=cfg.size_px, num_frames=cfg.num_frames, single_frame=self.single,
                                num_clips=n, seed=self.seed, rank=self.rank, world_size=self.world)
            loader = DataLoader(ds, batch_size=cfg.batch_size, num_workers=cfg.num_workers, collate_fn=self.collate,
                                pin_memory=self.pin_memory, worker_init_fn=loader_worker_init)
        else:
            loader = self._shard_loader()
        # Start each reader where it stopped; the loader's worker 0 plays the reader whose turn is next.
        loader.dataset.resume_from = dict(enumerate(self.next_sample))
        loader.dataset.first_worker = self.batches_seen % self.workers
        return loader

    def _shard_loader(self) -> DataLoader:
        cfg = self.cfg
        if not cfg.shards:
            raise TrainingError("no training data: pass --shards DIR (a folder of shards from `kinetype render`)")
        try:
            dtype = video_dtype(cfg.video_dtype)
        except ValueError as e:
            raise TrainingError(f"data.video_dtype: {e}") from None
        dataset_cls = LatentShardDataset if self.latents is not None else None
        try:
            return make_loader(
                self.latents or cfg.shards, cfg.batch_size, num_workers=cfg.num_workers, collate_fn=self.collate,
                pin_memory=self.pin_memory, dataset_cls=dataset_cls,
                num_frames=None if self.single else cfg.num_frames, frame_stride=cfg.frame_stride,
                random_crop=not self.single, single_frame=self.single, shuffle_buffer=cfg.shuffle_buffer,
                resampled=True, seed=self.seed, dtype=dtype,
            )
        except FileNotFoundError:
            raise TrainingError(f"{cfg.shards}: no shards found (render some with `kinetype render`)") from None

    def __iter__(self):
        return self

    def __next__(self) -> dict[str, Any]:
        if self._it is None:
            self._it = iter(self._loader())
        batch = next(self._it)
        # The loader takes batches from its workers in turn: this one came from reader
        # batches_seen % workers, which continues after its last sample.
        draw, index = batch["__pos__"][-1]
        self.next_sample[self.batches_seen % self.workers] = (draw, index + 1)
        self.batches_seen += 1
        return batch

    def state_dict(self) -> dict[str, Any]:
        return {"batches_seen": self.batches_seen, "next_sample": [list(p) for p in self.next_sample]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue where ``state`` stopped: the stream is rebuilt lazily at the saved positions."""
        self.batches_seen = int(state["batches_seen"])
        self.next_sample = [(int(d), int(i)) for d, i in state["next_sample"]]
        self._it = None


def prepare(batch: dict[str, Any], size_px: int, device: torch.device) -> dict[str, Any]:
    """Move a loader batch to the device (copies that do not block the host where the batch is pinned).

    ``video`` becomes float32 in [-1, 1], resized to ``size_px`` if the shards differ: compact video
    crosses as bytes and becomes float there (uint8 RGB is normalised, yuv420 planes (B, T, H*3/2, W),
    one dimension fewer than RGB, are converted). Cached ``latents`` become float32; ``mask`` float32
    at ``size_px``; ``tokens`` move as they are."""
    out = dict(batch)
    if "video" in batch:
        video = batch["video"].to(device, non_blocking=True)  # (B, T, 3, H, W); yuv420: (B, T, H*3/2, W)
        if video.dim() == 4:  # yuv420p planes: the loader's own conversion, run on the device
            video = planes_to_rgb(video)  # (B, T, 3, H, W) float32 in [-1, 1]
        elif video.dtype == torch.uint8:  # RGB in [0, 255]
            video = video.float().div_(127.5).sub_(1.0)
        else:  # float32 (no copy) or float16
            video = video.float()
        if video.shape[-1] != size_px or video.shape[-2] != size_px:
            b, t = video.shape[:2]
            video = torch.nn.functional.interpolate(video.flatten(0, 1), size=(size_px, size_px), mode="area").unflatten(0, (b, t))
        out["video"] = video
    if "latents" in batch:
        out["latents"] = batch["latents"].to(device, non_blocking=True).float()  # (B, T, C, h, w)
    mask = batch["mask"].to(device, non_blocking=True).float()  # (B, T, H, W)
    if mask.shape[-1] != size_px or mask.shape[-2] != size_px:
        b, t = mask.shape[:2]
        mask = (torch.nn.functional.interpolate(mask.flatten(0, 1)[:, None], size=(size_px, size_px), mode="area")[:, 0] > 0.25)
        mask = mask.float().unflatten(0, (b, t))
    out["mask"] = mask
    if "tokens" in batch:
        out["tokens"] = {k: v.to(device, non_blocking=True) for k, v in batch["tokens"].items()}
    return out


def drop_captions(tokens: Tokens, keep: torch.Tensor, blank: Tokens) -> Tokens:
    """Rows where ``keep`` (B,) is False become the blank caption ``blank`` (1, >= L): on the device."""
    k, length = keep[:, None], tokens.ids.shape[1]
    colour = None if tokens.colour is None else torch.where(k, tokens.colour, blank.colour)  # blank: none named
    return Tokens(torch.where(k, tokens.ids, blank.ids[:, :length]), torch.where(k, tokens.mask, blank.mask[:, :length]),
                  colour)
