"""Typed configuration of the model's three parts and the objective.

Named sizes (``tiny``, ``cpu``, ``small``, ``base``, ``paper``) live in :mod:`kinetype.model.presets`; these
dataclasses are what a pipeline folder stores in its ``config.json`` files.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any, Literal

from kinetype.errors import KinetypeError

Objective = Literal["flow", "v", "eps"]
NoiseKind = Literal["independent", "mixed", "progressive"]
NOISE_KINDS: tuple[str, ...] = typing.get_args(NoiseKind)


@dataclass
class AutoencoderConfig:
    """The frame <-> latent autoencoder; ``path`` loads a local folder instead of building one.

    ``kind``: ``"kl"`` is a diffusers ``AutoencoderKL`` (what a pretrained Stable Diffusion ``vae/``
    is); ``"glyph"`` is kinetype's :class:`~kinetype.model.glyph_vae.GlyphVAE`, whose decoder also
    sees the full-resolution glyph layout (crisp letters from small latents; the CPU preset's choice).
    """

    kind: Literal["kl", "glyph"] = "kl"
    block_out_channels: tuple[int, ...] = (32, 64, 64)  # len-1 halvings: (32,64,64) -> 4x smaller
    layers_per_block: int = 1
    latent_channels: int = 4
    norm_num_groups: int = 8
    scaling_factor: float = 1.0  # latents are multiplied by this; measured after the autoencoder stage
    path: str | None = None  # local diffusers AutoencoderKL folder (e.g. Stable Diffusion's vae/)
    # Autoencoder stage loss: L1 everywhere + mask_weight x L1 inside the glyph masks + KL, and
    # edge_weight x L1 of the image gradients in a band around the letters (sharp strokes and effects).
    mask_weight: float = 4.0
    kl_weight: float = 1e-6
    edge_weight: float = 0.0
    # "glyph" only: initial posterior log-variance, and the share of frames whose decoder gets no
    # mask in training (so text-only generation still decodes letters from the latent).
    init_logvar: float = -6.0
    mask_drop_prob: float = 0.2
    glyph_norm: bool = False  # GroupNorm in the glyph kind (off: it erases frame-wide colour; see glyph_vae.py)

    @property
    def downsample_factor(self) -> int:
        return 2 ** (len(self.block_out_channels) - 1)


@dataclass
class TextConfig:
    """The caption encoder shared by the static, dynamic and word captions (as in KineTy), or, with
    ``motion_encoder``, a content encoder for the static and word captions and a second one of the
    same shape for the dynamic caption (DEMO's decomposed text encoding)."""

    kind: Literal["byte", "clip"] = "byte"
    width: int = 128  # hidden size of the byte-level transformer
    depth: int = 2
    heads: int = 4
    max_tokens: int = 96  # bytes; longer captions are cut (captions are short, words <= 12 letters)
    clip_path: str | None = None  # local folder with a transformers CLIPTextModel + tokenizer (frozen)
    # DEMO's motion encoder (byte encoder only): the dynamic caption gets its own transformer, started
    # as a copy of the content encoder and trained in the video stage (its weights live beside the
    # content encoder's in the text_encoder component, under "motion.").
    motion_encoder: bool = False


@dataclass
class DenoiserConfig:
    """The space-time UNet on latents."""

    channels: tuple[int, ...] = (64, 128)  # per resolution level
    layers_per_level: int = 1
    attention_levels: tuple[bool, ...] = (True, True)  # spatial+temporal transformers at this level
    head_dim: int = 32
    norm_groups: int = 16
    ff_mult: int = 4
    glyph_channels: bool = True  # concatenate per-frame glyph masks (+ a presence flag) to the input
    # Given frames (kinetype.model.frames): the clean latents of designs the clip passes through and a
    # per-frame flag, concatenated to the input (animate a still, in-betweens, loops).
    given_frames: bool = False
    # ... and DynamiCrafter's context stream: the first given design through a query transformer of
    # design_tokens tokens, attended by every spatial layer through a tanh gate that starts at 0.
    design_context: bool = False
    design_tokens: int = 16
    max_frames: int = 64  # temporal position encoding length
    # An interpolation model (FusionFrames; kinetype.model.interpolation) rather than a keyframe model:
    # each of its frames is the gap after a keyframe, ``inbetweens`` latents stacked on channels, with
    # the keyframes on either side as input planes. 0: a keyframe model.
    inbetweens: int = 0
    temporal_conv: bool = False  # a kernel-3 convolution across frames after each ResNet block (zero at start)
    # The static caption's named colours added to the time embedding (kinetype.model.colours; zero at start).
    colour_embedding: bool = False


@dataclass
class NoiseConfig:
    """The noise prior of training and sampling (:mod:`kinetype.model.noise`): ``correlation`` is
    that of one latent element between consecutive frames, 0 for ``independent``, in (0, 1) else."""

    kind: NoiseKind = "independent"
    correlation: float = 0.0

    def problem(self) -> str | None:
        """What is wrong with these settings, or None (the rule the training config and the model
        folder both apply)."""
        if self.kind not in NOISE_KINDS:
            return f"kind must be one of {', '.join(NOISE_KINDS)} (got {self.kind!r})"
        ok = self.correlation == 0.0 if self.kind == "independent" else 0.0 < self.correlation < 1.0
        if not ok or not math.isfinite(self.correlation):
            rule = "0 for independent noise" if self.kind == "independent" else f"in (0, 1) for {self.kind} noise"
            return f"correlation must be {rule} (got {self.correlation!r})"
        return None


@dataclass
class ModelConfig:
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    text: TextConfig = field(default_factory=TextConfig)
    denoiser: DenoiserConfig = field(default_factory=DenoiserConfig)
    objective: Objective = "flow"
    noise: NoiseConfig = field(default_factory=NoiseConfig)


# Ceilings of the model's sizes: far above any model kinetype trains (the `paper` preset's largest
# value is a quarter of each or less), low enough that a typo (a million layers, a trillion frames)
# is refused in one line rather than building for minutes or allocating terabytes.
MAX_LEVELS = 8  # resolution levels of the autoencoder and the denoiser: 2^7 = 128x downsampling
MAX_WIDTH = 8192  # channels of one level, the text encoder's width
MAX_LAYERS = 16  # blocks per level, text transformer layers (x4)
MAX_HEADS = 64
MAX_HEAD_DIM = 1024
MAX_FF_MULT = 16
MAX_LATENT_CHANNELS = 64
MAX_TOKENS = 4096  # caption bytes
MAX_POSITIONS = 4096  # the denoiser's temporal position table (frames)
MAX_INBETWEENS = 15  # latents an interpolation model predicts between two keyframes


@dataclass(frozen=True)
class Problem:
    """What is wrong with a model setting: ``field`` is dotted from the model (``denoiser.head_dim``)."""

    field: str
    rule: str
    value: Any

    def __str__(self) -> str:
        return f"{self.field} must be {self.rule} (got {self.value!r})"


def model_problem(m: ModelConfig) -> Problem | None:
    """The first setting of a type-checked model config outside its range, or None: the one rule
    the training config and a model folder's configs both apply, before anything is built."""
    a, t, d = m.autoencoder, m.text, m.denoiser

    def whole(field: str, value: int, lo: int, hi: int) -> Problem | None:
        return None if lo <= value <= hi else Problem(field, f"an integer from {lo} to {hi}", value)

    def widths(field: str, values: tuple[int, ...]) -> Problem | None:
        ok = 1 <= len(values) <= MAX_LEVELS and all(1 <= c <= MAX_WIDTH for c in values)
        return None if ok else Problem(field, f"a list of 1 to {MAX_LEVELS} widths from 1 to {MAX_WIDTH}", list(values))

    def groups(field: str, value: int, channels: tuple[int, ...], of: str) -> Problem | None:
        if value < 1 or any(c % value for c in channels):
            return Problem(field, f"a whole divisor of every width in {of} {list(channels)}", value)
        return None

    checks = [
        lambda: widths("autoencoder.block_out_channels", a.block_out_channels),
        lambda: whole("autoencoder.layers_per_block", a.layers_per_block, 1, MAX_LAYERS),
        lambda: whole("autoencoder.latent_channels", a.latent_channels, 1, MAX_LATENT_CHANNELS),
        lambda: (groups("autoencoder.norm_num_groups", a.norm_num_groups, a.block_out_channels, "block_out_channels")
                 if a.kind == "kl" or a.glyph_norm else whole("autoencoder.norm_num_groups", a.norm_num_groups, 1,
                                                              MAX_WIDTH)),
        lambda: (None if math.isfinite(a.scaling_factor) and a.scaling_factor > 0
                 else Problem("autoencoder.scaling_factor", "a positive number", a.scaling_factor)),
        lambda: whole("text.heads", t.heads, 1, MAX_HEADS),
        lambda: whole("text.width", t.width, 1, MAX_WIDTH),
        lambda: None if t.width % t.heads == 0 else Problem("text.width", f"a multiple of text.heads ({t.heads})", t.width),
        lambda: whole("text.depth", t.depth, 1, 4 * MAX_LAYERS),
        lambda: whole("text.max_tokens", t.max_tokens, 1, MAX_TOKENS),
        lambda: widths("denoiser.channels", d.channels),
        lambda: whole("denoiser.layers_per_level", d.layers_per_level, 1, MAX_LAYERS),
        lambda: (None if len(d.attention_levels) <= len(d.channels)
                 else Problem("denoiser.attention_levels", f"no longer than denoiser.channels ({len(d.channels)})",
                              list(d.attention_levels))),
        lambda: whole("denoiser.head_dim", d.head_dim, 1, MAX_HEAD_DIM),
        lambda: groups("denoiser.norm_groups", d.norm_groups, d.channels, "channels"),
        lambda: whole("denoiser.ff_mult", d.ff_mult, 1, MAX_FF_MULT),
        lambda: whole("denoiser.max_frames", d.max_frames, 1, MAX_POSITIONS),
        lambda: whole("denoiser.design_tokens", d.design_tokens, 1, MAX_POSITIONS),
        lambda: None if d.given_frames or not d.design_context else Problem(
            "denoiser.design_context", "false without denoiser.given_frames (it reads the given design)", d.design_context),
        lambda: whole("denoiser.inbetweens", d.inbetweens, 0, MAX_INBETWEENS),
        lambda: None if not (d.inbetweens and d.given_frames) else Problem(
            "denoiser.given_frames", "false in an interpolation model (its given frames are the keyframes)", d.given_frames),
    ]
    for check in checks:
        if problem := check():
            return problem
    return None  # the noise prior has its own rule: NoiseConfig.problem


def to_dict(cfg: Any) -> dict[str, Any]:
    """A dataclass as a JSON-able dict (tuples become lists)."""
    return asdict(cfg)


def check_types(cfg: Any, where: str = "") -> Any:
    """Check every field of a (nested) config dataclass against its annotation, in place; ints are
    accepted (and stored) as floats. Raises one line naming the field: ``data.batch_size: expected
    an integer, got 'eight'``."""
    def fits(value: Any, tp: Any) -> tuple[bool, Any]:
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if tp is Any:
            return True, value
        if origin is typing.Literal:
            return value in args and type(value) is type(args[args.index(value)]) if value in args else False, value
        if origin in (typing.Union, types.UnionType):
            for a in args:
                ok, v = fits(value, a)
                if ok:
                    return True, v
            return False, value
        if tp is type(None):
            return value is None, value
        if tp is bool:
            return isinstance(value, bool), value
        if tp is int:
            return isinstance(value, int) and not isinstance(value, bool), value
        if tp is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            return ok, float(value) if ok else value
        if tp is str:
            return isinstance(value, str), value
        if origin is tuple:
            if not isinstance(value, (tuple, list)):
                return False, value
            inner = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
            if len(inner) != len(value):
                return False, value
            out = []
            for v, a in zip(value, inner):
                ok, v = fits(v, a)
                if not ok:
                    return False, value
                out.append(v)
            return True, tuple(out)
        if origin is dict:
            return isinstance(value, dict), value
        if is_dataclass(tp):
            return is_dataclass(value), value
        return True, value

    def describe(tp: Any) -> str:
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin is typing.Literal:
            return "one of " + ", ".join(repr(a) for a in args)
        if origin in (typing.Union, types.UnionType):
            return " or ".join(describe(a) for a in args)
        if origin is tuple:
            plural = {int: "integers", float: "numbers", str: "strings", bool: "true or false values"}
            return "a list of " + (plural.get(args[0], describe(args[0])) if args and args[-1] is Ellipsis
                                   else f"{len(args)} values")
        names = {int: "an integer", float: "a number", str: "a string", bool: "true or false", type(None): "nothing",
                 dict: "a table"}
        return names.get(tp, "a table" if is_dataclass(tp) or origin is dict else getattr(tp, "__name__", str(tp)))

    hints = typing.get_type_hints(type(cfg))
    for f in fields(cfg):
        value, tp = getattr(cfg, f.name), hints[f.name]
        name = f"{where}.{f.name}" if where else f.name
        if is_dataclass(tp):
            if not is_dataclass(value):
                raise KinetypeError(f"{name}: expected a table of settings, got {value!r}")
            check_types(value, name)
            continue
        ok, converted = fits(value, tp)
        if not ok:
            raise KinetypeError(f"{name}: expected {describe(tp)}, got {value!r}")
        setattr(cfg, f.name, converted)
    return cfg


def from_dict(cls: type, data: dict[str, Any], *, where: str = "") -> Any:
    """Build dataclass ``cls`` from a (possibly partial) dict; unknown keys are errors naming the key."""
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise KinetypeError(f"{where or cls.__name__}: unknown setting {key!r} (known: {', '.join(known)})")
        default = getattr(cls(), key) if _has_default(cls) else None
        if is_dataclass(default) and not isinstance(value, dict) and not is_dataclass(value):
            raise KinetypeError(f"{where + ': ' if where else ''}{key}: expected a table of settings, got {value!r}")
        if is_dataclass(default) and isinstance(value, dict):
            value = from_dict(type(default), {**asdict(default), **value}, where=f"{where}.{key}".strip("."))
        elif isinstance(default, tuple) and isinstance(value, list):
            value = tuple(value)
        kwargs[key] = value
    return cls(**kwargs)


def merge(cfg: Any, overrides: dict[str, Any], *, where: str = "") -> Any:
    """``cfg`` with ``overrides`` (nested dicts) applied; returns a new dataclass."""
    return from_dict(type(cfg), _deep_merge(asdict(cfg), overrides), where=where)


def _deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _has_default(cls: type) -> bool:
    try:
        cls()
        return True
    except TypeError:
        return False
