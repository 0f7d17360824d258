"""``kinetype train``: one training loop for the stages (autoencoder, image, video, interpolation).

Sections: set-up -> model -> optimiser/EMA -> data -> resume -> loop (data, diffusion step, update,
EMA, log, validate, checkpoint) -> export. Runs as one process or under
``torchrun --nproc-per-node G -m kinetype train ...`` (DDP: NCCL on CUDA, gloo on the CPU).

The step keeps the device busy: its random draws come from a generator on the device, batches
arrive pinned and tokenised and cross without blocking, a non-finite step is skipped by the fused
optimiser on the device, and values are read back only at logging steps, all at once. Counters
carry units: ``step`` (optimiser steps), ``seen_clips`` (clips over all ranks).
"""

from __future__ import annotations

import contextlib
import copy
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from kinetype.fsutil import atomic_folder, atomic_write_bytes
from kinetype.media import contact_sheet, encode_png, write_video
from kinetype.model.autoencoder import resize_masks
from kinetype.model.errors import TrainingError
from kinetype.model.frames import draw_given
from kinetype.model.interpolation import gap_frames, neighbours, shared_noise, split, split_masks
from kinetype.model.losses import (denoising_loss, glyph_loss, motion_loss, pooled_token, recorded_motion_attention,
                                   recorded_self_attention, self_attention_smoothness, text_motion_loss)
from kinetype.model.noise import draw_noise
from kinetype.model.objective import add_noise, predict_x0_eps, sample_times, target
from kinetype.pipeline import Pipeline, load_network, read_model_folder
from kinetype.train import checkpoint as ckpt_io
from kinetype.train import distributed
from kinetype.train.config import TrainConfig, config_from_json, config_to_json
from kinetype.train.data import DataStream, drop_captions, prepare
from kinetype.train.ema import EMA
from kinetype.train.latents import autoencoder_digest, build_cache, cache_folder, cache_shards, source_shards
from kinetype.train.metrics import Logger
from kinetype.train.schedule import StepBudget, lr_at
from kinetype.train.setup import (build_models, check_run_folder, check_shards, choose_trainable, describe,
                                  device_setup, largest_batch, resolve_model, scaled_lr)


def step_seed(seed: int, rank: int, step: int) -> int:
    """The seed of one step's draws (noise, times, drops, glyph-loss picks): a function of (seed,
    rank, step), so a resumed run draws exactly what the uninterrupted run drew."""
    return ((seed * 1_000_003 + rank) * 1_000_003 + step) % 2**63


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
    t_setup = time.perf_counter()
    cfg = resolve_model(cfg)
    check_shards(cfg.data.shards)
    if dry_run:
        echo(config_to_json(cfg))
        echo(describe(cfg))
        return None

    # ---- Set-up: processes, device, precision, seeds ------------------------------------------------
    d = distributed.init()
    run = Path(cfg.out)
    resume = check_run_folder(run, cfg, resume)
    dev = device_setup(cfg, d.device)
    torch.manual_seed(cfg.seed)  # the same initial weights on every rank
    np.random.seed((cfg.seed + d.rank) % 2**32)  # numpy takes 32 bits
    random.seed(cfg.seed + d.rank)

    # ---- Model and the parameters this stage trains ----------------------------------------------------
    autoencoder, net = build_models(cfg)
    diffusion = cfg.stage != "autoencoder"
    if diffusion:
        autoencoder.requires_grad_(False).eval()
        module = net
        choose_trainable(net, cfg)
        net.denoiser.gradient_checkpointing = cfg.gradient_checkpointing
    else:
        module = autoencoder
        if cfg.autoencoder_trains == "decoder":
            autoencoder.freeze_encoder()
        if cfg.gradient_checkpointing and hasattr(autoencoder.vae, "enable_gradient_checkpointing"):
            autoencoder.vae.enable_gradient_checkpointing()
    autoencoder.to(d.device)
    module.to(d.device).train()
    params = [p for p in module.parameters() if p.requires_grad]
    if d.enabled:
        # Frozen branches (the video layers in the image stage...) have requires_grad=False, so DDP
        # never waits for them: no find_unused_parameters needed.
        ddp = DDP(module, device_ids=[d.device.index] if d.device.type == "cuda" else None)
    else:
        ddp = module
    # Fixed shapes (fixed-length tokens, fixed batch): traced once, never recompiled.
    forward = torch.compile(ddp, dynamic=False) if dev.compile else ddp

    # ---- Batch size: the largest that fits (CUDA, optim.auto_batch; a resumed run keeps its own) -------
    last = ckpt_io.latest_checkpoint(run) if resume else None
    data_cfg = copy.deepcopy(cfg.data)  # cfg keeps the preset's batch: what a resumed run compares
    if cfg.optim.auto_batch and d.device.type == "cuda" and diffusion:
        kept = ckpt_io.read_state(last).get("batch_size") if last is not None else None
        if kept:
            data_cfg.batch_size = int(kept)
        else:
            data_cfg.batch_size, tried = largest_batch(memory_probe(cfg, module, autoencoder, d.device, dev),
                                                       cfg.data.batch_size)
            data_cfg.batch_size = distributed.broadcast_int(data_cfg.batch_size, d)
            if d.is_main:
                echo(f"batch {data_cfg.batch_size} clips per device (the largest that fits in 85% of the GPU's memory; "
                     f"tried {', '.join(map(str, tried))})")
    lr_peak = scaled_lr(cfg.optim.lr, data_cfg.batch_size, cfg.data.batch_size)
    if d.is_main and data_cfg.batch_size != cfg.data.batch_size:
        echo(f"lr {cfg.optim.lr:g} x sqrt({data_cfg.batch_size}/{cfg.data.batch_size}) = {lr_peak:.3g}")

    # ---- Optimiser, EMA ---------------------------------------------------------------------------------
    # Fused AdamW (CUDA and CPU): one kernel for all parameters, and it skips an update on the
    # device when told the gradients are not finite (``found_inf``).
    opt = torch.optim.AdamW(params, lr=lr_peak, betas=tuple(cfg.optim.betas), weight_decay=cfg.optim.weight_decay,
                            fused=True)
    ema = EMA(module, cfg.optim.ema_std)

    # ---- Data -------------------------------------------------------------------------------------------
    latents = None
    if diffusion and cfg.data.latent_cache and not cfg.data.shards.startswith("synthetic"):
        latents = cache_folder(cfg.data.shards, run, autoencoder_digest(autoencoder), cfg.data.size_px)
        if d.is_main:  # rank 0 encodes what is missing; the others wait for it
            build_cache(source_shards(cfg.data.shards), latents, autoencoder, prepare=prepare, size_px=cfg.data.size_px,
                        device=d.device, autocast=dev.autocast(), video_dtype=cfg.data.video_dtype,
                        workers=cfg.data.num_workers, echo=echo)
        distributed.barrier(d)
    stream = DataStream(data_cfg, single_frame=cfg.stage in ("autoencoder", "image"), seed=cfg.seed, rank=d.rank, world_size=d.world_size,
                        tokenizer=net.tokenizer if diffusion else None, fixed_length=dev.compile,
                        latents=None if latents is None else cache_shards(latents, cfg.data.shards),
                        pin_memory=dev.pin_memory)
    val_batch = validation_batch(cfg) if d.is_main and cfg.sample_every and diffusion else None

    # The run folder is made once the model and data are built: a run that fails earlier leaves none.
    if d.is_main:
        run.mkdir(parents=True, exist_ok=True)
        text = (config_to_json(cfg) + "\n").encode()
        if not (run / "config.json").is_file() or (run / "config.json").read_bytes() != text:  # a resume: as it was
            atomic_write_bytes(run / "config.json", text)

    # ---- Resume -------------------------------------------------------------------------------------------
    step, seen_clips = 0, 0
    budget = StepBudget(cfg.optim.max_steps, 60 * cfg.optim.max_minutes,
                        sync=torch.cuda.synchronize if d.device.type == "cuda" else lambda: None)
    nonfinite_total = torch.zeros((), dtype=torch.long, device=d.device)  # skipped steps, on the device
    if last is not None:
        ck = ckpt_io.load_checkpoint(last)
        module.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        ckpt_io.load_optimizer(opt, ck["optimizer"], ck["state"]["optimizer"])
        st = ck["state"]
        if not isinstance(st.get("data"), list):  # a batch count, not data positions: no exact resume
            raise TrainingError(f"{last}: written by an older kinetype that recorded no data positions; this one "
                                f"cannot continue it exactly (remove {ckpt_io.checkpoint_dir(run)} to start the stage again)")
        step, seen_clips = st["step"], st["seen_clips"]
        nonfinite_total.fill_(int(st["nonfinite_total"]))
        budget.load_state_dict(st)
        ckpt_io.set_rng_state(*ckpt_io.rank_rng(ck["rng"], st, d.rank))
        stream.load_state_dict(st["data"][d.rank])  # each rank's readers stopped at their own positions
        if d.is_main:
            echo(f"resumed {run} at step {step} ({seen_clips} clips seen) from {last.name}")
        del ck

    # ---- Loop ---------------------------------------------------------------------------------------------
    lc, obj, n = cfg.loss, cfg.model.objective, cfg.inbetweens
    video, interp = cfg.stage == "video", cfg.stage == "interpolation"
    captions = video or interp  # the dynamic and word captions (the image stage has the static one only)
    trs = cfg.stage == "video" and lc.trs_weight > 0  # record the decoder's self-attention maps
    text_motion = cfg.stage == "video" and lc.text_motion_weight > 0  # ... and the temporal cross-attention maps
    accum = cfg.optim.grad_accum_steps
    clips_per_step = data_cfg.batch_size * accum * d.world_size
    gen = torch.Generator(device=d.device)
    blank = net.tokenize([""]) if diffusion else None  # the dropped caption, (1, L)
    in_row = torch.zeros((), dtype=torch.long, device=d.device)  # non-finite steps in a row
    logger = Logger(run, enabled=d.is_main, total_steps=budget.total_steps, start_step=step, echo=echo)
    if d.is_main:
        echo(f"{cfg.stage}: {dev.describe}; start-up {time.perf_counter() - t_setup:.1f} s")
    time_up = False
    try:
        while step < budget.total_steps and not time_up:
            budget.step_started()
            t_start = time.perf_counter()
            data_wait = 0.0
            gen.manual_seed(step_seed(cfg.seed, d.rank, step))
            opt.zero_grad(set_to_none=True)
            sums: dict[str, torch.Tensor] = {}

            for micro in range(accum):
                t0 = time.perf_counter()
                batch = prepare(next(stream), cfg.data.size_px, d.device)
                data_wait += time.perf_counter() - t0
                # DDP syncs gradients on the last micro-batch only.
                sync = contextlib.nullcontext() if (micro == accum - 1 or not d.enabled) else ddp.no_sync()
                with (sync, dev.autocast(), recorded_self_attention(net.denoiser if trs else None, trs) as maps,
                      recorded_motion_attention(net.denoiser if text_motion else None, text_motion) as motion_maps):
                    if not diffusion:  # the autoencoder stage: its reconstruction loss on every frame
                        terms = forward(batch["video"].flatten(0, 1), batch["mask"].flatten(0, 1), gen)
                    else:
                        # Clean latents: from the cache, or the frozen encoder.
                        if "latents" in batch:
                            x0 = batch["latents"]  # (B, T, C, h, w)
                        else:
                            with torch.no_grad():
                                x0 = autoencoder.encode(batch["video"], batch["mask"])
                        masks = batch["mask"]  # (B, T, H, W)
                        if interp:  # FusionFrames: every (n+1)-th frame a keyframe, the n after it the target
                            keys, x0 = split(x0, n)  # (B, K, C, h, w), (B, K, n*C, h, w)
                            masks = split_masks(masks, n)[1].flatten(1, 2)  # the in-betweens' (B, K*n, H, W)
                        b = x0.shape[0]
                        # Noise the latents at random times.
                        t = sample_times(b, gen, obj)  # (B,)
                        eps = draw_noise(x0.shape, gen, cfg.model.noise, dtype=x0.dtype)  # (B, T, C, h, w)
                        if interp:
                            eps = shared_noise(eps, n)  # one draw per gap (kinetype.model.interpolation)
                        x_t = add_noise(x0, eps, t, obj)
                        # Drop all captions together (classifier-free guidance), and the glyph layout.
                        keep = torch.rand(b, generator=gen, device=d.device) >= lc.uncond_prob
                        tokens = {k: drop_captions(v, keep, blank) for k, v in batch["tokens"].items()}
                        present = (torch.rand(b, generator=gen, device=d.device) >= lc.glyph_drop_prob).float()
                        glyph = resize_masks(masks, x0.shape[-2:])  # (B, T, h, w)
                        if interp:
                            glyph = glyph.unflatten(1, (-1, n))  # (B, K, n, h, w)
                            given = neighbours(keys)  # each gap's keyframes
                        else:  # given frames (animate, in-betweens, loops): the clip's own clean frames
                            given = (draw_given(x0, gen, lc.given_first_prob, lc.given_ends_prob)
                                     if video and net.denoiser.cfg.given_frames else None)
                        out = forward(x_t, t, tokens["static"], tokens["dynamic"] if captions else None,
                                      tokens["word"] if captions else None, glyph, present, given, interp)
                        # Losses: denoising, glyph (KineTy), motion (DEMO).
                        terms = {"denoise": denoising_loss(out, target(x0, eps, t, obj))}
                        loss = terms["denoise"]
                        if lc.glyph_weight > 0 or (lc.motion_weight > 0 and video):
                            x0_hat = predict_x0_eps(x_t, out.float(), t, obj)[0]
                        if lc.glyph_weight > 0:
                            frames_hat, frames = (gap_frames(x0_hat, n), gap_frames(x0, n)) if interp else (x0_hat, x0)
                            terms["glyph"] = glyph_loss(autoencoder.decode, frames_hat, frames, masks, t, present, gen,
                                                        clips=lc.glyph_clips, frames=lc.glyph_frames,
                                                        max_t=lc.glyph_max_t, dilate_px=lc.glyph_dilate_px)
                            loss = loss + lc.glyph_weight * terms["glyph"]
                        if lc.motion_weight > 0 and video:
                            terms["motion"] = motion_loss(x0_hat, x0)
                            loss = loss + lc.motion_weight * terms["motion"]
                        if trs:  # HARIVO: consecutive frames' decoder self-attention maps agree
                            terms["trs"] = self_attention_smoothness(maps, x0.shape[1])
                            loss = loss + lc.trs_weight * terms["trs"]
                        if text_motion:  # DEMO: the dynamic caption's pooled token follows the clip's change
                            terms["text_motion"] = text_motion_loss(motion_maps, pooled_token(tokens["dynamic"].ids),
                                                                    x0, keep)
                            loss = loss + lc.text_motion_weight * terms["text_motion"]
                        terms["loss"] = loss
                    (terms["loss"] / accum).backward()
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0.0) + v.detach().double() / accum

            # Update: clip; a non-finite gradient norm (the same on every rank after DDP's all-reduce)
            # makes the fused optimiser skip the update on the device, weights and moments untouched.
            grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.optim.grad_clip, foreach=True)
            skipped = ~torch.isfinite(grad_norm)
            opt.found_inf = skipped.float()
            lr = lr_at(step, budget.total_steps, lr_peak, cfg.optim.lr_warmup, cfg.optim.lr_final)
            for group in opt.param_groups:
                group["lr"] = lr
            opt.step()
            step += 1
            seen_clips += clips_per_step
            nonfinite_total += skipped
            in_row = (in_row + 1) * skipped

            # EMA.
            ema.update(step)

            # Budget: N is fixed after a few timed steps, and brought forward if the steps slow down
            # (rank 0's N on every rank: under DDP it is replanned at logging steps, where they agree).
            if budget.step_done(step) and d.enabled:
                budget.fixed = distributed.broadcast_int(budget.fixed, d)
            elif not d.enabled:
                budget.replan(step)
            elif step % cfg.log_every == 0 and budget.seconds > 0 and budget.fixed is not None:
                budget.replan(step)
                budget.fixed = distributed.broadcast_int(budget.fixed, d)
            # Every rank stops at the same step: under DDP they agree at logging steps.
            time_up = budget.out_of_time() if not d.enabled else (
                step % cfg.log_every == 0 and distributed.any_true(budget.out_of_time(), d))

            # Log: the step's device values are kept and read back together at logging steps.
            step_s = time.perf_counter() - t_start
            logger.log(step, {**sums, "lr": lr, "grad_norm": grad_norm.detach(), "clips_per_s": clips_per_step / step_s,
                              "data_wait_share": data_wait / step_s, "step_s": step_s, "seen_clips": seen_clips,
                              "skipped": skipped.clone(), "nonfinite_in_row": in_row.clone(),
                              "nonfinite_total": nonfinite_total.clone(),
                              **({"gpu_mem_gb": torch.cuda.max_memory_allocated() / 2**30} if d.device.type == "cuda" else {})})
            end = step >= budget.total_steps or time_up
            checkpoint_now = step % cfg.checkpoint_every == 0 or end
            if step % cfg.log_every == 0 or checkpoint_now:
                check_finite(logger.flush(budget.total_steps), cfg, echo if d.is_main else lambda s: None)

            # Validate: EMA samples of fixed prompts.
            if val_batch is not None and step % cfg.sample_every == 0:
                write_validation_samples(cfg, module, ema, autoencoder, val_batch, run / "samples" / f"step_{step:08d}")

            # Checkpoint (every rank decides alike: the budget's N is the same on every rank).
            if checkpoint_now:
                save(run, step, cfg, module, ema, opt, stream, seen_clips, nonfinite_total, budget, data_cfg.batch_size, d)
            if stop_at_step is not None and step >= stop_at_step:
                return None
    finally:
        logger.close()

    if d.is_main:
        left = f"; stopped by the {cfg.optim.max_minutes:g}-minute budget at step {step} of {budget.total_steps}" \
            if step < budget.total_steps else ""
        budget_share = f" ({100 * budget.elapsed() / budget.seconds:.0f}% of the budget)" if budget.seconds else ""
        moved = f"; {budget.planned} planned, brought forward as steps slowed" \
            if budget.seconds and budget.planned not in (None, budget.total_steps) else ""
        echo(f"{cfg.stage}: {step} steps in {budget.elapsed():.1f} s of training{budget_share}{left}{moved}")

    # ---- Export the pipeline (EMA weights) ---------------------------------------------------------------
    out = None
    if d.is_main:
        out = export(cfg, module, ema, autoencoder, stream, run / "pipeline", d.device)
        echo(f"exported {out}")
    distributed.barrier(d)
    distributed.shutdown(d)
    return out


# ---- helpers ---------------------------------------------------------------------------------------------


def check_finite(rows: list[dict[str, float]], cfg: TrainConfig, echo) -> None:
    """At a logging step: report the skipped steps read back, and stop a run that diverged."""
    for row in rows:
        if row.get("skipped"):
            echo(f"step {row['step']}: non-finite loss or gradient, step skipped ({int(row['nonfinite_in_row'])} in a row)")
    worst = max((row.get("nonfinite_in_row", 0) for row in rows), default=0)
    if worst >= cfg.max_nonfinite_in_row:
        raise TrainingError(
            f"{int(worst)} non-finite losses in a row by step {rows[-1]['step']}: the run diverged; "
            f"lower optim.lr (now {cfg.optim.lr}) or resume from an earlier checkpoint"
        )


def memory_probe(cfg: TrainConfig, net, autoencoder, device: torch.device, dev):
    """``fits(batch)``: whether a diffusion step on ``batch`` random clips (forward, glyph-loss decode,
    backward) stays within 85% of the GPU's memory. On the bare network (no DDP: each rank probes
    alone, rank 0's answer is used)."""
    total = torch.cuda.get_device_properties(device).total_memory
    interp, n = cfg.stage == "interpolation", cfg.inbetweens
    frames = cfg.data.num_frames // (n + 1) if interp else cfg.data.num_frames if cfg.stage == "video" else 1
    lat = cfg.data.size_px // autoencoder.factor
    c = autoencoder.cfg.latent_channels
    per_frame = n if interp else 1  # latents per frame of the network

    def fits(batch: int) -> bool:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        try:
            x = torch.randn(batch, frames, per_frame * c, lat, lat, device=device)
            tokens = net.tokenize([""] * batch)
            captions = cfg.stage in ("video", "interpolation")
            glyph = torch.zeros(batch, frames, *((n,) if interp else ()), lat, lat, device=device)
            given = neighbours(torch.zeros(batch, frames, c, lat, lat, device=device)) if interp else None
            with dev.autocast():
                out = net(x, torch.rand(batch, device=device), tokens, tokens if captions else None,
                          tokens if captions else None, glyph, torch.ones(batch, device=device), given, interp)
                out = gap_frames(out, n) if interp else out  # (B, T, C, h, w)
                k = min(cfg.loss.glyph_clips, batch)
                shown = min(out.shape[1], cfg.loss.glyph_frames)
                decoded = autoencoder.decode(out[:k, :shown].float(),
                                             torch.zeros(k, shown, cfg.data.size_px, cfg.data.size_px, device=device))
            (out.float().square().mean() + decoded.float().square().mean()).backward()
            net.zero_grad(set_to_none=True)
            return torch.cuda.max_memory_allocated(device) < 0.85 * total
        except torch.cuda.OutOfMemoryError:
            net.zero_grad(set_to_none=True)
            return False
        finally:
            torch.cuda.empty_cache()

    return fits


def save(run, step, cfg, module, ema, opt, stream, seen_clips, nonfinite_total, budget, batch_size, d) -> None:
    rng = distributed.gather_objects(ckpt_io.rng_state(), d)
    data = distributed.gather_objects(stream.state_dict(), d)  # one per rank
    if d.is_main:
        ckpt_io.save_checkpoint(
            run, step, model=module.state_dict(), ema=ema.state_dict(), optimizer=opt, rng=rng,
            state={"seen_clips": seen_clips, "nonfinite_total": int(nonfinite_total), "data": data,
                   "world_size": d.world_size, "batch_size": batch_size, **budget.state_dict()},
            keep=cfg.keep_checkpoints,
        )
    distributed.barrier(d)


def export(cfg, module, ema, autoencoder, stream, out: Path, device) -> Path:
    averaged = copy.deepcopy(module)
    ema.copy_to(averaged)
    objective, noise, clips = cfg.model.objective, cfg.model.noise, exported_clips(cfg)
    if cfg.stage == "autoencoder" and cfg.autoencoder_trains == "decoder":
        # The encoder and its latent scale are --init's, so its denoiser (if it has one) reads them:
        # the export is that model with this decoder.
        autoencoder, net = averaged, None
        if cfg.init and (folder := read_model_folder(cfg.init)).has_denoiser:
            net = load_network(folder).eval()
            objective, noise = folder.model.objective, folder.model.noise
            clips = {"stage": folder.stage, "num_frames": folder.num_frames, "fps": folder.fps}
    elif cfg.stage == "autoencoder":
        autoencoder = averaged
        # Latent scale for the diffusion stages: 1 / std of latents over a batch of real frames.
        batch = prepare(next(stream), cfg.data.size_px, device)
        autoencoder.cfg.scaling_factor = autoencoder.measure_scaling_factor(batch["video"].flatten(0, 1),
                                                                            batch["mask"].flatten(0, 1))
        net = None
    else:
        net = averaged.eval()
    pipe = Pipeline(net, autoencoder.eval(), objective=objective, noise=noise, size_px=cfg.data.size_px, **clips)
    with atomic_folder(out, overwrite=True) as tmp:  # a later run's export replaces this one whole
        pipe.save_pretrained(tmp)
        (tmp / "train_config.json").write_text(config_to_json(cfg) + "\n")
    return out


def pipeline_at_checkpoint(run: Path, checkpoint: Path, device: str = "cpu") -> Pipeline:
    """The pipeline a run would export at one of its checkpoints (EMA weights), in memory: for
    scoring a run as it trains (``benchmarks/legibility_curve.py``)."""
    cfg = resolve_model(config_from_json((Path(run) / "config.json").read_text()))
    torch.manual_seed(cfg.seed)  # what the run was built with (frozen, untrained layers included)
    autoencoder, net = build_models(cfg)
    module = autoencoder if cfg.stage == "autoencoder" else net
    module.load_state_dict(ckpt_io.load_checkpoint(checkpoint)["ema"], strict=False)  # EMA holds the parameters
    return Pipeline(None if net is None else net.eval(), autoencoder.eval(), objective=cfg.model.objective, noise=cfg.model.noise,
                    size_px=cfg.data.size_px, **exported_clips(cfg)).to(device)


def exported_clips(cfg: TrainConfig) -> dict[str, Any]:
    """The stage and clips a run's pipeline folder records: the interpolation stage's is the video
    model it extends (its keyframes: a clip's every (n+1)-th frame, at 1 / (n+1) of the fps)."""
    if cfg.stage == "interpolation":
        step = cfg.inbetweens + 1
        return {"stage": "video", "num_frames": cfg.data.num_frames // step, "fps": cfg.fps // step}
    return {"stage": cfg.stage, "num_frames": cfg.data.num_frames, "fps": cfg.fps}


def validation_batch(cfg: TrainConfig) -> dict[str, Any]:
    """A fixed set of prompts and glyph masks, from the start of a separately seeded data stream."""
    data = copy.deepcopy(cfg.data)
    data.batch_size = cfg.num_val_prompts
    data.num_workers = 0
    return next(DataStream(data, single_frame=cfg.stage in ("autoencoder", "image"), seed=cfg.seed + 7919, rank=0, world_size=1))


@torch.no_grad()
def write_validation_samples(cfg, module, ema, autoencoder, batch, stem: Path) -> None:
    net = copy.deepcopy(module)
    ema.copy_to(net)
    net.eval()
    frames = batch["mask"].shape[1]
    pipe = Pipeline(net, autoencoder, objective=cfg.model.objective, noise=cfg.model.noise, size_px=cfg.data.size_px,
                    **exported_clips(cfg))
    clips = pipe(batch["static"], batch["dynamic"], batch["word"], batch["mask"].numpy(), num_frames=frames,
                 sampler=cfg.sampler, steps=cfg.sample_steps, guidance=cfg.guidance, seed=cfg.seed)
    stem.parent.mkdir(parents=True, exist_ok=True)
    # One sheet: a block of rows per prompt.
    atomic_write_bytes(stem.with_suffix(".png"), encode_png(np.concatenate([contact_sheet(c) for c in clips], axis=0)))
    if frames > 1:
        for i, clip in enumerate(clips):
            write_video(stem.parent / f"{stem.name}_{i}.mp4", clip, cfg.fps)
            write_video(stem.parent / f"{stem.name}_{i}.gif", clip, cfg.fps)
    atomic_write_bytes(stem.parent / f"{stem.name}.txt", (
        "\n".join(f"{i}: {s} | {dy} | {w}" for i, (s, dy, w) in enumerate(zip(batch["static"], batch["dynamic"], batch["word"])))
        + "\n").encode())

