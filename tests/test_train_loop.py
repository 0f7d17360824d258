"""The training loop on the CPU: overfitting one clip, exact resume, stage chaining, failures."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from kinetype.model.errors import TrainingError  # noqa: E402
from model_helpers import tiny_autoencoder_folder  # noqa: E402
from kinetype.train import loop, setup  # noqa: E402
from kinetype.train.config import resolve  # noqa: E402

torch.set_num_threads(1)



@pytest.fixture(scope="module")
def ae_dir(tmp_path_factory):
    return tiny_autoencoder_folder(tmp_path_factory.mktemp("ae") / "vae")


def tiny(out, ae_dir, **over):
    base = {"stage": "video", "out": str(out), "data": {"shards": "synthetic", "num_frames": 4, "batch_size": 1},
            "optim": {"max_steps": 6, "lr_warmup": 0.3}, "model": {"autoencoder": {"path": str(ae_dir)}},
            "checkpoint_every": 2, "sample_every": 0}
    for k, v in over.items():
        if isinstance(v, dict):
            base.setdefault(k, {}).update(v)
        else:
            base[k] = v
    return resolve("tiny", overrides=base)


def losses(run):
    out = {}
    for line in open(run / "metrics.jsonl"):
        rec = json.loads(line)
        out[rec["step"]] = rec["loss"]  # a resumed run rewrites its steps after the checkpoint
    return out


def test_tiny_overfits_one_clip(tmp_path, ae_dir):
    cfg = tiny(tmp_path / "run", ae_dir, data={"shards": "synthetic:1"}, loss={"glyph_weight": 0.0},
               optim={"max_steps": 80, "lr": 2e-3, "lr_warmup": 0.125}, checkpoint_every=1000)
    loop.train(cfg, echo=lambda s: None)
    denoise = [json.loads(line)["denoise"] for line in open(tmp_path / "run" / "metrics.jsonl")]
    first, last = np.mean(denoise[:20]), np.mean(denoise[-20:])
    assert last < 0.4 * first, (first, last)


def test_resume_gives_the_losses_of_an_uninterrupted_run(tmp_path, ae_dir):
    straight = tiny(tmp_path / "straight", ae_dir, loss={"motion_weight": 0.1})
    loop.train(straight, echo=lambda s: None)

    broken = tiny(tmp_path / "broken", ae_dir, loss={"motion_weight": 0.1})
    loop.train(broken, stop_at_step=5, echo=lambda s: None)  # "killed" after step 5; last checkpoint: step 4
    ckpts = sorted(p.name for p in (tmp_path / "broken" / "checkpoints").iterdir())
    assert ckpts == ["step_00000002", "step_00000004"]
    messages = []
    loop.train(broken, resume=True, echo=messages.append)
    assert any("resumed" in m and "step 4" in m for m in messages)

    a, b = losses(tmp_path / "straight"), losses(tmp_path / "broken")
    assert sorted(a) == sorted(b) == [1, 2, 3, 4, 5, 6]
    assert [a[s] for s in a] == [b[s] for s in a]  # exactly equal on the CPU
    # Only the last K checkpoints are kept, none half-written; the pipeline is exported.
    assert sorted(p.name for p in (tmp_path / "broken" / "checkpoints").iterdir()) == [
        "step_00000002", "step_00000004", "step_00000006"]
    assert (tmp_path / "broken" / "pipeline" / "model_index.json").is_file()
    assert json.loads((tmp_path / "broken" / "config.json").read_text())["stage"] == "video"


def test_image_stage_then_video_stage_starts_exactly_as_the_image_model(tmp_path, ae_dir):
    image = tiny(tmp_path / "image", ae_dir, stage="image", optim={"max_steps": 3})
    exported = loop.train(image, echo=lambda s: None)
    video = setup.resolve_model(tiny(tmp_path / "video", ae_dir, init=str(exported)))
    _, net = setup.build_models(video)
    net.eval()
    x, t = torch.randn(1, 4, 4, 8, 8), torch.tensor([0.4])
    glyph = torch.rand(1, 4, 8, 8)
    with torch.no_grad():
        as_image = net(x, t, net.tokenize(["red on blue"]), glyph=glyph)
        as_video = net(x, t, net.tokenize(["red on blue"]), net.tokenize(["letters drop in"]), net.tokenize(["H^|i"]),
                       glyph=glyph)
    assert torch.equal(as_image, as_video)
    # The image stage trained the image layers and left the video layers untouched.
    from kinetype.pipeline import Pipeline

    assert Pipeline.from_pretrained(exported).net.denoiser.mid[0].temporal.proj_out.weight.abs().sum() == 0


def test_non_finite_steps_are_skipped_on_the_device_then_stop_the_run(tmp_path, ae_dir, monkeypatch):
    """A non-finite step leaves weights and optimiser moments as they were; the skips are read back
    with the metrics at logging steps, and a run with too many in a row stops there."""
    real_prepare = loop.prepare
    poison = {"steps": set()}
    calls = {"n": 0}

    def poisoned(batch, size_px, device):
        calls["n"] += 1
        out = real_prepare(batch, size_px, device)
        return {**out, "video": out["video"] * float("nan")} if calls["n"] in poison["steps"] else out

    monkeypatch.setattr(loop, "prepare", poisoned)
    # Steps 3 and 4 of 6 (one micro-batch each) are poisoned: skipped, and the run goes on.
    poison["steps"] = {3, 4}
    messages = []
    loop.train(tiny(tmp_path / "some", ae_dir, log_every=1), echo=messages.append)
    assert [m.split(":")[0] for m in messages if "step skipped" in m] == ["step 3", "step 4"]
    rows = [json.loads(line) for line in open(tmp_path / "some" / "metrics.jsonl")]
    assert [r["skipped"] for r in rows] == [0, 0, 1, 1, 0, 0] and rows[-1]["nonfinite_total"] == 2
    state = json.loads((tmp_path / "some" / "checkpoints" / "step_00000006" / "state.json").read_text())
    assert state["nonfinite_total"] == 2

    # Every step poisoned: the run stops at the first logging step with 3 or more in a row.
    calls["n"], poison["steps"] = 0, set(range(1, 100))
    with pytest.raises(TrainingError, match="4 non-finite losses in a row by step 4"):
        loop.train(tiny(tmp_path / "nan", ae_dir, max_nonfinite_in_row=3, log_every=2, checkpoint_every=10,
                        optim={"max_steps": 10}), echo=lambda s: None)


def test_a_skipped_step_changes_no_weight(tmp_path, ae_dir, monkeypatch):
    real_prepare = loop.prepare
    monkeypatch.setattr(loop, "prepare", lambda b, s, d: {**real_prepare(b, s, d), "video": real_prepare(b, s, d)["video"] * float("nan")})
    cfg = tiny(tmp_path / "run", ae_dir, optim={"max_steps": 2}, checkpoint_every=1)
    loop.train(cfg, stop_at_step=2, echo=lambda s: None)
    from safetensors.torch import load_file

    first = load_file(tmp_path / "run" / "checkpoints" / "step_00000001" / "model.safetensors")
    second = load_file(tmp_path / "run" / "checkpoints" / "step_00000002" / "model.safetensors")
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_existing_run_continues_by_itself_and_dry_run_writes_nothing(tmp_path, ae_dir):
    cfg = tiny(tmp_path / "run", ae_dir, optim={"max_steps": 2})
    printed = []
    assert loop.train(cfg, dry_run=True, echo=printed.append) is None
    assert not (tmp_path / "run").exists()
    assert json.loads(printed[0])["preset"] == "tiny" and "denoiser:" in printed[1]
    with pytest.raises(TrainingError, match="--resume: .* no checkpoint"):  # nothing to continue
        loop.train(cfg, resume=True, echo=lambda s: None)
    loop.train(cfg, echo=lambda s: None)
    longer = tiny(tmp_path / "run", ae_dir, optim={"max_steps": 4})
    messages = []
    loop.train(longer, echo=messages.append)  # the same command again continues the run
    assert any("resumed" in m and "step 2" in m for m in messages)
    assert max(losses(tmp_path / "run")) == 4
    with pytest.raises(TrainingError, match="different model"):
        other = tiny(tmp_path / "run", ae_dir, optim={"max_steps": 2}, model={"objective": "v"})
        loop.train(other, echo=lambda s: None)


def test_diffusion_stages_need_an_autoencoder(tmp_path):
    cfg = resolve("tiny", overrides={"stage": "image", "out": str(tmp_path / "r"), "data": {"shards": "synthetic"}})
    with pytest.raises(TrainingError, match="--stage autoencoder"):
        loop.train(cfg, echo=lambda s: None)


def test_autoencoder_stage_exports_a_loadable_autoencoder(tmp_path):
    cfg = resolve("tiny", overrides={"stage": "autoencoder", "out": str(tmp_path / "ae"),
                                     "data": {"shards": "synthetic", "batch_size": 2}, "optim": {"max_steps": 2}})
    out = loop.train(cfg, echo=lambda s: None)
    from kinetype.model import Autoencoder

    ae = Autoencoder.from_folder(out / "autoencoder")
    assert ae.cfg.scaling_factor != 1.0  # measured on real frames at export
    assert json.loads((out / "model_index.json").read_text())["components"] == ["autoencoder"]


def test_a_checkpoint_from_before_resume_by_position_is_refused_in_one_line(tmp_path, ae_dir):
    cfg = tiny(tmp_path / "run", ae_dir)
    loop.train(cfg, stop_at_step=3, echo=lambda s: None)
    state_file = sorted((tmp_path / "run" / "checkpoints").iterdir())[-1] / "state.json"
    state = json.loads(state_file.read_text())
    state["data"] = {"batches_seen": 2}  # what older versions wrote
    state_file.write_text(json.dumps(state))
    with pytest.raises(TrainingError, match=r"older kinetype .*\(remove .*checkpoints to start the stage again\)") as e:
        loop.train(cfg, resume=True, echo=lambda s: None)
    assert "\n" not in str(e.value)


def test_a_training_step_reads_nothing_back_but_at_logging_steps(tmp_path, ae_dir, monkeypatch):
    """What a CUDA run would wait on, step by step: nothing, except the one read-back of the metrics
    at each logging step (the skip of a non-finite step is decided on the device)."""
    from host_syncs import HostSyncs

    from kinetype.train.schedule import StepBudget

    syncs = HostSyncs()
    marks = []
    started = StepBudget.step_started
    monkeypatch.setattr(StepBudget, "step_started", lambda self: (marks.append(len(syncs.events)), started(self)))
    cfg = tiny(tmp_path / "run", ae_dir, log_every=3, checkpoint_every=1000, optim={"max_steps": 8},
               data={"batch_size": 2}, loss={"glyph_clips": 1, "motion_weight": 0.1})
    with syncs:
        loop.train(cfg, echo=lambda s: None)
    per_step = [b - a for a, b in zip(marks, marks[1:])]  # steps 1..7 (step 8 ends with the checkpoint)
    # Step 1 starts the data loader, which draws its base seed as a CPU tensor (a host value, no
    # device wait); steps 3 and 6 are logging steps.
    assert per_step == [1, 0, 1, 0, 0, 1, 0], syncs.events


def test_the_compiled_network_is_traced_once_whatever_the_captions(tmp_path, ae_dir, monkeypatch):
    """Captions reach the network as fixed-length tokens: batches with other captions, other drops
    and other times reuse the first trace (torch.compile with the eager backend, graphs counted)."""
    graphs = []

    def backend(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    real_compile = torch.compile
    monkeypatch.setattr(loop.torch, "compile", lambda m, **kw: real_compile(m, backend=backend, dynamic=False))
    after = {}
    monkeypatch.setattr(loop, "lr_at", lambda step, *a: after.setdefault(step, len(graphs)) and 1e-3 or 1e-3)
    loop.train(tiny(tmp_path / "run", ae_dir, compile="on", optim={"max_steps": 5}, data={"batch_size": 2}),
               echo=lambda s: None)
    assert graphs and after[1] == after[4] == len(graphs)  # everything traced in the first step, nothing later


def test_a_decoder_fine_tune_exports_the_init_model_with_a_new_decoder(tmp_path):
    """autoencoder_trains = "decoder": the encoder and its latent scale stay --init's, so the
    export is --init's whole model (its denoiser unchanged) and samples with the new decoder."""
    from kinetype.model import Autoencoder
    from kinetype.pipeline import load_pipeline
    from model_helpers import tiny_pipeline_folder

    init = tiny_pipeline_folder(tmp_path / "init")
    cfg = resolve("tiny", overrides={"stage": "autoencoder", "out": str(tmp_path / "ft"), "init": str(init),
                                     "autoencoder_trains": "decoder",
                                     "data": {"shards": "synthetic", "batch_size": 2}, "optim": {"max_steps": 3}})
    out = loop.train(cfg, echo=lambda s: None)
    before, after = Autoencoder.from_folder(init / "autoencoder"), Autoencoder.from_folder(out / "autoencoder")
    before.freeze_encoder()
    frozen = {k for k, p in before.vae.named_parameters() if not p.requires_grad}
    old, new = before.vae.state_dict(), after.vae.state_dict()
    assert frozen and all(torch.equal(old[k], new[k]) for k in frozen)
    assert any(not torch.equal(old[k], new[k]) for k in old if k.startswith("decoder."))
    assert after.cfg.scaling_factor == before.cfg.scaling_factor
    for part in ("denoiser", "text_encoder"):
        assert (out / part / "model.safetensors").read_bytes() == (init / part / "model.safetensors").read_bytes()
    pipe = load_pipeline(out)
    assert pipe.stage == "video" and pipe.num_frames == load_pipeline(init).num_frames
    clip = pipe(["white text on black"], ["bounce in"], ["H^|i"], steps=2, seed=0)
    assert clip.shape[:2] == (1, pipe.num_frames) and clip.dtype == np.uint8


def test_a_decoder_fine_tune_needs_an_autoencoder_to_start_from(tmp_path):
    cfg = resolve("tiny", overrides={"stage": "autoencoder", "out": str(tmp_path / "ft"), "autoencoder_trains": "decoder",
                                     "data": {"shards": "synthetic"}})
    with pytest.raises(TrainingError, match="pass --init MODEL"):
        loop.train(cfg, echo=lambda s: None)
