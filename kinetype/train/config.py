"""Training configuration: typed dataclasses, named presets (each a model preset from
:mod:`kinetype.model.presets` with data and optimiser settings), TOML overrides.

Resolution order: preset -> ``--config FILE.toml`` -> command-line flags.  The resolved config is
saved as ``RUN/config.json``; ``kinetype train --dry-run`` prints it.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from kinetype.errors import MAX_SEED, KinetypeError
from kinetype.model.config import MAX_INBETWEENS, ModelConfig, check_types, from_dict, merge, model_problem, to_dict
from kinetype.model.errors import TrainingError
from kinetype.model.losses import LossConfig
from kinetype.model.presets import model_preset
from kinetype.render.settings import check_fps
from kinetype.render.tomlfile import TomlError, read_toml
from kinetype.sample.settings import SamplingSettings, check_guidance, check_sampler, check_steps

# torch and the model are imported inside the checks that build one: a config is read, resolved
# and its typos refused without their 4 s of imports.

Stage = Literal["autoencoder", "image", "video", "interpolation"]
STAGES = ("autoencoder", "image", "video", "interpolation")
# What `kinetype train` runs in turn; the interpolation stage (longer clips) is asked for by name.
PIPELINE_STAGES = ("autoencoder", "image", "video")


@dataclass
class DataConfig:
    shards: str = ""  # a folder of .tar shards, a glob, or "synthetic" (built-in moving blocks, for tests)
    size_px: int = 32  # frames are resized by the loader to this
    num_frames: int = 8
    frame_stride: int = 1
    batch_size: int = 4  # clips per device per micro-step
    num_workers: int = 0
    shuffle_buffer: int = 64
    # "uint8": the loader yields RGB in [0, 255] (a quarter of float32's bytes through worker queues
    # and host-to-device copies) and `prepare` normalises to [-1, 1] on the device; or "float16".
    # "yuv420": the decoded yuv420p planes, no colour conversion on the CPU (the fastest loader,
    # half of uint8's bytes); `prepare` converts them to RGB in [-1, 1] on the device.
    video_dtype: str = "float32"
    # Image and video stages: encode every clip once with the frozen autoencoder and train on the
    # cached latents (kinetype.train.latents): no video decoding and no encoder in the step. Pays
    # when the stages read each clip more than about once (see the presets).
    latent_cache: bool = False


@dataclass
class OptimConfig:
    """The optimiser and the schedule. The schedule is written in fractions of the stage's step
    count N, so it fits any length: N is ``max_steps``, or with a time budget (``max_minutes``) as
    many steps as the budget holds, fixed after a few timed steps (kinetype.train.schedule)."""

    lr: float = 1e-3  # peak learning rate
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.01
    lr_warmup: float = 0.05  # linear warm-up over this fraction of N
    lr_final: float = 0.1  # then cosine decay to this fraction of the peak at step N
    ema_std: float = 0.1  # power-function EMA (EDM2): the average's width as a fraction of the steps so far
    max_steps: int = 1000  # N; with a time budget, the most steps the stage may take
    # Time budget of the stage's training steps in minutes (0 = none); start-up is not counted. Not
    # deterministic (it depends on the machine's speed): the bundled model is trained by step counts.
    max_minutes: float = 0.0
    grad_accum_steps: int = 1
    grad_clip: float = 1.0
    # CUDA: the largest batch per device whose training step fits in the GPU's memory (powers of two
    # from data.batch_size), the learning rate scaled by sqrt(batch / data.batch_size).
    auto_batch: bool = False


@dataclass
class TrainConfig:
    preset: str = "tiny"
    stage: Stage = "image"
    out: str = "runs/tiny"
    seed: int = 0
    init: str | None = None  # a pipeline folder to start from (the previous stage's export)
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    # Which parameters train in the video stage: "all", or "video" = only the temporal layers and
    # the word branch (the image model stays frozen, as AnimateDiff-style fine-tuning does).
    video_trains: Literal["all", "video"] = "all"
    # Which parameters train in the autoencoder stage: "all", or "decoder" = the decoder of the
    # autoencoder it starts from (--init), the encoder frozen: the latents stay the same, so the
    # export is --init's whole model with the new decoder (Autoencoder.freeze_encoder).
    autoencoder_trains: Literal["all", "decoder"] = "all"
    # The interpolation stage (kinetype.model.interpolation): the frames its model makes between two
    # keyframes; the shards' clips give a keyframe every inbetweens + 1 frames.
    inbetweens: int = 3
    train_text_encoder: bool = True  # the byte encoder trains with the model; CLIP is always frozen
    # bf16 autocast where the hardware multiplies bf16 natively: CUDA, and CPUs with AMX tiles
    # (measured on one: 1.3x the image and 1.4x the video step of the `cpu` preset); float32 elsewhere.
    precision: Literal["bf16", "fp32"] = "bf16"
    # torch.compile of the network: "auto" = on CUDA only. On this 2-core CPU it took 211 s to compile
    # the `cpu` preset's video step and made it no faster (benchmarks/train_speed.py --compile).
    compile: Literal["auto", "on", "off"] = "auto"
    gradient_checkpointing: bool = False
    log_every: int = 10
    sample_every: int = 500  # EMA validation samples (0 = never)
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    max_nonfinite_in_row: int = 20
    # The validation samples' settings (sample_every).
    sampler: str = SamplingSettings.sampler
    sample_steps: int = SamplingSettings.steps
    guidance: float = SamplingSettings.guidance
    # The frame rate of the clips the model makes: not a setting but the shards' recorded fps /
    # data.frame_stride, filled in by kinetype.train.setup.resolve_model. A value given (a run
    # config saved before it was derived, a TOML file) must equal it.
    fps: int | None = None
    num_val_prompts: int = 2
    # Per-stage overrides applied when that stage runs (before --config and flags), as nested
    # tables: {"autoencoder": {"optim": {"max_steps": 3000}, "data": {"batch_size": 2}}, ...}.
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)


def _tiny() -> TrainConfig:
    return TrainConfig(
        preset="tiny",
        model=model_preset("tiny"),
        data=DataConfig(size_px=32, num_frames=8, batch_size=2),
        optim=OptimConfig(lr=1e-3, max_steps=300),
        log_every=10,
        sample_every=0,
        checkpoint_every=100,
        sample_steps=10,
    )


def _cpu() -> TrainConfig:
    # A CPU (2 cores): the whole pipeline in <= 2.5 h (the bundled model, `make model`).
    # 128 px, 12 frames taken every other frame of the engine's 24 at 8 fps: the whole 3-second
    # motion at 4 fps (the model: kinetype.model.presets).
    return TrainConfig(
        preset="cpu",
        model=model_preset("cpu"),
        # No loader worker: with the latent cache a batch costs the main process little, and a worker
        # beside the two compute threads made the video step 15% slower here (median 0.78 s vs 0.68 s).
        data=DataConfig(size_px=128, num_frames=12, frame_stride=2, batch_size=4, num_workers=0, shuffle_buffer=400,
                        video_dtype="yuv420", latent_cache=True),
        optim=OptimConfig(lr=5e-4, max_steps=1800),
        # Step counts sized to fit make model's 2.5 hours on this machine (2-core Xeon VM): 4.5 + 25.6 + 53.4
        # minutes of steps and 9.4 to build the latent cache (benchmarks/legibility_curve.py --times).
        stages={
            "autoencoder": {"optim": {"lr": 1e-3, "max_steps": 900}, "data": {"batch_size": 8}},
            "image": {"optim": {"max_steps": 2000}, "data": {"batch_size": 16}},
            "video": {"optim": {"max_steps": 2000, "lr": 3e-4}, "data": {"batch_size": 2}},
            # From shards rendered at 4x the video stage's 4 fps (`kinetype render --frames 48 --fps 16`):
            # 12 keyframes and 36 in-betweens a clip.
            "interpolation": {"optim": {"max_steps": 2000, "lr": 3e-4},
                              "data": {"batch_size": 2, "num_frames": 48, "frame_stride": 1}},
        },
        sample_every=0,
        checkpoint_every=500,
        keep_checkpoints=100,  # every checkpoint stays: the legibility-against-time curve reads them
        sample_steps=20,
    )


def _small() -> TrainConfig:
    # One GPU (<= 24 GB): 128 px, 16 frames, 16x16 latents; first readable results within an hour.
    return TrainConfig(
        preset="small",
        model=model_preset("small"),
        data=DataConfig(size_px=128, num_frames=16, frame_stride=1, batch_size=8, num_workers=6, shuffle_buffer=1000,
                        video_dtype="yuv420", latent_cache=True),
        optim=OptimConfig(lr=2e-4, lr_warmup=0.02, max_steps=100_000, auto_batch=True),
        gradient_checkpointing=False,
        sample_every=2000,
        checkpoint_every=2000,
    )


def _base() -> TrainConfig:
    # Several GPUs: the paper's 256 px x 24 frames (32x32 latents) with a mid-sized UNet.
    return TrainConfig(
        preset="base",
        model=model_preset("base"),
        data=DataConfig(size_px=256, num_frames=24, batch_size=4, num_workers=8, shuffle_buffer=2000, video_dtype="yuv420",
                        latent_cache=True),
        optim=OptimConfig(lr=1e-4, lr_warmup=0.02, max_steps=300_000, auto_batch=True),
        gradient_checkpointing=True,
        sample_every=5000,
        checkpoint_every=5000,
    )


def _paper() -> TrainConfig:
    # KineTy's scale: an SD-1.5-sized UNet with CLIP and SD's autoencoder from local folders (--clip, --autoencoder).
    return TrainConfig(
        preset="paper",
        model=model_preset("paper"),
        data=DataConfig(size_px=256, num_frames=24, batch_size=2, num_workers=8, shuffle_buffer=2000, video_dtype="yuv420",
                        latent_cache=True),
        optim=OptimConfig(lr=5e-5, lr_warmup=0.02, max_steps=200_000, auto_batch=True),
        gradient_checkpointing=True,
        sample_every=5000,
        checkpoint_every=5000,
    )


PRESETS: dict[str, TrainConfig] = {"tiny": _tiny(), "cpu": _cpu(), "small": _small(), "base": _base(), "paper": _paper()}


def default_preset() -> str:
    """``small`` where CUDA is available, else ``cpu``."""
    import torch

    return "small" if torch.cuda.is_available() else "cpu"


def resolve(preset: str, toml_file: Path | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Preset, then the TOML file's tables (``[data]``, ``[model.denoiser]``...), then ``overrides``."""
    if preset not in PRESETS:
        raise TrainingError(f"unknown preset {preset!r}: choose from {', '.join(PRESETS)}")
    cfg = copy.deepcopy(PRESETS[preset])  # presets are never mutated
    data: dict[str, Any] = {}
    if toml_file is not None:
        try:
            data = read_toml(toml_file)
        except FileNotFoundError:
            raise TrainingError(f"{toml_file}: no such config file") from None
        except IsADirectoryError:
            raise TrainingError(f"{toml_file}: a folder, not a config file") from None
        except TomlError as e:
            raise TrainingError(str(e)) from None
    stage = (overrides or {}).get("stage") or data.get("stage") or cfg.stage
    label = str(toml_file) if toml_file else f"preset {preset}"
    # Per-stage settings (the preset's, then the file's [stages.STAGE] tables) come before the
    # file's and the flags' plain settings.
    if "stages" in data:
        stages = data.pop("stages")
        bad = {k: v for k, v in stages.items() if not isinstance(v, dict)} if isinstance(stages, dict) else {"": stages}
        if bad:  # a scalar would be accepted by the merge and then never read
            name, value = next(iter(bad.items()))
            raise TrainingError(f"{toml_file}: stages{'.' + name if name else ''} must be a table of settings "
                                f"(e.g. [stages.video.optim]), got {value!r}")
        cfg = merge(cfg, {"stages": stages}, where=str(toml_file))
    for name, table in cfg.stages.items():  # an unknown stage name: validate's, below
        for key in ("stages", "stage"):  # merged, either would be taken as the run's, not the stage's
            if key in table:
                raise TrainingError(f"{label}: stages.{name}.{key}: a stage's table holds that stage's settings, "
                                    f"not {'other stages' if key == 'stages' else 'a stage name'}")

    def resolved(table: dict[str, Any] | None, where: str, builds: bool = True, as_stage: str | None = None) -> TrainConfig:
        out = merge(cfg, table, where=where) if table is not None else cfg
        if data:
            out = merge(out, data, where=str(toml_file))
        if overrides:
            out = merge(out, {k: v for k, v in overrides.items() if v is not None})
        if as_stage:  # a stage's table is checked as that stage runs it
            out = merge(out, {"stage": as_stage})
        if out.stage not in STAGES:
            raise TrainingError(f"unknown stage {out.stage!r}: choose from {', '.join(STAGES)}")
        return validate(out, where=where if table is not None or toml_file else "", builds=builds)

    # The plain settings first, so that an error of the file's or a flag's is named as theirs; then
    # every stage's table on top of what that stage runs with, whichever stage runs now: a bad value
    # in [stages.video] stops `--stage image` (and the first stage of a whole run) at once, not the
    # video stage hours later. A model checked once is not built again (a table rarely changes it).
    plain = resolved(None, label)
    built = [plain.model]
    chosen = plain
    for name in STAGES:
        if name not in cfg.stages or (name not in PIPELINE_STAGES and name != stage):  # run only when asked for
            continue
        staged = resolved(cfg.stages[name], f"{label} [stages.{name}]", builds=False, as_stage=name)
        if staged.model not in built:
            _check_builds(staged.model, f"{label} [stages.{name}]: ")
            built.append(staged.model)
        if name == stage:
            chosen = staged
    return chosen


# Ceilings of the counts a config gives: each far above any preset (the paper's included) and
# below what would overflow a tensor size or a step counter, or make a step or a model that cannot
# fit any machine (1e9 accumulation steps, 1e12-wide heads). A value past one is a typo: refused
# in one line naming the field before any model is built, not an allocation failing minutes later.
# The model's own ranges are the model's (kinetype.model.config.model_problem), applied to a model
# folder alike.
MAX_COUNT = 10**9  # steps, intervals, buffers: a run of a billion steps is beyond any schedule
COUNT_CEILINGS: dict[str, int] = {
    "data.size_px": 4096, "data.num_frames": 1000, "data.frame_stride": 1000,  # the engine's own ceilings
    "data.batch_size": 65_536, "optim.max_steps": MAX_COUNT, "optim.grad_accum_steps": 65_536,
    "log_every": MAX_COUNT, "checkpoint_every": MAX_COUNT, "keep_checkpoints": 100_000,
    "max_nonfinite_in_row": MAX_COUNT, "num_val_prompts": 1024,
    "loss.glyph_clips": 65_536, "loss.glyph_frames": 1000,
}
ZERO_OK_CEILINGS: dict[str, int] = {"data.num_workers": 1024, "data.shuffle_buffer": 10**7, "sample_every": MAX_COUNT,
                                    "optim.max_minutes": 525_600}  # a year of steps


def validate(cfg: TrainConfig, where: str = "", builds: bool = True) -> TrainConfig:
    """Every setting checked in one place, before any model is built (``--dry-run`` too): types
    against the dataclasses' annotations, then ranges and choices, then (``builds``) that the model
    settings build a network. One line naming the field."""
    prefix = f"{where}: " if where else "config: "
    try:
        check_types(cfg)
    except KinetypeError as e:
        raise TrainingError(prefix + str(e)) from None

    def get(field: str) -> Any:
        value = cfg
        for part in field.split("."):
            value = getattr(value, part)
        return value

    def need(ok: bool, field: str, rule: str) -> None:
        if not ok:
            raise TrainingError(f"{prefix}{field} must be {rule} (got {get(field)!r})")

    d, o, m = cfg.data, cfg.optim, cfg.model
    for name, most in COUNT_CEILINGS.items():
        need(get(name) >= 1, name, "at least 1")
        need(get(name) <= most, name, f"at most {most:,}")
    for name in ("data.num_workers", "data.shuffle_buffer", "sample_every", "optim.max_minutes",
                 "optim.weight_decay", "optim.grad_clip", "loss.glyph_weight", "loss.motion_weight",
                 "loss.trs_weight", "loss.text_motion_weight", "seed"):
        need(math.isfinite(get(name)) and get(name) >= 0, name, "0 or more")
    for name, most in ZERO_OK_CEILINGS.items():
        need(get(name) <= most, name, f"at most {most:,}")
    need(cfg.seed <= MAX_SEED, "seed", f"0 to {MAX_SEED}")
    need(math.isfinite(o.lr) and 0 < o.lr < 1, "optim.lr", "a number between 0 and 1")
    need(0 <= o.lr_warmup <= 0.5, "optim.lr_warmup", "a fraction of the steps in [0, 0.5]")
    need(0 <= o.lr_final <= 1, "optim.lr_final", "a fraction of the peak in [0, 1]")
    # A power EMA's width has an upper bound: sqrt(1/12) ~ 0.289 is a plain running mean.
    need(0 < o.ema_std < 0.28, "optim.ema_std", "in (0, 0.28)")
    need(all(0 <= b < 1 for b in o.betas), "optim.betas", "two numbers in [0, 1)")
    for name in ("loss.uncond_prob", "loss.glyph_drop_prob", "loss.glyph_max_t", "model.autoencoder.mask_drop_prob",
                 "loss.given_first_prob", "loss.given_ends_prob"):
        need(0 <= get(name) <= 1, name, "in [0, 1]")
    need(cfg.loss.given_first_prob + cfg.loss.given_ends_prob <= 1, "loss.given_ends_prob",
         f"at most 1 - loss.given_first_prob ({1 - cfg.loss.given_first_prob:g}): they are shares of the clips")
    if problem := model_problem(m):  # sizes, lists that fit together, group counts that divide
        raise TrainingError(f"{prefix}model.{problem}")
    need(d.size_px % (2 ** (len(m.denoiser.channels) - 1) * m.autoencoder.downsample_factor) == 0, "data.size_px",
         f"a multiple of {2 ** (len(m.denoiser.channels) - 1) * m.autoencoder.downsample_factor} "
         "(the autoencoder's and the denoiser's downsampling)")
    need(d.video_dtype in ("float32", "float16", "uint8", "yuv420"), "data.video_dtype",
         "one of 'float32', 'float16', 'uint8', 'yuv420'")
    if problem := m.noise.problem():
        raise TrainingError(f"{prefix}model.noise.{problem}")
    need(not (m.text.motion_encoder and m.text.kind != "byte"), "model.text.motion_encoder",
         "false with the 'clip' text encoder (a motion encoder is built for the byte encoder only)")
    need(1 <= cfg.inbetweens <= MAX_INBETWEENS, "inbetweens", f"an integer from 1 to {MAX_INBETWEENS}")
    step = cfg.inbetweens + 1 if cfg.stage == "interpolation" else 1  # clip frames per frame of the network
    if step > 1:
        need(d.num_frames % step == 0, "data.num_frames",
             f"a multiple of inbetweens + 1 ({step}) in the interpolation stage: a keyframe, then "
             f"{cfg.inbetweens} in-betweens")
    need(d.num_frames <= step * m.denoiser.max_frames, "data.num_frames",
         f"at most {'(inbetweens + 1) x ' if step > 1 else ''}model.denoiser.max_frames ({step * m.denoiser.max_frames})")
    # The sampling and clip settings by the rules of their types, named as this config names them.
    checks = [(check_sampler, "sampler"), (check_steps, "sample_steps"), (check_guidance, "guidance")]
    if cfg.fps is not None:
        checks.append((check_fps, "fps"))
    for check, name in checks:
        try:
            check(get(name), name)
        except KinetypeError as e:
            raise TrainingError(prefix + str(e)) from None
    unknown = sorted(set(cfg.stages) - set(STAGES))
    if unknown:
        raise TrainingError(f"{prefix}stages.{unknown[0]}: unknown stage (choose from {', '.join(STAGES)})")
    if builds:
        _check_builds(cfg.model, prefix)
    return cfg


def _check_builds(model: ModelConfig, prefix: str) -> None:
    """What the ranges cannot say (group-norm groups that do not divide a width, lists that do not
    fit together): build the networks on the meta device, which costs no memory and no time."""
    import torch

    from kinetype.model import Autoencoder, KineTyNet

    try:
        with torch.device("meta"):
            Autoencoder(model.autoencoder)
            if model.text.kind == "byte":
                KineTyNet(model)
    except (ValueError, RuntimeError, TypeError, IndexError, ZeroDivisionError) as e:
        said = " ".join(str(e).split())[:160] or type(e).__name__
        raise TrainingError(f"{prefix}model: these settings do not build a model ({said})") from None


def config_to_json(cfg: TrainConfig) -> str:
    return json.dumps(to_dict(cfg), indent=2)


def config_from_json(text: str) -> TrainConfig:
    return check_types(from_dict(TrainConfig, json.loads(text)))

