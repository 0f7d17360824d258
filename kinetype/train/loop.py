"""``kinetype train``: one training loop for the three stages (autoencoder, image, video).

Sections: set-up -> model -> optimiser/EMA -> data -> resume -> loop (data, forward + loss,
step, EMA, log, validate, checkpoint) -> export.  Runs as one process or under
``torchrun --nproc-per-node G -m kinetype train ...`` (DDP: NCCL on CUDA, gloo on the CPU).

Counters carry units: ``step`` (optimiser steps), ``seen_clips`` (clips over all ranks).
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kinetype.model.errors import TrainingError
from kinetype.train import checkpoint as ckpt_io
from kinetype.train import distributed
from kinetype.train.config import TrainConfig, config_from_json, config_to_json
from kinetype.train.data import DataStream, prepare
from kinetype.train.ema import EMA


def lr_at(step: int, cfg) -> float:
    """Linear warm-up, then cosine decay to 10% of the peak (a pure function of the step)."""
    if step < cfg.lr_warmup_steps:
        return cfg.lr * (step + 1) / cfg.lr_warmup_steps
    progress = (step - cfg.lr_warmup_steps) / max(1, cfg.max_steps - cfg.lr_warmup_steps)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def step_generator(seed: int, rank: int, step: int) -> torch.Generator:
    """The CPU generator for one step's noise, times and drops: a function of (seed, rank, step), so a
    resumed run draws exactly what the uninterrupted run drew."""
    return torch.Generator().manual_seed((seed * 1_000_003 + rank) * 1_000_003 + step)


def train(
    cfg: TrainConfig,
    *,
    resume: bool | None = None,  # None: continue from the last checkpoint if the run folder has one
    dry_run: bool = False,
    stop_at_step: int | None = None,  # tests: simulate a kill after this step (checkpoints stay as written)
    echo=print,
) -> Path | None:
    """Run (or continue) a training run in ``cfg.out``; returns the exported pipeline folder."""
    # ---- Resolve the model from --init / --autoencoder; check the data before building anything ------
    cfg = resolve_model(cfg)
    check_shards(cfg.data.shards)
    if dry_run:
        echo(config_to_json(cfg))
        echo(describe(cfg))
        return None

    # ---- Set-up: processes, devices, precision, seeds ------------------------------------------------
    d = distributed.init()
    run = Path(cfg.out)
    resume = check_run_folder(run, cfg, resume)
    cuda = d.device.type == "cuda"
    if cuda:  # TF32 matmuls/convolutions: free speed on Ampere+ for the fp32 parts
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if cuda and cfg.precision == "bf16" else contextlib.nullcontext()
    torch.manual_seed(cfg.seed)  # the same initial weights on every rank
    np.random.seed(cfg.seed + d.rank)
    random.seed(cfg.seed + d.rank)

    # ---- Model and the parameters this stage trains ----------------------------------------------------
    autoencoder, net = build_models(cfg)
    stage = cfg.stage
    if stage == "autoencoder":
        from kinetype.model.losses import AutoencoderLoss

        module, loss_fn = autoencoder, AutoencoderLoss()
        if cfg.gradient_checkpointing:
            autoencoder.vae.enable_gradient_checkpointing()
    else:
        from kinetype.model.losses import DiffusionLoss

        autoencoder.requires_grad_(False).eval()
        module = net
        choose_trainable(net, cfg)
        net.unet.gradient_checkpointing = cfg.gradient_checkpointing
        loss_fn = DiffusionLoss(cfg.loss, cfg.model.objective, autoencoder, video=stage == "video")
    autoencoder.to(d.device)
    module.to(d.device).train()
    params = [p for p in module.parameters() if p.requires_grad]
    if d.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP

        # Frozen branches (the video layers in the image stage...) have requires_grad=False, so DDP
        # never waits for them: no find_unused_parameters needed.
        ddp = DDP(module, device_ids=[d.device.index] if cuda else None)
    else:
        ddp = module
    forward = torch.compile(ddp) if cfg.compile else ddp

    # ---- Optimiser, EMA ---------------------------------------------------------------------------------
    opt = torch.optim.AdamW(params, lr=cfg.optim.lr, betas=tuple(cfg.optim.betas), weight_decay=cfg.optim.weight_decay,
                            **({"fused": True} if cuda else {}))
    ema = EMA(module, cfg.optim.ema_decay)

    # ---- Data ---------------------------------------------------------------------------------------------
    stream = DataStream(cfg.data, single_frame=stage != "video", seed=cfg.seed, rank=d.rank, world_size=d.world_size)
    val_batch = validation_batch(cfg) if d.is_main and cfg.sample_every and stage != "autoencoder" else None

    # The run folder is made once the model and data are built: a run that fails earlier leaves none.
    if d.is_main:
        run.mkdir(parents=True, exist_ok=True)
        (run / "config.json").write_text(config_to_json(cfg) + "\n")

    # ---- Resume -------------------------------------------------------------------------------------------
    step, seen_clips, nonfinite_total = 0, 0, 0
    last = ckpt_io.latest_checkpoint(run) if resume else None
    if last is not None:
        ck = ckpt_io.load_checkpoint(last)
        module.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        ckpt_io.load_optimizer(opt, ck["optimizer"], ck["state"]["optimizer"])
        st = ck["state"]
        if not isinstance(st.get("data"), list):  # before resume by position: a batch count, not positions
            raise TrainingError(f"{last}: written by an older kinetype that recorded no data positions; this one "
                                f"cannot continue it exactly (remove {ckpt_io.checkpoint_dir(run)} to start the stage again)")
        step, seen_clips, nonfinite_total = st["step"], st["seen_clips"], st["nonfinite_total"]
        ckpt_io.set_rng_state(*ckpt_io.rank_rng(ck["rng"], st, d.rank))
        stream.load_state_dict(st["data"][d.rank])  # each rank's readers stopped at their own positions
        if d.is_main:
            echo(f"resumed {run} at step {step} ({seen_clips} clips seen) from {last.name}")
        del ck

    # ---- Loop ---------------------------------------------------------------------------------------------
    logger = Logger(run, enabled=d.is_main, total_steps=cfg.optim.max_steps, start_step=step)
    nonfinite_in_row = 0
    clips_per_step = cfg.data.batch_size * cfg.optim.grad_accum_steps * d.world_size
    t_run = time.perf_counter()
    try:
        while step < cfg.optim.max_steps:
            t_start = time.perf_counter()
            data_wait = 0.0
            gen = step_generator(cfg.seed, d.rank, step)
            opt.zero_grad(set_to_none=True)
            # Loss terms summed on the device, in float64 (as Python floats summed them): reading a
            # value back (``.item()``, ``float(t)``, ``bool(t)``) waits for the GPU to finish every
            # queued kernel, so the micro-batches queue up without a single read-back.
            sums: dict[str, torch.Tensor] = {}
            finite = torch.ones((), dtype=torch.bool, device=d.device)

            # Forward, loss and backward over the micro-batches (DDP syncs gradients on the last one).
            for micro in range(cfg.optim.grad_accum_steps):
                t0 = time.perf_counter()
                batch = prepare(next(stream), cfg.data.size_px, d.device)
                data_wait += time.perf_counter() - t0
                last_micro = micro == cfg.optim.grad_accum_steps - 1
                sync = contextlib.nullcontext() if (last_micro or not d.enabled) else ddp.no_sync()
                with sync:
                    with autocast:
                        terms = loss_fn(forward, batch, gen)
                    finite &= torch.isfinite(terms["loss"].detach())
                    (terms["loss"] / cfg.optim.grad_accum_steps).backward()
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0.0) + v.detach().double() / cfg.optim.grad_accum_steps

            # Step: clip, skip non-finite (on every rank alike), schedule, update. The one read-back
            # of a step: whether to update at all has to be known here (skipping keeps the weights).
            grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.optim.grad_clip)
            finite = distributed.all_true(bool((finite & torch.isfinite(grad_norm)).item()), d)
            if not finite:
                nonfinite_in_row += 1
                nonfinite_total += 1
                opt.zero_grad(set_to_none=True)
                if d.is_main:
                    echo(f"step {step}: non-finite loss or gradient, step skipped ({nonfinite_in_row} in a row)")
                if nonfinite_in_row >= cfg.max_nonfinite_in_row:
                    raise TrainingError(
                        f"{nonfinite_in_row} non-finite losses in a row at step {step}: the run diverged; "
                        f"lower optim.lr (now {cfg.optim.lr}) or resume from an earlier checkpoint"
                    )
                continue
            nonfinite_in_row = 0
            lr = lr_at(step, cfg.optim)
            for group in opt.param_groups:
                group["lr"] = lr
            opt.step()
            step += 1
            seen_clips += clips_per_step

            # EMA.
            ema.update(module, step)

            # Log: the step's device values are kept and read back together every log_every steps.
            step_s = time.perf_counter() - t_start
            logger.log(step, {**sums, "lr": lr, "grad_norm": grad_norm.detach(), "clips_per_s": clips_per_step / step_s,
                              "data_wait_share": data_wait / step_s, "step_s": step_s, "seen_clips": seen_clips,
                              "nonfinite_total": nonfinite_total,
                              **({"gpu_mem_gb": torch.cuda.max_memory_allocated() / 2**30} if cuda else {})})
            if step % cfg.log_every == 0:
                logger.flush()

            # Validate: EMA samples of fixed prompts.
            if val_batch is not None and step % cfg.sample_every == 0:
                write_validation_samples(cfg, module, ema, autoencoder, val_batch, run / "samples" / f"step_{step:08d}")

            # Checkpoint (and stop, past the wall-time budget: every rank decides alike).
            out_of_time = cfg.optim.max_minutes > 0 and distributed.all_true(
                time.perf_counter() - t_run > 60 * cfg.optim.max_minutes, d)
            if step % cfg.checkpoint_every == 0 or step == cfg.optim.max_steps or out_of_time:
                logger.flush()  # the metrics of every checkpointed step are on disk with it
                save(run, step, cfg, module, ema, opt, stream, seen_clips, nonfinite_total, d)
            if out_of_time:
                if d.is_main:
                    echo(f"stopped at step {step}: the {cfg.optim.max_minutes:g}-minute budget is spent")
                break
            if stop_at_step is not None and step >= stop_at_step:
                return None
    finally:
        logger.close()

    # ---- Export the pipeline (EMA weights) ---------------------------------------------------------------
    out = None
    if d.is_main:
        out = export(cfg, module, ema, autoencoder, stream, run / "pipeline", d.device)
        echo(f"exported {out}")
    distributed.barrier(d)
    distributed.shutdown(d)
    return out


# ---- helpers ---------------------------------------------------------------------------------------------


def resolve_model(cfg: TrainConfig) -> TrainConfig:
    """Take the model's config from ``cfg.init`` (a pipeline folder) where it has one."""
    cfg = copy.deepcopy(cfg)
    if cfg.init:
        index_file = Path(cfg.init) / "model_index.json"
        if not index_file.is_file():
            raise TrainingError(f"--init {cfg.init}: not a pipeline folder (no model_index.json)")
        index = json.loads(index_file.read_text())
        cfg.model.autoencoder.path = str(Path(cfg.init) / "autoencoder")
        if "denoiser" in index["components"]:
            from kinetype.model.config import DenoiserConfig, TextConfig, from_dict

            den = json.loads((Path(cfg.init) / "denoiser" / "config.json").read_text())
            den.pop("latent_channels", None)
            cfg.model.denoiser = from_dict(DenoiserConfig, den)
            if index.get("text_encoder") == "clip":
                cfg.model.text = TextConfig(kind="clip", clip_path=str(Path(cfg.init) / "text_encoder"))
            else:
                cfg.model.text = from_dict(TextConfig, json.loads((Path(cfg.init) / "text_encoder" / "config.json").read_text()))
            cfg.model.objective = index["objective"]
    if cfg.model.autoencoder.path:  # the folder's architecture wins over the preset's
        ae_dir = Path(cfg.model.autoencoder.path)
        if (ae_dir / "model_index.json").is_file():  # a kinetype pipeline folder: its autoencoder
            ae_dir = ae_dir / "autoencoder"
        from kinetype.model.autoencoder import folder_config, training_fields
        from kinetype.model.errors import ModelError

        try:  # the folder's architecture, the run's loss settings
            cfg.model.autoencoder = folder_config(ae_dir, training_fields(cfg.model.autoencoder))
        except ModelError as e:
            raise TrainingError(str(e)) from None
    # Cross-attention width = the caption encoder's width.
    if cfg.model.text.kind == "clip":
        if not cfg.model.text.clip_path:
            raise TrainingError("the 'clip' text encoder needs a local folder: pass --clip DIR")
        try:
            clip_cfg = json.loads((Path(cfg.model.text.clip_path) / "config.json").read_text())
        except (OSError, json.JSONDecodeError):
            raise TrainingError(f"{cfg.model.text.clip_path}: not a CLIP text encoder folder (no readable config.json)") from None
        cfg.model.denoiser.context_dim = int(clip_cfg["hidden_size"])
    else:
        cfg.model.denoiser.context_dim = cfg.model.text.width
    if cfg.stage != "autoencoder" and not cfg.model.autoencoder.path:
        raise TrainingError(
            "no autoencoder for the diffusion stages: train one first (`kinetype train --stage autoencoder "
            "--out AE_RUN`) and pass --init AE_RUN/pipeline, or pass --autoencoder DIR (a diffusers AutoencoderKL folder)"
        )
    return cfg


def build_models(cfg: TrainConfig):
    """(autoencoder, network or None); weights from cfg.init / the autoencoder folder where given."""
    from kinetype.model import Autoencoder, KineTyNet

    ae_cfg = cfg.model.autoencoder
    if ae_cfg.path:
        autoencoder = Autoencoder.from_folder(ae_cfg.path, ae_cfg)
    else:
        autoencoder = Autoencoder(ae_cfg)
    if cfg.stage == "autoencoder":
        return autoencoder, None
    if cfg.data.size_px % autoencoder.factor:
        raise TrainingError(f"data.size_px {cfg.data.size_px} is not a multiple of the autoencoder's factor {autoencoder.factor}")
    net = KineTyNet(cfg.model)
    if cfg.init and (Path(cfg.init) / "denoiser").is_dir():
        from kinetype.pipeline import Pipeline

        pipe = Pipeline.from_pretrained(cfg.init)
        net.load_state_dict(pipe.net.state_dict())
    return autoencoder, net


def choose_trainable(net, cfg: TrainConfig) -> None:
    """Image stage: everything but the video layers; video stage: all, or only the video layers."""
    video_params = {id(p) for p in net.video_parameters()}
    for p in net.unet.parameters():
        if cfg.stage == "image":
            p.requires_grad_(id(p) not in video_params)
        else:
            p.requires_grad_(cfg.video_trains == "all" or id(p) in video_params)
    train_text = cfg.train_text_encoder and net.text_encoder.trainable and not (cfg.stage == "video" and cfg.video_trains == "video")
    net.text_encoder.requires_grad_(train_text)


def check_shards(spec: str) -> None:
    """Refuse, in one line, training data that is missing or empty (the resampled stream would wait
    for samples forever)."""
    if not spec or spec == "synthetic" or spec.startswith("synthetic:"):
        return
    from kinetype.data import expand_shards

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
    has_ckpt = ckpt_io.latest_checkpoint(run) is not None
    if resume and not has_ckpt:
        raise TrainingError(f"--resume: {run} holds no checkpoint to continue from (drop --resume to start it)")
    if has_ckpt:
        saved_file = run / "config.json"
        if saved_file.is_file():
            saved = config_from_json(saved_file.read_text())
            for part in ("stage", "model", "data", "loss", "seed"):
                if getattr(saved, part) != getattr(cfg, part):
                    raise TrainingError(f"{run} holds a run with a different {part} ({saved_file}): "
                                        "continue it with the same settings, or choose another --out")
    return has_ckpt


def describe(cfg: TrainConfig) -> str:
    """Parameter counts of the resolved model (for --dry-run), without loading any weights."""
    from kinetype.model import Autoencoder, KineTyNet

    ae = Autoencoder(cfg.model.autoencoder)
    lines = [f"autoencoder: {_count(ae) / 1e6:.2f} M parameters, {ae.factor}x downsampling"]
    if cfg.stage != "autoencoder" and cfg.model.text.kind == "byte":
        net = KineTyNet(cfg.model)
        lines.append(f"text encoder: {_count(net.text_encoder) / 1e6:.2f} M parameters")
        lines.append(f"denoiser: {_count(net.unet) / 1e6:.2f} M parameters "
                     f"({sum(p.numel() for p in net.video_parameters()) / 1e6:.2f} M in the video layers)")
    lines.append(f"stage {cfg.stage}: {cfg.optim.max_steps} steps x {cfg.data.batch_size} clips x "
                 f"{cfg.optim.grad_accum_steps} accumulation per device")
    return "\n".join(lines)


def _count(m) -> int:
    return sum(p.numel() for p in m.parameters())


def save(run, step, cfg, module, ema, opt, stream, seen_clips, nonfinite_total, d) -> None:
    rng = distributed.gather_objects(ckpt_io.rng_state(), d)
    data = distributed.gather_objects(stream.state_dict(), d)  # one per rank
    if d.is_main:
        ckpt_io.save_checkpoint(
            run, step, model=module.state_dict(), ema=ema.state_dict(), optimizer=opt, rng=rng,
            state={"seen_clips": seen_clips, "nonfinite_total": nonfinite_total, "data": data,
                   "world_size": d.world_size},
            keep=cfg.keep_checkpoints,
        )
    distributed.barrier(d)


def export(cfg, module, ema, autoencoder, stream, out: Path, device) -> Path:
    from kinetype.pipeline import Pipeline

    averaged = copy.deepcopy(module)
    ema.copy_to(averaged)
    if cfg.stage == "autoencoder":
        autoencoder = averaged
        # Latent scale for the diffusion stages: 1 / std of latents over a batch of real frames.
        batch = prepare(next(stream), cfg.data.size_px, device)
        autoencoder.cfg.scaling_factor = autoencoder.measure_scaling_factor(batch["video"].flatten(0, 1),
                                                                            batch["mask"].flatten(0, 1))
        net = None
    else:
        net = averaged.eval()
    pipe = Pipeline(net, autoencoder.eval(), objective=cfg.model.objective, stage=cfg.stage, size_px=cfg.data.size_px,
                    num_frames=cfg.data.num_frames, fps=cfg.fps)
    tmp = out.with_name(out.name + ".tmp")
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    pipe.save_pretrained(tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    (out / "train_config.json").write_text(config_to_json(cfg) + "\n")
    return out


def pipeline_at_checkpoint(run: Path, checkpoint: Path, device: str = "cpu"):
    """The pipeline a run would export at one of its checkpoints (EMA weights), in memory: for
    scoring a run as it trains (``benchmarks/legibility_curve.py``)."""
    from kinetype.pipeline import Pipeline

    cfg = resolve_model(config_from_json((Path(run) / "config.json").read_text()))
    torch.manual_seed(cfg.seed)  # what the run was built with (frozen, untrained layers included)
    autoencoder, net = build_models(cfg)
    module = autoencoder if cfg.stage == "autoencoder" else net
    module.load_state_dict(ckpt_io.load_checkpoint(checkpoint)["ema"], strict=False)  # EMA holds the parameters
    return Pipeline(None if net is None else net.eval(), autoencoder.eval(), objective=cfg.model.objective,
                    stage=cfg.stage, size_px=cfg.data.size_px, num_frames=cfg.data.num_frames, fps=cfg.fps).to(device)


def validation_batch(cfg: TrainConfig) -> dict[str, Any]:
    """A fixed set of prompts and glyph masks, from the start of a separately seeded data stream."""
    data = copy.deepcopy(cfg.data)
    data.batch_size = cfg.num_val_prompts
    data.num_workers = 0
    return next(DataStream(data, single_frame=cfg.stage != "video", seed=cfg.seed + 7919, rank=0, world_size=1))


@torch.no_grad()
def write_validation_samples(cfg, module, ema, autoencoder, batch, stem: Path) -> None:
    from kinetype.media import atomic_write_bytes, contact_sheet, encode_png, write_video
    from kinetype.pipeline import Pipeline

    net = copy.deepcopy(module)
    ema.copy_to(net)
    net.eval()
    frames = batch["video"].shape[1]
    pipe = Pipeline(net, autoencoder, objective=cfg.model.objective, stage=cfg.stage, size_px=cfg.data.size_px,
                    num_frames=frames, fps=cfg.fps)
    clips = pipe(batch["static"], batch["dynamic"], batch["word"], batch["mask"].numpy(), num_frames=frames,
                 sampler=cfg.sampler, steps=cfg.sample_steps, guidance=cfg.guidance, seed=cfg.seed)
    stem.parent.mkdir(parents=True, exist_ok=True)
    # One sheet: a block of rows per prompt.
    atomic_write_bytes(stem.with_suffix(".png"), encode_png(np.concatenate([contact_sheet(c) for c in clips], axis=0)))
    if frames > 1:
        for i, clip in enumerate(clips):
            write_video(stem.parent / f"{stem.name}_{i}.mp4", clip, cfg.fps)
            write_video(stem.parent / f"{stem.name}_{i}.gif", clip, cfg.fps)
    (stem.parent / f"{stem.name}.txt").write_text(
        "\n".join(f"{i}: {s} | {dy} | {w}" for i, (s, dy, w) in enumerate(zip(batch["static"], batch["dynamic"], batch["word"])))
        + "\n"
    )


class Logger:
    """metrics.jsonl (a line per step), TensorBoard scalars and a rich progress bar on rank 0.

    Lines are written at logging steps, checkpoints and the end (``flush``), not per step: a
    step's loss is a device tensor, and reading it back would make the host wait for the device."""

    def __init__(self, run: Path, *, enabled: bool, total_steps: int, start_step: int):
        self.enabled = enabled
        self.tb = self.progress = None
        self.pending: list[tuple[int, dict[str, float | torch.Tensor]]] = []
        if not enabled:
            return
        metrics = run / "metrics.jsonl"
        if metrics.is_file():  # a resumed run redoes the steps after its checkpoint: drop their old lines
            kept = [ln for ln in metrics.read_text().splitlines(keepends=True) if json.loads(ln)["step"] <= start_step]
            metrics.write_text("".join(kept))
        self.file = open(metrics, "a")
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(run / "tb"))
        except ImportError:  # tensorboard is in the train extra; without it only metrics.jsonl
            self.tb = None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                 TextColumn("{task.fields[info]}"), transient=False)
        self.task = self.progress.add_task("train", total=total_steps, completed=start_step, info="")
        self.progress.start()

    def log(self, step: int, values: dict[str, float | torch.Tensor]) -> None:
        """Keep one step's values; 0-d device tensors among them are read back at the next flush."""
        if self.enabled:
            self.pending.append((step, values))

    def flush(self) -> None:
        """Write the kept steps: one read-back from the device for all of them."""
        if not self.enabled or not self.pending:
            return
        on_device = [v.double() for _, row in self.pending for v in row.values() if torch.is_tensor(v)]
        read = iter(torch.stack(on_device).tolist() if on_device else [])  # the one sync
        for step, row in self.pending:
            values = {k: next(read) if torch.is_tensor(v) else v for k, v in row.items()}
            self.file.write(json.dumps({"step": step, **values}) + "\n")
            if self.tb is not None:
                for k, v in values.items():
                    self.tb.add_scalar(f"train/{k}", v, step)
        self.file.flush()
        info = f"loss {values['loss']:.4f}  lr {values['lr']:.2e}  {values['clips_per_s']:.1f} clips/s"
        self.progress.update(self.task, completed=step, info=info)
        if self.tb is not None:
            self.tb.flush()
        self.pending.clear()

    def close(self) -> None:
        if not self.enabled:
            return
        self.flush()
        self.progress.stop()
        self.file.close()
        if self.tb is not None:
            self.tb.close()
