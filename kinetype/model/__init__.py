"""The model: autoencoder (frames <-> latents), caption encoders, space-time UNet, objective, losses.

Imports torch; the render side of kinetype never imports this package.
"""

from kinetype.model.autoencoder import Autoencoder
from kinetype.model.config import AutoencoderConfig, DenoiserConfig, ModelConfig, TextConfig
from kinetype.model.denoiser import Denoiser
from kinetype.model.network import KineTyNet

__all__ = [
    "Autoencoder",
    "AutoencoderConfig",
    "Denoiser",
    "DenoiserConfig",
    "KineTyNet",
    "ModelConfig",
    "TextConfig",
]
