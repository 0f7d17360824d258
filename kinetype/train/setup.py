"""Everything the training loop needs before its first step: the model config resolved (from
``--init`` / ``--autoencoder``), the data checked, the run folder checked, the models built with the
parameters this stage trains, the device's precision and compilation, and the batch size.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import torch

from kinetype.data import expand_shards
from kinetype.errors import KinetypeError
from kinetype.fsutil import check_output_dir
from kinetype.model import Autoencoder, KineTyNet
from kinetype.model.autoencoder import folder_config, training_fields
from kinetype.model.errors import ModelError, TrainingError
from kinetype.pipeline import load_network, read_model_folder
from kinetype.render.settings import ClipSettings
from kinetype.shards.layout import CONFIG_FILE, read_render_record
from kinetype.shards.storage import Storage
from kinetype.train import checkpoint as ckpt_io
from kinetype.train.config import TrainConfig, config_from_json
from kinetype.train.flops import step_flops


def resolve_model(cfg: TrainConfig) -> TrainConfig:
    """The model config a run trains: ``cfg.init``'s (a pipeline folder) where given, then the
    architecture of ``model.autoencoder.path`` (with the run's autoencoder loss settings)."""
    cfg = copy.deepcopy(cfg)
    folder = None
    try:
        if cfg.init:
            folder = read_model_folder(cfg.init)
            cfg.model.autoencoder.path = str(folder.path / "autoencoder")
            if folder.has_denoiser:
                # The folder's architecture, plus a motion encoder (added as a copy of the content
                # encoder), the given-frame planes and the colour embedding (zero weights) where the
                # run asks for them.
                wants_motion, wants = cfg.model.text.motion_encoder, cfg.model.denoiser
                cfg.model.text, cfg.model.denoiser = folder.model.text, folder.model.denoiser
                cfg.model.text = replace(cfg.model.text, motion_encoder=cfg.model.text.motion_encoder or wants_motion)
                d = cfg.model.denoiser
                cfg.model.denoiser = replace(d, given_frames=d.given_frames or wants.given_frames,
                                             design_context=d.design_context or wants.design_context,
                                             design_tokens=d.design_tokens if d.design_context else wants.design_tokens,
                                             colour_embedding=d.colour_embedding or wants.colour_embedding)
                cfg.model.objective = folder.model.objective
        if cfg.model.autoencoder.path:  # the folder's architecture wins over the preset's
            ae_dir = Path(cfg.model.autoencoder.path)
            if (ae_dir / "model_index.json").is_file():  # a kinetype pipeline folder: its autoencoder
                ae_dir = ae_dir / "autoencoder"
            cfg.model.autoencoder = folder_config(ae_dir, training_fields(cfg.model.autoencoder))
    except ModelError as e:
        raise TrainingError(f"--init {cfg.init}: {e}" if cfg.init and str(cfg.init) not in str(e) else str(e)) from None
    cfg.fps = clip_rate(cfg)
    if cfg.stage == "interpolation":
        check_interpolation(cfg, folder)
    if cfg.model.text.kind == "clip" and not cfg.model.text.clip_path:
        raise TrainingError("the 'clip' text encoder needs a local folder: pass --clip DIR")
    if cfg.stage == "autoencoder" and cfg.autoencoder_trains == "decoder" and not cfg.model.autoencoder.path:
        raise TrainingError("autoencoder_trains = 'decoder' fine-tunes the decoder of an autoencoder that exists: "
                            "pass --init MODEL (a pipeline folder) or --autoencoder DIR")
    if cfg.stage != "autoencoder" and not cfg.model.autoencoder.path:
        raise TrainingError(
            "no autoencoder for the diffusion stages: train one first (`kinetype train --stage autoencoder "
            "--out AE_RUN`) and pass --init AE_RUN/pipeline, or pass --autoencoder DIR (a diffusers AutoencoderKL folder)"
        )
    return cfg


def check_interpolation(cfg: TrainConfig, folder) -> None:
    """The interpolation stage starts from a video model (--init) and learns from clips at
    inbetweens + 1 times its frame rate, so that every (inbetweens + 1)-th frame is one of its keyframes."""
    if folder is None or not folder.has_denoiser or folder.stage != "video":
        raise TrainingError("the interpolation stage makes frames between a video model's keyframes: pass --init "
                            "MODEL (a video-stage pipeline folder, e.g. models/kinetype)")
    if folder.interpolator is not None and folder.interpolator.inbetweens != cfg.inbetweens:
        raise TrainingError(f"inbetweens {cfg.inbetweens}: --init {cfg.init} has an interpolator of "
                            f"{folder.interpolator.inbetweens}; continue it with that, or start from a model without one")
    want = folder.fps * (cfg.inbetweens + 1)
    if cfg.fps != want:
        raise TrainingError(
            f"{cfg.data.shards}: the interpolation stage needs clips at {want} fps ({cfg.inbetweens + 1} x the "
            f"{folder.fps} fps of --init {cfg.init}), these give {cfg.fps} (render some with `kinetype render "
            f"--frames {cfg.data.num_frames} --fps {want}`, or set data.frame_stride)")


def shards_fps(spec: str) -> int | None:
    """The frame rate recorded in the ``render_config.json`` of the dataset folder ``spec`` names
    (the folder, or the one folder its shards lie in); None where none is recorded: synthetic
    clips, shards gathered by hand, remote URLs, or no shards yet (``check_shards`` refuses those)."""
    if not spec or spec.startswith("synthetic"):
        return None
    if Path(spec).is_dir():
        folders = {Path(spec)}
    else:
        try:
            folders = {Path(u).parent for u in expand_shards(spec) if "://" not in u}
        except FileNotFoundError:
            return None
    if len(folders) != 1 or not (folder := folders.pop()).joinpath(CONFIG_FILE).is_file():
        return None
    return read_render_record(Storage(folder)).config.fps


def clip_rate(cfg: TrainConfig) -> int:
    """The fps of the clips the model learns and makes: the shards' recorded fps over
    ``data.frame_stride`` (rounded: the model folder records whole frames per second). Where the
    shards record none, the fps the config gives, else the engine's default over the stride. A
    config that gives another fps than its shards' is refused in one line."""
    stride = cfg.data.frame_stride
    recorded = shards_fps(cfg.data.shards)
    if recorded is None:
        return cfg.fps if cfg.fps is not None else max(1, round(ClipSettings.fps / stride))
    derived = max(1, round(recorded / stride))
    if cfg.fps is not None and cfg.fps != derived:
        raise TrainingError(f"fps {cfg.fps} does not match the shards: {cfg.data.shards} holds {recorded}-fps clips, "
                            f"taken every {stride} frame(s): {derived} fps (drop fps from the config: it is derived)")
    return derived


def build_models(cfg: TrainConfig) -> tuple[Autoencoder, KineTyNet | None]:
    """(autoencoder, network or None); weights from ``cfg.init`` / the autoencoder folder where given."""
    ae_cfg = cfg.model.autoencoder
    try:
        autoencoder = Autoencoder.from_folder(ae_cfg.path, ae_cfg) if ae_cfg.path else Autoencoder(ae_cfg)
        if cfg.stage == "autoencoder":
            return autoencoder, None
        if cfg.data.size_px % autoencoder.factor:
            raise TrainingError(f"data.size_px {cfg.data.size_px} is not a multiple of the autoencoder's factor {autoencoder.factor}")
        if cfg.init and (Path(cfg.init) / "denoiser").is_dir():
            net = load_network(read_model_folder(cfg.init)).train()
            if cfg.model.text.motion_encoder and net.text_encoder.motion is None:
                net.add_motion_encoder()
            if cfg.model.denoiser.given_frames:
                net.add_given_frames(cfg.model.denoiser.design_context, cfg.model.denoiser.design_tokens)
            if cfg.model.denoiser.colour_embedding:
                net.add_colour_embedding()
            if cfg.stage == "interpolation" and net.interpolator is None:
                net.add_interpolator(cfg.inbetweens)
            return autoencoder, net
        return autoencoder, KineTyNet(cfg.model)
    except ModelError as e:
        raise TrainingError(str(e)) from None


def choose_trainable(net: KineTyNet, cfg: TrainConfig) -> None:
    """Image stage: everything but the video layers; video stage: all, or only the video layers
    (and, with given frames, the input convolution that reads them: with ``video_trains = "video"``
    their zero-initialised weights would stay zero). Interpolation stage: the interpolator alone
    (the keyframe model and the caption encoder it shares stay as they are)."""
    if cfg.stage == "interpolation":
        net.requires_grad_(False)
        net.interpolator.requires_grad_(True)
        return
    video_params = {id(p) for p in net.video_parameters()}
    if cfg.stage == "video" and net.denoiser.cfg.given_frames:
        video_params |= {id(p) for p in net.denoiser.x_embedder.parameters()}
    for p in net.denoiser.parameters():
        if cfg.stage == "image":
            p.requires_grad_(id(p) not in video_params)
        else:
            p.requires_grad_(cfg.video_trains == "all" or id(p) in video_params)
    train_text = cfg.train_text_encoder and net.text_encoder.trainable and not (cfg.stage == "video" and cfg.video_trains == "video")
    net.text_encoder.requires_grad_(train_text)
    if net.text_encoder.motion is not None:  # the dynamic caption's encoder: a video layer (DEMO)
        net.text_encoder.motion.requires_grad_(cfg.stage == "video" and cfg.train_text_encoder)


def check_shards(spec: str) -> None:
    """Refuse, in one line, training data that is missing or empty (the resampled stream would wait
    for samples forever)."""
    if not spec or spec == "synthetic" or spec.startswith("synthetic:"):
        return
    try:
        urls = expand_shards(spec)
    except FileNotFoundError:
        urls = []
    files = [Path(u) for u in urls if "://" not in u]
    missing = [f for f in files if not f.is_file()]
    if not urls or missing:
        raise TrainingError(f"{missing[0] if missing else spec}: no shards found (render some with "
                            f"`kinetype render --out {spec}`, or pass --shards DIR)")
    if files and all(f.stat().st_size < 1024 for f in files):  # a tar with one sample is tens of KiB
        raise TrainingError(f"{spec}: the shards hold no samples (re-render them with `kinetype render`)")


def check_run_folder(run: Path, cfg: TrainConfig, resume: bool | None) -> bool:
    """Whether to resume: a run folder with a checkpoint continues (the same settings only)."""
    check_output_dir(run, "--out")  # an unwritable place: refused before a model is built
    has_ckpt = ckpt_io.latest_checkpoint(run) is not None
    if resume and not has_ckpt:
        raise TrainingError(f"--resume: {run} holds no checkpoint to continue from (drop --resume to start it)")
    if has_ckpt:
        saved_file = run / "config.json"
        if saved_file.is_file():
            try:
                saved = config_from_json(saved_file.read_text(encoding="utf-8"))
            except (KinetypeError, ValueError, TypeError, KeyError, AttributeError, RecursionError) as e:
                why = ("empty" if not saved_file.stat().st_size else "nested too deeply" if isinstance(e, RecursionError)
                       else " ".join(str(e).split())[:120])
                raise TrainingError(f"{saved_file}: not a readable run configuration ({why}); it is what the "
                                    "checkpoints were trained with: restore it, or remove it to continue with "
                                    "these settings") from None
            for part in ("stage", "model", "data", "loss", "seed", "inbetweens"):
                if getattr(saved, part) != getattr(cfg, part):
                    raise TrainingError(f"{run} holds a run with a different {part} ({saved_file}): "
                                        "continue it with the same settings, or choose another --out")
    return has_ckpt


def describe(cfg: TrainConfig) -> str:
    """Parameter counts of the resolved model (for --dry-run), without loading any weights."""
    with torch.device("meta"):
        ae = Autoencoder(cfg.model.autoencoder)
        lines = [f"autoencoder: {_count(ae) / 1e6:.2f} M parameters, {ae.factor}x downsampling"]
        if cfg.stage != "autoencoder" and cfg.model.text.kind == "byte":
            net = KineTyNet(cfg.model)
            lines.append(f"text encoder: {_count(net.text_encoder) / 1e6:.2f} M parameters")
            lines.append(f"denoiser: {_count(net.denoiser) / 1e6:.2f} M parameters "
                         f"({sum(p.numel() for p in net.denoiser.video_parameters()) / 1e6:.2f} M in the video layers)")
    budget = f" or {cfg.optim.max_minutes:g} minutes of steps" if cfg.optim.max_minutes else ""
    lines.append(f"stage {cfg.stage}: {cfg.optim.max_steps} steps{budget} x {cfg.data.batch_size} clips x "
                 f"{cfg.optim.grad_accum_steps} accumulation per device")
    if cfg.model.text.kind == "byte":
        parts = step_flops(cfg)
        lines.append(f"{sum(parts.values()) / 1e9:.2f} GFLOP per clip per step ("
                     + ", ".join(f"{k} {v / 1e9:.2f}" for k, v in parts.items()) + ")")
    return "\n".join(lines)


def _count(m) -> int:
    return sum(p.numel() for p in m.parameters())


# ---- the device ---------------------------------------------------------------------------------------


def native_bf16(device: torch.device) -> bool:
    """Whether the device multiplies bfloat16 natively: CUDA, or a CPU with AMX tiles (where bf16
    matmuls ran 4.7x float32's here; without them autocast on the CPU only adds casts)."""
    if device.type == "cuda":
        return True
    try:
        return bool(torch.cpu._is_amx_tile_supported())
    except AttributeError:  # an older torch: no way to ask, so no bf16
        return False


@dataclass(frozen=True)
class DeviceSetup:
    autocast: Callable[[], contextlib.AbstractContextManager]  # a fresh context per use
    compile: bool
    pin_memory: bool
    describe: str


def device_setup(cfg: TrainConfig, device: torch.device) -> DeviceSetup:
    """Precision, compilation and transfers for the run's device (and the global flags that go with them)."""
    cuda = device.type == "cuda"
    bf16 = cfg.precision == "bf16" and native_bf16(device)
    if cuda:  # TF32 for the float32 parts; cuDNN picks the fastest convolution for the fixed shapes
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    compile_on = cfg.compile == "on" or (cfg.compile == "auto" and cuda)
    if not cuda:
        keep_freed_memory()

    def autocast():
        return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()

    what = f"{device.type}, {'bf16 autocast' if bf16 else 'float32'}{', compiled' if compile_on else ''}"
    return DeviceSetup(autocast, compile_on, cuda, what)


def keep_freed_memory() -> None:
    """Let glibc's malloc keep the memory a CPU step frees, for the next step. By default it maps
    every large tensor afresh and returns it on free, and each first touch of a page then faults:
    the `cpu` preset's video step spent 4x as long in the kernel as without. Kept (no mmap below
    1 GiB, no trim below 2 GiB), its network ran 9% faster. A no-op off glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 2 << 30)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


def largest_batch(fits: Callable[[int], bool], start: int, limit: int = 4096) -> tuple[int, list[int]]:
    """The largest power-of-two multiple of ``start`` (up to ``limit``) for which ``fits(batch)``
    holds, trying start, 2 start, 4 start... until one does not fit; and the sizes tried."""
    tried, best, batch = [], start, start
    while batch <= limit:
        tried.append(batch)
        if not fits(batch):
            break
        best, batch = batch, batch * 2
    return best, tried


def scaled_lr(lr: float, batch: int, reference: int) -> float:
    """Adam's square-root scaling rule (Malladi et al. 2022): lr x sqrt(batch / reference)."""
    return lr * math.sqrt(batch / reference)
