"""Two-process DDP over gloo via torchrun: the image stage (video layers idle and frozen) and the video
stage both run without unused-parameter errors, with gradient accumulation."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")

from model_helpers import tiny_autoencoder_folder  # noqa: E402


def torchrun(args, cwd):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "kinetype", "train", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.timeout(400)
def test_two_process_gloo_ddp_runs_both_diffusion_stages(tmp_path):
    ae = tiny_autoencoder_folder(tmp_path / "vae")
    (tmp_path / "tiny.toml").write_text(
        "[data]\nnum_frames = 4\nbatch_size = 1\n\n[optim]\ngrad_accum_steps = 2\nlr_warmup = 0.5\n"
    )
    common = ["--preset", "tiny", "--shards", "synthetic", "--config", str(tmp_path / "tiny.toml"), "--max-steps", "2"]
    image = torchrun([*common, "--stage", "image", "--autoencoder", str(ae), "--out", str(tmp_path / "image")], tmp_path)
    assert image.returncode == 0, image.stderr[-3000:]
    video = torchrun([*common, "--stage", "video", "--init", str(tmp_path / "image" / "pipeline"),
                      "--out", str(tmp_path / "video")], tmp_path)
    assert video.returncode == 0, video.stderr[-3000:]
    state = json.loads((tmp_path / "video" / "checkpoints" / "step_00000002" / "state.json").read_text())
    assert state["world_size"] == 2 and state["seen_clips"] == 2 * 1 * 2 * 2  # steps x batch x accum x ranks
    assert len(state["rng"]) == 2  # one RNG state per rank
    assert (tmp_path / "video" / "pipeline" / "denoiser" / "model.safetensors").is_file()
