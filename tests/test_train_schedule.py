"""The schedule as fractions of the run: warm-up, cosine decay, the power-function EMA, and the step
count a time budget fixes."""

from __future__ import annotations

import json
import math

import pytest

torch = pytest.importorskip("torch")

from kinetype.train.schedule import StepBudget, lr_at, power_ema_beta, power_ema_exponent  # noqa: E402

torch.set_num_threads(1)


@pytest.mark.parametrize("total", [20, 137, 5000])
def test_lr_warms_up_to_the_peak_by_its_fraction_then_decays_to_the_final_fraction_at_n(total):
    lrs = [lr_at(s, total, peak=1.0, warmup=0.05, final=0.1) for s in range(total)]
    top = lrs.index(max(lrs))
    assert max(lrs) == pytest.approx(1.0) and top + 1 <= max(1, 0.05 * total)
    assert all(a <= b for a, b in zip(lrs[: top + 1], lrs[1 : top + 1]))  # rises...
    assert all(a >= b for a, b in zip(lrs[top:], lrs[top + 1 :]))  # ...then only falls
    assert lrs[-1] == pytest.approx(0.1)


def test_power_ema_has_the_asked_relative_width_and_averages_over_a_fraction_of_the_run():
    for std in (0.05, 0.1, 0.2):
        g = power_ema_exponent(std)
        assert math.sqrt((g + 1) / ((g + 2) ** 2 * (g + 3))) == pytest.approx(std, rel=1e-9)
    gamma = power_ema_exponent(0.1)
    assert gamma == pytest.approx(6.94, abs=0.01)  # EDM2's sigma_rel 0.10
    # Averaging v_t = t over T updates weights t by t^gamma: the mean is (gamma + 1) / (gamma + 2) of T,
    # whatever T: the same shape for a short run and a long one.
    for T in (200, 20000):
        ema = 0.0
        for t in range(1, T + 1):
            beta = power_ema_beta(t, gamma)
            ema = beta * ema + (1 - beta) * t
        assert ema / T == pytest.approx((gamma + 1) / (gamma + 2), rel=0.01)
    assert power_ema_beta(1, gamma) == 0.0  # the first update copies the weights


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_time_budget_fixes_n_after_a_few_timed_steps_and_a_resumed_run_keeps_it():
    clock = Clock()
    budget = StepBudget(max_steps=10**6, seconds=100.0, skip=2, timed=3, margin=0.95, clock=clock)
    assert budget.total_steps == 10**6  # not fixed yet
    step = 0
    while budget.fixed is None:
        budget.step_started()
        clock.now += {0: 2.0, 1: 1.5, 3: 1.4}.get(step, 1.0)  # slow first steps; one slow step in the window
        step += 1
        budget.step_done(step)
    assert step == 5 and budget.total_steps == 5 + int(0.95 * 93.1)  # 6.9 s spent; the median step is 1 s
    state = json.loads(json.dumps(budget.state_dict()))
    resumed = StepBudget(max_steps=10**6, seconds=100.0, clock=clock)
    resumed.load_state_dict(state)
    assert resumed.total_steps == 5 + 88 and resumed.elapsed() == pytest.approx(6.9)
    capped = StepBudget(max_steps=50, seconds=100.0, skip=1, timed=1, clock=clock)
    capped.step_started()
    clock.now += 0.1
    capped.step_done(1)
    capped.step_started()
    clock.now += 0.1
    capped.step_done(2)
    assert capped.total_steps == 50  # max_steps is a ceiling
    assert StepBudget(max_steps=7, seconds=0).total_steps == 7  # no budget: N = max_steps


def test_steps_that_slow_down_bring_n_forward_so_the_decay_ends_with_the_budget():
    clock = Clock()
    budget = StepBudget(max_steps=10**6, seconds=100.0, skip=1, timed=3, margin=0.95, recent=3, clock=clock)
    step, planned, changes = 0, None, []
    while step < budget.total_steps and not budget.out_of_time():
        budget.step_started()
        clock.now += 1.0 if step < 40 else 2.0  # the machine gets busy at step 40: steps take twice as long
        step += 1
        if budget.step_done(step):
            planned = budget.total_steps
        elif budget.replan(step):
            changes.append(budget.total_steps)
    assert planned == 4 + int(0.95 * 96) and changes  # planned at 1 s a step, then brought forward
    assert all(a > b for a, b in zip([planned, *changes], changes))  # only ever earlier
    assert step == budget.total_steps and budget.total_steps >= 40 + int(0.9 * (100 - 40) / 2)  # ended at N...
    assert lr_at(step - 1, budget.total_steps, 1.0, 0.05, 0.1) == pytest.approx(0.1)  # ...with the lr decayed
    steady = StepBudget(max_steps=10**6, seconds=100.0, skip=1, timed=3, recent=3, clock=clock)
    for step in range(1, 60):
        steady.step_started()
        clock.now += 1.0
        steady.step_done(step)
        assert not steady.replan(step)  # a run on plan keeps its N
    quicker = StepBudget(max_steps=10**6, seconds=100.0, skip=1, timed=3, recent=3, clock=clock)
    step = 0
    while step < quicker.total_steps and not quicker.out_of_time():
        quicker.step_started()
        clock.now += 2.0 if step < 10 else 1.0  # busy while N was timed, then free again
        step += 1
        quicker.step_done(step)
        quicker.replan(step)
    assert quicker.planned == 4 + int(0.95 * 92 / 2) and step == quicker.total_steps  # pushed back...
    assert quicker.elapsed() >= 0.9 * 100  # ...so the budget went into steps


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    """A tiny image-stage config, and its seconds per step on this machine (budgets are sized from it,
    so the runs below have a few hundred steps however fast the machine is)."""
    from model_helpers import tiny_autoencoder_folder
    from kinetype.train import loop
    from kinetype.train.config import resolve

    tmp = tmp_path_factory.mktemp("budget")
    ae = tiny_autoencoder_folder(tmp / "vae")

    def config(out, **optim):
        return resolve("tiny", overrides={
            "stage": "image", "out": str(out), "model": {"autoencoder": {"path": str(ae)}}, "precision": "fp32",
            "data": {"shards": "synthetic", "batch_size": 1}, "optim": optim, "checkpoint_every": 10**6, "log_every": 10**6})

    loop.train(config(tmp / "timing", max_steps=12), echo=lambda s: None)
    rows = [json.loads(line) for line in open(tmp / "timing" / "metrics.jsonl")]
    return config, sorted(r["step_s"] for r in rows[2:])[len(rows[2:]) // 2]


@pytest.mark.parametrize("steps_worth", [250, 500])
def test_a_budgeted_run_peaks_by_5_percent_of_its_steps_and_has_decayed_by_its_end(tmp_path, image_run, steps_worth):
    from kinetype.train import loop

    config, step_s = image_run
    seconds = steps_worth * step_s
    cfg = config(tmp_path / "run", max_minutes=seconds / 60, max_steps=10**6)
    loop.train(cfg, echo=lambda s: None)
    rows = [json.loads(line) for line in open(tmp_path / "run" / "metrics.jsonl")]
    lrs = [r["lr"] for r in rows]
    state = json.loads((sorted((tmp_path / "run" / "checkpoints").iterdir())[-1] / "state.json").read_text())
    n = state["total_steps"]  # N, brought forward if the machine got busier than the timed steps said
    assert len(rows) >= 0.9 * n  # the run got (nearly) to the N it fixed
    assert lrs.index(max(lrs)) + 1 <= 0.05 * max(n, state["planned_steps"])  # the peak by 5% of the steps
    assert max(lrs) == pytest.approx(cfg.optim.lr)
    assert lrs[-1] <= 1.1 * cfg.optim.lr_final * cfg.optim.lr  # decayed by the end
    assert sum(r["step_s"] for r in rows) >= 0.8 * seconds  # the budget went into steps
