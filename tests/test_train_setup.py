"""Before the first step: the batch a GPU can hold, the learning rate that goes with it, the precision
a device computes in, and the model folder read through the one reader."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from kinetype.model.errors import TrainingError  # noqa: E402
from kinetype.train import setup  # noqa: E402
from kinetype.train.config import resolve  # noqa: E402


def test_the_largest_batch_that_fits_is_found_by_doubling():
    assert setup.largest_batch(lambda b: b <= 40, 8) == (32, [8, 16, 32, 64])
    assert setup.largest_batch(lambda b: True, 8, limit=64) == (64, [8, 16, 32, 64])
    assert setup.largest_batch(lambda b: False, 8) == (8, [8])  # the preset's batch is the floor


def test_the_learning_rate_scales_with_the_square_root_of_the_batch():
    assert setup.scaled_lr(2e-4, 32, 8) == pytest.approx(4e-4)
    assert setup.scaled_lr(2e-4, 8, 8) == 2e-4


def test_bf16_only_where_the_device_multiplies_it_natively(monkeypatch):
    cfg = resolve("tiny")
    monkeypatch.setattr(setup, "native_bf16", lambda device: False)
    assert "float32" in setup.device_setup(cfg, torch.device("cpu")).describe
    monkeypatch.setattr(setup, "native_bf16", lambda device: True)
    dev = setup.device_setup(cfg, torch.device("cpu"))
    assert "bf16" in dev.describe and not dev.compile and not dev.pin_memory  # compile "auto": CUDA only
    with dev.autocast():
        assert torch.nn.Linear(4, 4)(torch.randn(2, 4)).dtype == torch.bfloat16
    fp32 = resolve("tiny", overrides={"precision": "fp32"})
    assert "float32" in setup.device_setup(fp32, torch.device("cpu")).describe


def test_init_reads_the_model_folder_through_the_one_reader(tmp_path):
    from model_helpers import tiny_pipeline_folder

    folder = tiny_pipeline_folder(tmp_path / "model")
    cfg = setup.resolve_model(resolve("tiny", overrides={"stage": "video", "init": str(folder)}))
    assert cfg.model.autoencoder.path == str(folder / "autoencoder")
    den = json.loads((folder / "denoiser" / "config.json").read_text())
    assert list(cfg.model.denoiser.channels) == den["channels"]
    den["norm_groups"] = "eight"  # a damaged config: one line naming the file and the field
    (folder / "denoiser" / "config.json").write_text(json.dumps(den))
    with pytest.raises(TrainingError, match=r"denoiser/config.json: norm_groups: expected an integer") as e:
        setup.resolve_model(resolve("tiny", overrides={"stage": "video", "init": str(folder)}))
    assert "\n" not in str(e.value)
