"""The model folder: a diffusers-like pipeline, one sub-folder per component (config JSON + safetensors).

    MODEL/
        model_index.json          format, objective, stage, clip size/frames/fps, components
        autoencoder/              diffusers AutoencoderKL (config.json, diffusion_pytorch_model.safetensors)
        text_encoder/             byte encoder: config.json + model.safetensors;
                                  CLIP: transformers CLIPTextModel + tokenizer files
        denoiser/                 config.json + model.safetensors (the space-time UNet)

``model_index.json`` lists the SHA-256 of every weights file; loading checks them, and refuses
non-finite weights, each with one line. ``kinetype train`` exports one (``RUN/pipeline``, with EMA
weights); ``kinetype generate`` loads one, by default the bundled model next to the package.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np

from kinetype.model.errors import ModelError

FORMAT = "kinetype-pipeline"
# The bundled model lives beside the package (the repository's models/kinetype), so it is found
# from any working directory.
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "kinetype"
HOW_TO_GET_ONE = (
    "train one with `kinetype train` (it exports runs/kinetype/video/pipeline) "
    f"and pass --model RUN/pipeline, or put a pipeline folder at {DEFAULT_MODEL_DIR}/"
)


class Pipeline:
    """Autoencoder + caption encoder + denoiser, with what is needed to sample a clip."""

    def __init__(self, net, autoencoder, *, objective: str, stage: str, size_px: int, num_frames: int, fps: int):
        self.net, self.autoencoder = net, autoencoder
        self.objective, self.stage = objective, stage
        self.size_px, self.num_frames, self.fps = size_px, num_frames, fps

    @property
    def device(self):
        return next(self.autoencoder.parameters()).device

    def to(self, device) -> Pipeline:
        if self.net is not None:
            self.net.to(device)
        self.autoencoder.to(device)
        return self

    # -- folder format ---------------------------------------------------------------------------
    def save_pretrained(self, path: str | Path, dtype=None) -> Path:
        """Write the folder; ``dtype=torch.float16`` halves the bytes (loading computes in float32)."""
        import torch

        from kinetype.model.weights import digests, save_weights

        dtype = dtype or torch.float32
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.autoencoder.save(path / "autoencoder", dtype)
        components = ["autoencoder"]
        if self.net is not None:
            te = self.net.text_encoder
            (path / "text_encoder").mkdir(exist_ok=True)
            if self.net.cfg.text.kind == "clip":
                te.model.save_pretrained(str(path / "text_encoder"), safe_serialization=True)
                te.tokenizer.save_pretrained(str(path / "text_encoder"))
            else:
                _write_json(path / "text_encoder" / "config.json", asdict(self.net.cfg.text) | {"clip_path": None})
                save_weights(te.state_dict(), path / "text_encoder" / "model.safetensors", dtype)
            (path / "denoiser").mkdir(exist_ok=True)
            _write_json(path / "denoiser" / "config.json",
                        asdict(self.net.cfg.denoiser) | {"latent_channels": self.net.unet.latent_channels})
            save_weights(self.net.unet.state_dict(), path / "denoiser" / "model.safetensors", dtype)
            components += ["text_encoder", "denoiser"]
        _write_json(path / "model_index.json", {
            "format": FORMAT, "version": 1, "objective": self.objective, "stage": self.stage,
            "text_encoder": None if self.net is None else self.net.cfg.text.kind,
            "size_px": self.size_px, "num_frames": self.num_frames, "fps": self.fps, "components": components,
            "sha256": digests(path),
        })
        return path

    @classmethod
    def from_pretrained(cls, path: str | Path, *, device: str = "cpu", need_denoiser: bool = True) -> Pipeline:
        from kinetype.model import Autoencoder, KineTyNet
        from kinetype.model.weights import load_weights
        from kinetype.model.config import DenoiserConfig, ModelConfig, TextConfig, from_dict

        path = Path(path)
        index_file = path / "model_index.json"
        if not index_file.is_file():
            raise ModelError(f"no model at {path}: {HOW_TO_GET_ONE}")
        try:
            index = json.loads(index_file.read_text())
        except json.JSONDecodeError as e:
            raise ModelError(f"{index_file}: not valid JSON ({e})") from None
        if not isinstance(index, dict) or index.get("format") != FORMAT:
            raise ModelError(f"{index_file}: not a kinetype pipeline (format {index.get('format') if isinstance(index, dict) else None!r})")
        if "sha256" in index:  # older folders have none
            from kinetype.model.weights import verify_digests

            verify_digests(path, index["sha256"])
        autoencoder = Autoencoder.from_folder(path / "autoencoder")
        net = None
        if "denoiser" in index["components"]:
            text_dir = path / "text_encoder"
            if index.get("text_encoder") == "clip":
                text_cfg = TextConfig(kind="clip", clip_path=str(text_dir))
            else:
                text_cfg = from_dict(TextConfig, _read_json(text_dir / "config.json"), where=str(text_dir / "config.json"))
            den = _read_json(path / "denoiser" / "config.json")
            den.pop("latent_channels", None)
            den_cfg = from_dict(DenoiserConfig, den, where=str(path / "denoiser" / "config.json"))
            cfg = ModelConfig(autoencoder=autoencoder.cfg, text=text_cfg, denoiser=den_cfg, objective=index["objective"])
            net = KineTyNet(cfg)
            load_weights(net.unet, path / "denoiser" / "model.safetensors")
            if text_cfg.kind == "byte":
                load_weights(net.text_encoder, text_dir / "model.safetensors")
            net.eval()
        elif need_denoiser:
            raise ModelError(f"{path} holds only an autoencoder (stage {index.get('stage')}): "
                             "train the image and video stages with --init pointing at it")
        pipe = cls(net, autoencoder, objective=index["objective"], stage=index.get("stage", "video"),
                   size_px=int(index["size_px"]), num_frames=int(index["num_frames"]), fps=int(index["fps"]))
        autoencoder.eval()
        return pipe.to(device)

    # -- sampling --------------------------------------------------------------------------------
    def __call__(
        self,
        static: list[str],
        dynamic: list[str],
        word: list[str],
        glyph_masks: np.ndarray | None = None,  # (B, T, H, W) {0,1} at pixel resolution, or None
        *,
        num_frames: int | None = None,
        sampler: str = "dpm++",
        steps: int = 25,
        guidance: float = 3.0,
        seed: int = 0,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Frames (B, T, H, W, 3) uint8.  Same arguments and seed -> the same clip."""
        import torch

        from kinetype.model.autoencoder import resize_masks
        from kinetype.sample import sample_latents

        if self.net is None:
            raise ModelError("this model has no denoiser (autoencoder stage only)")
        frames = num_frames or self.num_frames
        if frames > self.net.cfg.denoiser.max_frames:
            raise ModelError(f"{frames} frames requested: this model handles at most {self.net.cfg.denoiser.max_frames}")
        b = len(static)
        f = self.autoencoder.factor
        lat = self.size_px // f
        shape = (b, frames, self.autoencoder.cfg.latent_channels, lat, lat)
        masks = None if glyph_masks is None else torch.as_tensor(np.asarray(glyph_masks), dtype=torch.float32)
        glyph = None
        if masks is not None and self.net.cfg.denoiser.glyph_channels:
            glyph = resize_masks(masks, (lat, lat))
        video = self.stage == "video"
        # bf16 on CUDA (the solver's arithmetic stays float32: outputs are cast back in sample_latents).
        autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda")
        with autocast:
            latents = sample_latents(
                self.net, shape, static, dynamic if video else None, word if video else None, glyph,
                objective=self.objective, sampler=sampler, steps=steps, guidance=guidance, seed=seed, progress=progress,
            )
            with torch.no_grad():
                # A glyph-aware decoder draws the letter edges from the full-resolution layout.
                x = self.autoencoder.decode(latents.to(self.device), None if masks is None else masks.to(self.device))
        if not bool(torch.isfinite(x).all()):  # would be written as a black clip
            raise ModelError("the model produced non-finite values (NaN or inf): its weights or the guidance are broken")
        return to_uint8(x)


def load_pipeline(model: str | Path | None = None) -> Pipeline:
    """The pipeline folder ``model`` (default: the bundled model) on the best device, or one line
    saying how to get one."""
    path = Path(model) if model else DEFAULT_MODEL_DIR
    if not (path / "model_index.json").is_file():
        raise ModelError(f"no model at {path}: {HOW_TO_GET_ONE}")
    import torch

    return Pipeline.from_pretrained(path, device="cuda" if torch.cuda.is_available() else "cpu")


def to_uint8(x) -> np.ndarray:
    """(B, T, 3, H, W) in [-1, 1] -> (B, T, H, W, 3) uint8."""
    x = ((x.float().clamp(-1, 1) + 1) * 127.5).round().byte()
    return x.permute(0, 1, 3, 4, 2).cpu().numpy()


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelError(f"{path}: missing") from None
    except json.JSONDecodeError as e:
        raise ModelError(f"{path}: not valid JSON ({e})") from None
