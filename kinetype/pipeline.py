"""The model folder: a diffusers-like pipeline, one sub-folder per component (config JSON + safetensors).

    MODEL/
        model_index.json          format, objective, noise prior, stage, clip size/frames/fps, components, SHA-256s
        autoencoder/              kinetype's glyph autoencoder, or a diffusers AutoencoderKL folder
        text_encoder/             byte encoder: config.json + model.safetensors;
                                  CLIP: transformers CLIPTextModel + tokenizer files
        denoiser/                 config.json + model.safetensors
        interpolator/             optional: the keyframe interpolation model (kinetype.model.interpolation),
                                  config.json + model.safetensors; it makes (inbetweens + 1) x num_frames
                                  frames at (inbetweens + 1) x fps

:func:`read_model_folder` is the one reader of a folder's configs (``kinetype generate``, ``eval``
and ``train --init`` all go through it): it checks the index and every config whole, each problem
one line naming the file and the field, before any weights are read. ``model_index.json`` lists the
SHA-256 of every weights file, checked before loading; non-finite weights are refused too.
``kinetype train`` exports a folder (``RUN/pipeline``, EMA weights); ``kinetype generate`` loads one,
by default the bundled model next to the package.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from kinetype.errors import KinetypeError, random_seed, text_list
from kinetype.model import Autoencoder, KineTyNet
from kinetype.jsonfile import read_json_object
from kinetype.model.autoencoder import folder_config, resize_masks
from kinetype.model.config import DenoiserConfig, ModelConfig, NoiseConfig, TextConfig, check_types, from_dict, model_problem
from kinetype.model.errors import ModelError
from kinetype.model.denoiser import Denoiser
from kinetype.model.frames import Given, given
from kinetype.model.interpolation import join, neighbours, split_masks
from kinetype.model.glyph_vae import WEIGHTS as GLYPH_WEIGHTS
from kinetype.model.objective import OBJECTIVES
from kinetype.model.weights import check_header, digests, load_weights, save_weights, verify_digests, weight_files
from kinetype.render.settings import MAX_FPS, MAX_FRAMES, MAX_SIZE, MIN_SIZE, ClipSettings, check_frames
from kinetype.sample import sample_latents
from kinetype.sample.settings import SamplingSettings, check_mg_scale

FORMAT = "kinetype-pipeline"
# The bundled model ships inside the package (kinetype/assets/model; the checkout's models/kinetype
# links to it), so an installed kinetype finds it from any working directory.
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "assets" / "model"
HOW_TO_GET_ONE = (
    "train one with `kinetype train` (it exports runs/kinetype/video/pipeline) "
    f"and pass --model RUN/pipeline, or put a pipeline folder at {DEFAULT_MODEL_DIR}/"
)
VERSION = 1  # of the folder format; a folder of a later version is refused, not misread
STAGES = ("autoencoder", "image", "video")
TEXT_ENCODERS = ("byte", "clip")
CLIP_MODEL_TYPES = ("clip_text_model", "clip")  # transformers' CLIPTextConfig, CLIPConfig
# Component of a model setting -> its folder; the glyph autoencoder's config.json names two fields
# its own way. Weights files each component reads (any other *.safetensors is refused).
COMPONENT_DIRS = {"autoencoder": "autoencoder", "text": "text_encoder", "denoiser": "denoiser",
                  "interpolator": "interpolator"}
GLYPH_NAMES = {"block_out_channels": "channels", "norm_num_groups": "norm_groups"}
KL_WEIGHTS = "diffusion_pytorch_model.safetensors"  # diffusers' name


@dataclass(frozen=True)
class ModelFolder:
    """What a pipeline folder says, checked: the model's config and the clips it makes."""

    path: Path
    model: Any  # kinetype.model.config.ModelConfig; its denoiser and text are defaults for an autoencoder-only folder
    has_denoiser: bool
    stage: str
    size_px: int
    num_frames: int
    fps: int
    interpolator: DenoiserConfig | None = None  # the keyframe interpolation model's, where the folder has one

    @property
    def interpolated_frames(self) -> int | None:
        """The frames of an interpolated clip, (inbetweens + 1) x num_frames; None without an interpolator."""
        return None if self.interpolator is None else (self.interpolator.inbetweens + 1) * self.num_frames

    def clip(self, frames: int | None = None, fps: int | None = None) -> ClipSettings:
        """The clips this model makes: its size, with ``frames`` and ``fps`` where given (else its
        own). Frames beyond what its denoiser holds are refused in one line naming ``--frames``:
        read from the configs alone, before any weights are loaded or anything is rendered. With an
        interpolator, its frame count is made by interpolation, played n + 1 times faster."""
        if frames is not None and frames == self.interpolated_frames:
            rate = self.fps * (self.interpolator.inbetweens + 1)
            return ClipSettings(self.size_px, frames, rate if fps is None else fps)
        if frames is not None:
            also = f"; or {self.interpolated_frames} by interpolation" if self.interpolator is not None else ""
            check_frames(frames, "--frames", most=self.model.denoiser.max_frames, why=f"the most this model makes{also}")
        return ClipSettings(self.size_px, self.num_frames if frames is None else frames,
                            self.fps if fps is None else fps)


def read_model_folder(path: str | Path) -> ModelFolder:
    """Read and check ``path/model_index.json`` and every component's config (no weights are loaded,
    their SHA-256s are verified). Raises one-line :class:`ModelError`s naming the file and field."""
    path = Path(path)
    index_file = path / "model_index.json"
    if not index_file.exists() and not index_file.is_symlink():
        raise ModelError(f"no model at {path}: {HOW_TO_GET_ONE}")
    index = read_json_object(index_file, ModelError)
    if index.get("format") != FORMAT:
        raise ModelError(f"{index_file}: not a kinetype pipeline (format {index.get('format')!r})")

    def field(name: str, ok: Callable[[Any], bool], rule: str) -> Any:
        value = index.get(name)
        if not ok(value):
            raise ModelError(f"{index_file}: {name} must be {rule} (got {value!r})")
        return value

    def whole(lo: int, hi: int) -> Callable[[Any], bool]:
        return lambda v: isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi

    if "version" in index:
        field("version", whole(1, VERSION), f"{VERSION} (this kinetype reads folders of format version {VERSION}; "
                                             "a newer kinetype wrote this one)")
    objective = field("objective", lambda v: v in OBJECTIVES, f"one of {', '.join(OBJECTIVES)}")
    stage = field("stage", lambda v: v in STAGES, f"one of {', '.join(STAGES)}") if "stage" in index else "video"
    size_px = field("size_px", whole(MIN_SIZE, MAX_SIZE), f"an integer between {MIN_SIZE} and {MAX_SIZE}")
    num_frames = field("num_frames", whole(1, MAX_FRAMES), f"an integer between 1 and {MAX_FRAMES}")
    fps = field("fps", whole(1, MAX_FPS), f"an integer between 1 and {MAX_FPS}")
    components = _components(field("components", lambda v: isinstance(v, list) and all(isinstance(c, str) for c in v)
                                   and "autoencoder" in v, "a list of component names that includes 'autoencoder'"),
                             index_file)
    has_denoiser = "denoiser" in components
    text_kind = field("text_encoder", lambda v: v in TEXT_ENCODERS if has_denoiser else v is None,
                      f"one of {', '.join(map(repr, TEXT_ENCODERS))}" if has_denoiser
                      else "null (the folder has no denoiser)") if has_denoiser or "text_encoder" in index else None
    # Every weights file listed and checked: a folder without the table could load any bytes.
    recorded = field("sha256", lambda v: isinstance(v, dict) and all(isinstance(k, str) and _is_digest(d)
                                                                     for k, d in v.items()),
                     "a table of file -> SHA-256 (64 hex digits) of every weights file (re-export the folder to "
                     "record them)")
    for rel in recorded:
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise ModelError(f"{index_file}: sha256 lists {rel!r}, outside the folder: only the folder's own "
                             "weights files are listed")
    verify_digests(path, recorded)

    autoencoder = folder_config(path / "autoencoder")
    text, denoiser = TextConfig(), DenoiserConfig()
    if has_denoiser:
        text = _text_config(path / "text_encoder", text_kind, index_file)
        denoiser_file = path / "denoiser" / "config.json"
        raw = read_json_object(denoiser_file, ModelError)
        derived = {"latent_channels": autoencoder.latent_channels, "context_dim": text.width if text_kind == "byte" else None}
        for key, want in derived.items():  # written for readers; they must agree with what builds the model
            got = raw.pop(key, want)
            if want is not None and got != want:
                raise ModelError(f"{denoiser_file}: {key} must be {want} (what the {'autoencoder' if key == 'latent_channels' else 'text encoder'} "
                                 f"gives), got {got!r}")
        denoiser = _config(DenoiserConfig, denoiser_file, raw)
    interpolator = None
    if "interpolator" in components:
        interpolator = _interpolator_config(path / "interpolator" / "config.json", autoencoder, text, text_kind)
    model = ModelConfig(autoencoder=autoencoder, text=text, denoiser=denoiser, objective=objective,
                        noise=_noise_prior(index, index_file))
    try:
        check_types(model)
    except KinetypeError as e:
        raise ModelError(f"{path}: {e}") from None
    if problem := model_problem(model):
        component, _, name = problem.field.partition(".")
        if component == "autoencoder" and autoencoder.kind == "glyph":
            name = GLYPH_NAMES.get(name, name)
        file = path / COMPONENT_DIRS[component] / "config.json"
        raise ModelError(f"{file}: {name} must be {problem.rule} (got {problem.value!r})")
    if has_denoiser and num_frames > denoiser.max_frames:
        raise ModelError(f"{index_file}: num_frames must be at most the denoiser's max_frames ({denoiser.max_frames}), "
                         f"got {num_frames}")
    factor = autoencoder.downsample_factor * (2 ** (len(denoiser.channels) - 1) if has_denoiser else 1)
    if size_px % factor:
        raise ModelError(f"{index_file}: size_px must be a multiple of {factor} (the autoencoder's and the "
                         f"denoiser's downsampling), got {size_px}")
    if interpolator is not None and (interpolator.inbetweens + 1) * num_frames > MAX_FRAMES:
        raise ModelError(f"{path / 'interpolator' / 'config.json'}: inbetweens must be at most "
                         f"{MAX_FRAMES // num_frames - 1} ((inbetweens + 1) x num_frames frames at most {MAX_FRAMES}), "
                         f"got {interpolator.inbetweens}")
    folder = ModelFolder(path, model, has_denoiser, stage, size_px, num_frames, fps, interpolator)
    check_weight_shapes(folder)
    return folder


def _components(names: list[str], index_file: Path) -> list[str]:
    """The index's component list: known names, each once, the denoiser with its text encoder."""
    for name in names:
        if name not in COMPONENT_DIRS.values():
            raise ModelError(f"{index_file}: components lists {name!r}, not a component of a kinetype pipeline "
                             f"(known: {', '.join(COMPONENT_DIRS.values())})")
        if names.count(name) > 1:
            raise ModelError(f"{index_file}: components lists {name!r} twice")
    if ("denoiser" in names) != ("text_encoder" in names):
        raise ModelError(f"{index_file}: components must list denoiser and text_encoder together (got {names!r})")
    if "interpolator" in names and "denoiser" not in names:
        raise ModelError(f"{index_file}: components lists interpolator without the denoiser that makes its keyframes")
    return names


def _interpolator_config(file: Path, autoencoder, text: TextConfig, text_kind: str) -> DenoiserConfig:
    """The interpolation model's config, checked by the model's rules and named as its file."""
    raw = read_json_object(file, ModelError)
    for key, want in (("latent_channels", autoencoder.latent_channels),
                      ("context_dim", text.width if text_kind == "byte" else None)):
        got = raw.pop(key, want)
        if want is not None and got != want:
            raise ModelError(f"{file}: {key} must be {want} (what the other components give), got {got!r}")
    cfg = _config(DenoiserConfig, file, raw)
    if cfg.inbetweens < 1:
        raise ModelError(f"{file}: inbetweens must be at least 1 (the frames it makes between two keyframes), "
                         f"got {cfg.inbetweens!r}")
    if problem := model_problem(ModelConfig(autoencoder=autoencoder, text=text, denoiser=cfg)):
        raise ModelError(f"{file}: {problem.field.partition('.')[2]} must be {problem.rule} (got {problem.value!r})")
    return cfg


def _text_config(text_dir: Path, kind: str, index_file: Path) -> TextConfig:
    """The caption encoder's config: kinetype's byte encoder, or a transformers CLIP text model."""
    file = text_dir / "config.json"
    raw = read_json_object(file, ModelError)
    if kind == "clip":
        if raw.get("model_type") not in CLIP_MODEL_TYPES:
            raise ModelError(f"{index_file}: text_encoder is 'clip' but {file} is not a CLIP text model's config "
                             f"(model_type {raw.get('model_type')!r})")
        return TextConfig(kind="clip", clip_path=str(text_dir))
    if raw.get("kind", "byte") != "byte":
        raise ModelError(f"{file}: kind must be 'byte', as model_index.json's text_encoder says (got {raw.get('kind')!r})")
    text = _config(TextConfig, file, raw)
    text.clip_path = None
    return text


def _is_digest(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def check_weight_shapes(folder: ModelFolder) -> None:
    """Compare every weights file's header (dtypes, names, shapes, data length) with the modules the
    configs build, built on the meta device (no memory, no weights): a mismatch is one line naming
    the tensor, before any real model is built. A weights file the model does not read is refused."""
    m = folder.model
    expected: dict[Path, dict[str, tuple[int, ...]] | None] = {}
    try:
        with torch.device("meta"):
            ae = Autoencoder(m.autoencoder)
            name = GLYPH_WEIGHTS if m.autoencoder.kind == "glyph" else KL_WEIGHTS
            expected[folder.path / "autoencoder" / name] = _shapes(ae.vae)
            if folder.has_denoiser:
                if m.text.kind == "byte":
                    net = KineTyNet(m)
                    expected[folder.path / "text_encoder" / "model.safetensors"] = _shapes(net.text_encoder)
                    expected[folder.path / "denoiser" / "model.safetensors"] = _shapes(net.denoiser)
                    if folder.interpolator is not None:
                        expected[folder.path / "interpolator" / "model.safetensors"] = _shapes(
                            Denoiser(folder.interpolator, m.autoencoder.latent_channels, net.text_encoder.dim))
                else:  # CLIP's own files (shapes are the transformers config's); the denoiser's width is CLIP's
                    expected.update({f: None for f in weight_files(folder.path / "text_encoder")})
                    expected[folder.path / "denoiser" / "model.safetensors"] = None
                    if folder.interpolator is not None:
                        expected[folder.path / "interpolator" / "model.safetensors"] = None
    except (ValueError, RuntimeError, TypeError, IndexError, ZeroDivisionError) as e:  # a config torch cannot build
        raise ModelError(f"{folder.path}: the configs do not build a model ({' '.join(str(e).split())[:160]})") from None
    for file in weight_files(folder.path):
        if file not in expected:
            raise ModelError(f"{file}: not a weights file of this model (it reads "
                             f"{', '.join(str(f.relative_to(folder.path)) for f in expected)}): remove it")
    for file, shapes in expected.items():
        check_header(file, shapes)


def _shapes(module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


# Frames a loop is sampled past its end, tied to its first ones (kinetype.sample.replacement.tied).
# With one, the step back into frame 0 is a step into the sampled clip's edge frame; with two it is
# a step inside it, and the seam closed a little more (docs/model.md, "Loops": 1.29 against 1.32).
LOOP_OVERLAP = 2
# How hard a loop's seam is smoothed near noise (kinetype.sample.replacement.seam_smoothed): 1 puts
# the frames either side of it onto their neighbours' mean at pure noise. Measured on the bundled
# model (docs/model.md, "Loops"): the seam from 1.09 to 0.61 of the median step, legibility as before.
LOOP_SEAM = 1.0


class Pipeline:
    """Autoencoder + caption encoder + denoiser, with what is needed to sample a clip."""

    def __init__(self, net, autoencoder, *, objective: str, stage: str, size_px: int, num_frames: int, fps: int,
                 noise: NoiseConfig | None = None):
        self.net, self.autoencoder = net, autoencoder
        self.objective, self.stage = objective, stage
        self.noise = noise or NoiseConfig()  # the prior it was trained with (kinetype.model.noise)
        self.size_px, self.num_frames, self.fps = size_px, num_frames, fps
        self.denoise_fn = None  # a compiled net.denoise (compile())

    def compile(self, **options) -> Pipeline:
        """Sample through ``torch.compile(net.denoise)``: every step of every clip of one size and
        batch reuses one trace (captions arrive encoded, times as tensors). Pays when many clips
        are sampled on a GPU; the first call traces and compiles."""
        self.denoise_fn = torch.compile(self.net.denoise, dynamic=False, **options)
        return self

    @property
    def device(self):
        return next(self.autoencoder.parameters()).device

    @property
    def interpolated_frames(self) -> int | None:
        """The frames of an interpolated clip, (inbetweens + 1) x num_frames; None without an interpolator."""
        inter = None if self.net is None else self.net.interpolator
        return None if inter is None else (inter.cfg.inbetweens + 1) * self.num_frames

    def to(self, device) -> Pipeline:
        if self.net is not None:
            self.net.to(device)
        self.autoencoder.to(device)
        return self

    # -- folder format ---------------------------------------------------------------------------
    def save_pretrained(self, path: str | Path, dtype=None) -> Path:
        """Write the folder; ``dtype=torch.float16`` halves the bytes (loading computes in float32)."""
        dtype = dtype or torch.float32
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.autoencoder.save(path / "autoencoder", dtype)
        components = ["autoencoder"]
        if self.net is not None:
            te, den = self.net.text_encoder, self.net.denoiser
            (path / "text_encoder").mkdir(exist_ok=True)
            if self.net.cfg.text.kind == "clip":
                te.model.save_pretrained(str(path / "text_encoder"), safe_serialization=True)
                te.hf_tokenizer.save_pretrained(str(path / "text_encoder"))
            else:
                _write_json(path / "text_encoder" / "config.json", asdict(self.net.cfg.text) | {"clip_path": None})
                save_weights(te.state_dict(), path / "text_encoder" / "model.safetensors", dtype)
            (path / "denoiser").mkdir(exist_ok=True)
            _write_json(path / "denoiser" / "config.json",
                        asdict(self.net.cfg.denoiser) | {"latent_channels": den.latent_channels, "context_dim": den.context_dim})
            save_weights(den.state_dict(), path / "denoiser" / "model.safetensors", dtype)
            components += ["text_encoder", "denoiser"]
            if (inter := self.net.interpolator) is not None:
                (path / "interpolator").mkdir(exist_ok=True)
                _write_json(path / "interpolator" / "config.json",
                            asdict(inter.cfg) | {"latent_channels": inter.latent_channels, "context_dim": inter.context_dim})
                save_weights(inter.state_dict(), path / "interpolator" / "model.safetensors", dtype)
                components.append("interpolator")
        _write_json(path / "model_index.json", {
            "format": FORMAT, "version": 1, "objective": self.objective, "noise": asdict(self.noise), "stage": self.stage,
            "text_encoder": None if self.net is None else self.net.cfg.text.kind,
            "size_px": self.size_px, "num_frames": self.num_frames, "fps": self.fps, "components": components,
            "sha256": digests(path),
        })
        return path

    @classmethod
    def from_pretrained(cls, path: str | Path, *, device: str = "cpu", need_denoiser: bool = True) -> Pipeline:
        return cls.from_folder(read_model_folder(path), device=device, need_denoiser=need_denoiser)

    @classmethod
    def from_folder(cls, folder: ModelFolder, *, device: str = "cpu", need_denoiser: bool = True) -> Pipeline:
        """The pipeline of a folder already read and checked by :func:`read_model_folder`, with its weights."""
        if need_denoiser and not folder.has_denoiser:
            raise ModelError(f"{folder.path} holds only an autoencoder (stage {folder.stage}): "
                             "train the image and video stages with --init pointing at it")
        autoencoder = Autoencoder.from_folder(folder.path / "autoencoder")
        net = load_network(folder) if folder.has_denoiser else None
        pipe = cls(net, autoencoder.eval(), objective=folder.model.objective, noise=folder.model.noise, stage=folder.stage,
                   size_px=folder.size_px, num_frames=folder.num_frames, fps=folder.fps)
        return pipe.to(device)

    # -- sampling --------------------------------------------------------------------------------
    def __call__(
        self,
        static: list[str],
        dynamic: list[str],
        word: list[str],
        glyph_masks: np.ndarray | None = None,  # (B, T, H, W) {0,1} at pixel resolution, or None
        *,
        num_frames: int | None = None,  # None: the model's
        sampler: str = SamplingSettings.sampler,
        steps: int = SamplingSettings.steps,
        guidance: float = SamplingSettings.guidance,
        seed: int = 0,
        progress: Callable[[int], None] | None = None,
        mg: float | None = None,  # mitigating-gradient scale, 0 = off; None: kinetype.sample.settings.MG_SCALE_DEFAULT
        first: np.ndarray | None = None,  # (B, H, W, 3) uint8: the design the clip starts from (animate)
        last: np.ndarray | None = None,  # (B, H, W, 3) uint8: the design it ends on (in-betweens)
        loop: bool = False,  # the last frame leads back into the first
        interpolate: bool = True,  # with an interpolator, make its frame count from keyframes (False: directly)
        pin: bool = True,  # given frames (first, last, loop) pinned while sampling (kinetype.sample.replacement)
    ) -> np.ndarray:
        """Frames (B, T, H, W, 3) uint8.  Same arguments and seed -> the same clip.

        ``first`` / ``last`` are given frames, encoded with the glyph layout of their own frame:
        ``pin`` keeps them exactly where they are given while the other frames are sampled
        (:mod:`kinetype.sample.replacement`, any model), and a model trained with given frames
        (:mod:`kinetype.model.frames`) also takes them as input planes (``pin=False``: that alone).
        ``loop``: :data:`LOOP_OVERLAP` frames more are sampled after the last and dropped, so the last
        frame leads into the first: they are the first ones again, tied to them at every step
        (:func:`kinetype.sample.replacement.tied`), with ``first`` the design given at 0 and T too,
        and the seam smoothed near noise (:data:`LOOP_SEAM`).
        With ``pin=False`` and no ``first``, the clip is sampled, then sampled again from the same
        seed with its own first frame given at both ends as input planes (twice the time).

        With an interpolator and ``num_frames`` = (n + 1) x the model's frames, the denoiser makes the
        keyframes (every (n + 1)-th frame, with the glyph layout of those frames) and the interpolator
        the n frames after each (:mod:`kinetype.model.interpolation`); ``loop`` then closes the last
        gap onto the first keyframe, for any model. ``progress`` counts the steps of both passes."""
        if self.net is None:
            raise ModelError("this model has no denoiser (autoencoder stage only)")
        # The arguments, by the rules the CLI applies to its options, before any noise is drawn.
        b = len(text_list("static", static))
        text_list("dynamic", dynamic, b)
        text_list("word", word, b)
        SamplingSettings(sampler, steps, guidance)
        if mg is not None:
            check_mg_scale(mg, "mg")
        random_seed(seed, "seed")
        inter = self.net.interpolator
        n = 0 if inter is None else inter.cfg.inbetweens
        interp = interpolate and num_frames is not None and num_frames == self.interpolated_frames
        frames = num_frames if interp else check_frames(self.num_frames if num_frames is None else num_frames,
                                                        "num_frames", most=self.net.cfg.denoiser.max_frames)
        if interp and last is not None:
            raise KinetypeError(f"last: in-betweening two designs is made at the model's own {self.num_frames} frames, "
                                f"not by interpolation to {frames}")
        masks = None
        if glyph_masks is not None:
            masks = np.asarray(glyph_masks)
            want = (b, frames, self.size_px, self.size_px)
            if masks.shape != want or not (np.issubdtype(masks.dtype, np.number) or masks.dtype == bool):
                raise KinetypeError(f"glyph_masks must be numbers of shape (clips, frames, height, width) = {want}, "
                                    f"got {masks.dtype} {masks.shape}")
            masks = torch.as_tensor(masks, dtype=torch.float32)
        # A loop sampled directly goes on past frame T-1 into its first frames again, T + j being j
        # (tied to it, and a design given at 0 and T), with their glyph layouts; the clip is frames
        # 0..T-1, so its last frame steps into its first as any frame into the next. The planes alone
        # (pin=False) close on one frame, the first given again, as such a model was trained.
        ring = loop and not interp
        past = (LOOP_OVERLAP if pin else 1) if ring else 0  # frames sampled past the clip's end
        if ring and frames + past > self.net.cfg.denoiser.max_frames:
            raise KinetypeError(f"loop: a loop samples {past} frame{'s' * (past > 1)} past its last, so at most "
                                f"{self.net.cfg.denoiser.max_frames - past} frames (got {frames})")
        designs = self._designs(first, last, ring, b, pin)
        lat, c = self.size_px // self.autoencoder.factor, self.autoencoder.cfg.latent_channels
        keys = frames // (n + 1) if interp else frames + past  # latent frames the denoiser samples
        sampled = None if masks is None else torch.cat([masks, masks[:, :past]], 1)  # (B, T + past, H, W)
        glyph = gap_glyph = None
        if masks is not None and self.net.cfg.denoiser.glyph_channels:
            glyph = resize_masks(sampled, (lat, lat))
            if interp:
                glyph, gap_glyph = split_masks(glyph, n)  # (B, K, h, w), (B, K, n, h, w)
        key_masks = None if masks is None else masks[:, :: n + 1] if interp else sampled
        video = self.stage == "video"
        # bf16 on CUDA (the solver's arithmetic stays float32: outputs are cast back in sample_latents).
        autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda")
        with autocast:
            def run(cond: Given | None) -> torch.Tensor:  # (B, K, C, h, w): all frames, or the keyframes
                return sample_latents(
                    self.net, (b, keys, c, lat, lat), static, dynamic if video else None, word if video else None,
                    glyph, objective=self.objective, sampler=sampler, steps=steps, guidance=guidance, seed=seed,
                    progress=progress, denoise_fn=self.denoise_fn, mg=mg, noise=self.noise, given=cond, replace=pin,
                    tie=past if pin else 0, seam=LOOP_SEAM,
                )

            cond = None if designs is None else self._given(designs, key_masks, frames + ring, ring, keys)
            if ring and designs is None and not pin:  # the planes alone: the clip's own first frame, given
                cond = given(run(None)[:, 0], "ends", keys)
            latents = run(cond)
            if ring:
                latents = latents[:, :frames]  # frame T, the first again, was there to be led into
            if interp:  # the n frames after each keyframe; MG is the keyframes' (their gaps are not frames)
                gaps = sample_latents(
                    self.net, (b, keys, n * c, lat, lat), static, dynamic, word, gap_glyph,
                    objective=self.objective, sampler=sampler, steps=steps, guidance=guidance, seed=seed,
                    progress=progress, mg=0.0, noise=self.noise, given=neighbours(latents, loop), interpolate=True,
                )
                latents = join(latents, gaps, n)  # (B, (n + 1) K, C, h, w)
            with torch.no_grad():
                # A glyph-aware decoder draws the letter edges from the full-resolution layout. One
                # frame at a time: a frame's pixels then depend on its latent and layout alone, not on
                # how many frames share the call (batched convolutions round differently by batch
                # size), so a clip's keyframes are the keyframe model's own clip, byte for byte.
                x = torch.cat([self.autoencoder.decode(latents[:, i:i + 1],
                                                       None if masks is None else masks[:, i:i + 1].to(self.device))
                               for i in range(latents.shape[1])], 1)  # (B, T, 3, H, W)
        if not bool(torch.isfinite(x).all()):  # would be written as a black clip
            raise ModelError("the model produced non-finite values (NaN or inf): its weights or the guidance are broken")
        return to_uint8(x)


    def _designs(self, first, last, loop: bool, b: int, pin: bool) -> list[torch.Tensor] | None:
        """The given designs checked, as (B, 1, 3, H, W) in [-1, 1]: [first] or [first, last]."""
        if last is not None and first is None:
            raise KinetypeError("last needs first: the design the clip starts from")
        if last is not None and loop:
            raise KinetypeError("give last or loop, not both: a loop ends on the first design")
        if (first is not None or loop) and not pin and not self.net.cfg.denoiser.given_frames:
            raise ModelError("pin=False: this model was not trained with given frames, so they reach it only pinned")
        if first is None:
            return None
        out = []
        for name, image in (("first", first), ("last", last)):
            if image is None:
                continue
            a = np.asarray(image)
            want = (b, self.size_px, self.size_px, 3)
            if a.shape != want or a.dtype != np.uint8:
                raise KinetypeError(f"{name} must be uint8 RGB of shape (clips, height, width, 3) = {want}, "
                                    f"got {a.dtype} {a.shape}")
            out.append(torch.tensor(a).permute(0, 3, 1, 2)[:, None].float().div(127.5).sub(1.0))
        return out

    @torch.no_grad()
    def _given(self, designs: list[torch.Tensor], masks: torch.Tensor | None, frames: int, loop: bool,
               keys: int) -> Given:
        """The designs' latents as given frames of a clip of ``frames`` (a loop's: its first again
        last), each encoded with its own frame's glyph layout, padded with frames not given to ``keys``."""
        def encode(image, frame):
            mask = None if masks is None else masks[:, frame:frame + 1].to(self.device)
            return self.autoencoder.encode(image.to(self.device), mask)[:, 0]  # (B, C, h, w)

        start = encode(designs[0], 0)
        if len(designs) == 1 and not loop:
            cond = given(start, "first", frames)
        else:
            cond = given(start, "ends", frames, None if loop else encode(designs[1], frames - 1))
        pad = keys - frames  # a loop's frames past T: tied to its first, not given
        return Given(torch.cat([cond.latents, cond.latents.new_zeros(cond.latents.shape[0], pad, *cond.latents.shape[2:])], 1),
                     torch.cat([cond.flags, cond.flags.new_zeros(cond.flags.shape[0], pad)], 1))


def load_network(folder: ModelFolder):
    """The caption encoder and denoiser of a checked folder, with its weights (float32)."""
    net = KineTyNet(folder.model)
    load_weights(net.denoiser, folder.path / "denoiser" / "model.safetensors")
    if folder.interpolator is not None:
        net.interpolator = Denoiser(folder.interpolator, net.denoiser.latent_channels, net.denoiser.context_dim)
        load_weights(net.interpolator, folder.path / "interpolator" / "model.safetensors")
    if folder.model.text.kind == "byte":
        load_weights(net.text_encoder, folder.path / "text_encoder" / "model.safetensors")
    return net.eval()


def model_path(model: str | Path | None = None) -> Path:
    """The pipeline folder ``model`` names (default: the bundled model)."""
    if model is not None and not isinstance(model, (str, Path)):
        raise KinetypeError(f"model must be a folder path (str or Path), got {type(model).__name__}")
    return Path(model) if model else DEFAULT_MODEL_DIR


def load_pipeline(model: str | Path | ModelFolder | None = None, *, need_denoiser: bool = True) -> Pipeline:
    """The pipeline folder ``model`` (default: the bundled model; or a folder already read) on the
    best device, or one line saying how to get one. ``need_denoiser`` False: an autoencoder-stage
    folder will do."""
    folder = model if isinstance(model, ModelFolder) else read_model_folder(model_path(model))
    return Pipeline.from_folder(folder, device="cuda" if torch.cuda.is_available() else "cpu", need_denoiser=need_denoiser)


def to_uint8(x) -> np.ndarray:
    """(B, T, 3, H, W) in [-1, 1] -> (B, T, H, W, 3) uint8."""
    x = ((x.float().clamp(-1, 1) + 1) * 127.5).round().byte()
    return x.permute(0, 1, 3, 4, 2).cpu().numpy()


def _config(cls: type, file: Path, raw: dict):
    try:
        return check_types(from_dict(cls, raw, where=str(file)))
    except KinetypeError as e:
        msg = str(e)
        raise ModelError(msg if msg.startswith(str(file)) else f"{file}: {msg}") from None


def _noise_prior(index: dict, index_file: Path) -> NoiseConfig:
    """The index's ``noise`` table; a folder without one was trained on independent noise."""
    raw = index.get("noise", {})
    if not isinstance(raw, dict):
        raise ModelError(f"{index_file}: noise must be a table of kind and correlation (got {raw!r})")
    try:
        prior = check_types(from_dict(NoiseConfig, raw, where=f"{index_file}: noise"))
    except KinetypeError as e:
        raise ModelError(str(e) if str(e).startswith(str(index_file)) else f"{index_file}: noise.{e}") from None
    if problem := prior.problem():
        raise ModelError(f"{index_file}: noise.{problem}")
    return prior


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")
