"""The latent cache: every clip of a dataset encoded once by the frozen autoencoder, so the image and
video stages decode no video and run no encoder in their steps (fast-DiT's pre-extracted features).

    <cache>/                       DATASET/latents/<key> (the folder of the shards given, whole or a
                                   pattern of some), or RUN/latents/<key> where it is not writable
        cache.json                 what the key stands for: the autoencoder's digest, size_px, the sources
        shard-000000.tar           a source shard with its video replaced by ``latent.npy``: every frame's
                                   scaled latent, (T, C, h, w) float16; masks, captions, metadata copied
        shard-000000.stats.json    written last, the "complete" marker: samples, the source tar's identity

key: the first 16 hex digits of the SHA-256 of the autoencoder's encoder weights and architecture
(its latent scale included; not the decoder, which makes no latent) and the training resolution.
Building is resumable (complete shards are kept; a shard whose source changed is built again),
parallel (loader workers decode the source shards, the device encodes) and atomic (a shard's files
are written whole under temporary names, then renamed). The loader reads a cache as it reads shards
(:class:`LatentShardDataset`): same order, same crops, same resume positions.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch.utils.data import DataLoader, IterableDataset, get_worker_info
from webdataset import tariterators

from kinetype.data import ShardDataset, expand_shards, frame_indices
from kinetype.decode import decode_video
from kinetype.fsutil import atomic_path, atomic_write_bytes
from kinetype.model.autoencoder import TRAINING_FIELDS
from kinetype.shards.sample import INSTANCE_EXT, TEXT_FIELDS, SampleError, check_members, decode_instance, parse_meta
from kinetype.workers import loader_worker_init

LATENT = "latent.npy"
CACHE_FILE = "cache.json"
FORMAT = "kinetype-latent-cache"


def autoencoder_digest(autoencoder) -> str:
    """SHA-256 of what an autoencoder's latents depend on: its architecture and latent scale, and its
    encoder's weights (float32 bytes, in name order). Not the decoder's: a model whose decoder was
    fine-tuned (``autoencoder_trains = "decoder"``) reads the latents cached for the model before it."""
    h = hashlib.sha256()
    arch = {k: v for k, v in asdict(autoencoder.cfg).items() if k != "path" and k not in TRAINING_FIELDS}
    h.update(json.dumps(arch, sort_keys=True).encode())
    for name, value in sorted(autoencoder.encoder_state().items()):
        h.update(name.encode())
        h.update(value.detach().to("cpu", torch.float32 if value.is_floating_point() else value.dtype).contiguous().numpy().tobytes())
    return h.hexdigest()


def cache_folder(shards: str, run: Path, digest: str, size_px: int) -> Path:
    """Beside the shards (``latents/`` in the folder holding them all: a dataset folder, or a glob or
    brace pattern within one) when that folder is writable, else under the run. A subset of a
    dataset's shards shares the dataset's cache: each cached shard stands for its source alone."""
    key = hashlib.sha256(f"{digest}:{size_px}".encode()).hexdigest()[:16]
    folder = Path(shards)
    if not folder.is_dir():
        parents = {Path(u).parent for u in source_shards(shards)}
        folder = parents.pop() if len(parents) == 1 else None
    root = folder / "latents" if folder is not None and os.access(folder, os.W_OK) else Path(run) / "latents"
    return root / key


def cache_shards(cache: Path, shards: str) -> list[str]:
    """The cached file of each source shard, in the sources' order: what the trainer reads (only
    the shards it was given, though the cache may hold more of the dataset)."""
    return [str(cache / Path(u).name) for u in source_shards(shards)]


def source_id(url: str) -> str:
    """What identifies a source shard's content: its tar's SHA-256 from its stats file, else size and mtime."""
    stats = Path(url[: -len(".tar")] + ".stats.json")
    try:
        return "sha256:" + str(json.loads(stats.read_bytes())["tar_sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        st = Path(url).stat()
        return f"stat:{st.st_size}:{st.st_mtime_ns}"


def _stats_file(cache: Path, url: str) -> Path:
    return cache / (Path(url).name[: -len(".tar")] + ".stats.json")


def shard_complete(cache: Path, url: str) -> bool:
    try:
        stats = json.loads(_stats_file(cache, url).read_bytes())
        return stats.get("source_id") == source_id(url) and (cache / Path(url).name).is_file()
    except (OSError, ValueError, AttributeError):
        return False


class _SourceShards(IterableDataset):
    """Source shards decoded in chunks of clips (loader workers take whole shards in turn): each item
    (url, keys, members without the mp4, video (N, T, ...) as the trainer's loader decodes it (its
    ``video_dtype``), masks (N, T, H, W) uint8, clips skipped as unreadable, whether the shard is done)."""

    def __init__(self, urls: list[str], clips: int, video_dtype: str):
        self.urls, self.clips, self.video_dtype = urls, clips, video_dtype

    def __iter__(self) -> Iterator[tuple]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        for url in self.urls[worker::workers]:
            chunk: list[tuple] = []
            skipped = 0
            streams = tariterators.url_opener([{"url": url}], handler=lambda e: True)
            for raw in tariterators.group_by_keys(tariterators.tar_file_expander(streams, handler=lambda e: True),
                                                  handler=lambda e: True):
                try:
                    check_members(raw)
                    meta = parse_meta(raw)
                    total, height, width = int(meta["num_frames"]), int(meta["height"]), int(meta["size"])
                    video = decode_video(raw["mp4"], range(total), self.video_dtype)
                    inst = decode_instance(raw[INSTANCE_EXT], total, height, width, list(range(total)))
                except Exception:  # a corrupt sample is skipped, as the loader skips it
                    skipped += 1
                    continue
                members = {k: v for k, v in raw.items() if k != "mp4" and not k.startswith("__")}
                chunk.append((raw["__key__"], members, video, torch.from_numpy(inst).clamp(max=1)))
                if len(chunk) == self.clips:
                    yield self._item(url, chunk, skipped, False)
                    chunk, skipped = [], 0
            yield self._item(url, chunk, skipped, True)

    @staticmethod
    def _item(url: str, chunk: list[tuple], skipped: int, done: bool) -> tuple:
        if chunk and len({c[2].shape for c in chunk}) > 1:
            raise SampleError(f"{url}: clips of different sizes in one shard")
        keys, members, videos, masks = zip(*chunk) if chunk else ((), (), (), ())
        return (url, list(keys), list(members), torch.stack(videos) if videos else None,
                torch.stack(masks) if masks else None, skipped, done)


def build_cache(urls: list[str], cache: Path, autoencoder, *, prepare, size_px: int, device: torch.device, autocast,
                video_dtype: str = "float32", workers: int = 0, clips_per_batch: int = 8, progress: bool = True,
                echo: Callable[[str], None] = print) -> Path:
    """Encode every source shard not yet complete in ``cache``; returns ``cache``. ``prepare`` is the
    trainer's batch preparation (:func:`kinetype.train.data.prepare`): frames reach the encoder
    exactly as they would in a training step."""
    todo = [u for u in urls if not shard_complete(cache, u)]
    if not todo:
        return cache
    cache.mkdir(parents=True, exist_ok=True)
    try:  # the shards of the dataset cached so far: subsets given at different times add up
        before = json.loads((cache / CACHE_FILE).read_bytes()).get("sources", [])
    except (OSError, ValueError, AttributeError):
        before = []
    atomic_write_bytes(cache / CACHE_FILE, json.dumps({
        "format": FORMAT, "autoencoder_sha256": autoencoder_digest(autoencoder), "size_px": size_px,
        "scaling_factor": float(autoencoder.cfg.scaling_factor),
        "sources": sorted({*map(str, before), *(Path(u).name for u in urls)})}, indent=1).encode())
    echo(f"latent cache: encoding {len(todo)} of {len(urls)} shard(s) into {cache}")
    bar = Progress(TextColumn("latents"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), disable=not progress)
    loader = DataLoader(_SourceShards(todo, clips_per_batch, video_dtype), batch_size=None,
                        num_workers=min(workers, len(todo)), worker_init_fn=loader_worker_init)
    pending: dict[str, tuple[list, list, list]] = {}  # per shard being built: keys, members, latents
    skipped = 0
    with bar:
        task = bar.add_task("latents", total=len(todo))
        for url, keys, members, video, masks, lost, done in loader:
            skipped += lost
            got = pending.setdefault(url, ([], [], []))
            if keys:
                with torch.no_grad(), autocast:
                    batch = prepare({"video": video, "mask": masks}, size_px, device)
                    z = autoencoder.encode(batch["video"], batch["mask"])  # (N, T, C, h, w)
                got[0].extend(keys)
                got[1].extend(members)
                got[2].append(z.to("cpu", torch.float16))
            if done:
                keys, members, latents = pending.pop(url)
                _write_shard(cache, url, keys, members, torch.cat(latents).numpy() if latents else None)
                bar.advance(task)
    if skipped:
        echo(f"latent cache: {skipped} unreadable clip(s) skipped")
    return cache


def _write_shard(cache: Path, url: str, keys: list[str], members: list[dict[str, bytes]], latents) -> None:
    name = Path(url).name
    with atomic_path(cache / name) as tmp, open(tmp, "wb") as f, tarfile.open(fileobj=f, mode="w",
                                                                              format=tarfile.USTAR_FORMAT) as tar:
        for i, (key, sample) in enumerate(zip(keys, members)):
            buf = io.BytesIO()
            np.save(buf, latents[i], allow_pickle=False)
            for ext, data in {**sample, LATENT: buf.getvalue()}.items():
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size, info.mode = len(data), 0o444
                tar.addfile(info, io.BytesIO(data))
    stats = {"samples": len(keys), "source": name, "source_id": source_id(url),
             "latent_shape": list(latents.shape[1:]) if latents is not None else None}
    atomic_write_bytes(_stats_file(cache, url), json.dumps(stats).encode())


def source_shards(shards: str) -> list[str]:
    """The local shard files a cache is built from."""
    return [u for u in expand_shards(shards) if "://" not in u]


class LatentShardDataset(ShardDataset):
    """A latent cache read as shards: each sample's ``latents`` (T, C, h, w) float16 for the selected
    frames (the crop a video would have had), ``mask`` (T, H, W) uint8, ``instance``, captions, meta."""

    def decode(self, raw: dict[str, Any], rng) -> dict[str, Any]:
        if LATENT not in raw or INSTANCE_EXT not in raw:
            raise SampleError(f"missing members: {LATENT if LATENT not in raw else INSTANCE_EXT}")
        meta = parse_meta(raw)
        total, height, width = int(meta["num_frames"]), int(meta["height"]), int(meta["size"])
        indices = frame_indices(total, self.num_frames, self.frame_stride, self.random_crop, self.single_frame, rng)
        latents = np.load(io.BytesIO(raw[LATENT]), allow_pickle=False)  # (total, C, h, w)
        if latents.ndim != 4 or latents.shape[0] != total:
            raise SampleError(f"{LATENT} has shape {latents.shape}, expected {total} frames")
        instance = torch.from_numpy(decode_instance(raw[INSTANCE_EXT], total, height, width, indices))
        return {
            "latents": torch.from_numpy(np.ascontiguousarray(latents[indices])),
            "mask": instance.clamp(max=1),
            "instance": instance,
            **{name: raw[ext].decode("utf-8") for name, ext in TEXT_FIELDS.items()},
            "meta": meta,
            "__key__": raw["__key__"],
        }
