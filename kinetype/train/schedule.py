"""The training schedule as pure functions of (step, N): learning rate, EMA decay, and the step count
N itself when a stage trains for a time budget rather than a number of steps.

Everything is a fraction of N, so a 5-minute run and a 5-day run follow the same shape: warm-up,
then cosine decay to ``lr_final`` of the peak, ending exactly at N. The EMA needs no N at all: the
power-function EMA of EDM2 (Karras et al. 2024, "Analyzing and Improving the Training Dynamics of
Diffusion Models", Sec. 3.1) averages over a fixed *fraction* of the steps so far,

    beta_t = (1 - 1/t)^(gamma + 1),    sigma_rel = sqrt((gamma + 1) / ((gamma + 2)^2 (gamma + 3))),

where sigma_rel is the width of the averaging profile relative to t (edm2 trains with 0.05 and 0.10).
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable


def lr_at(step: int, total_steps: int, peak: float, warmup: float, final: float) -> float:
    """Linear warm-up over the first ``warmup`` x N steps, then cosine decay from ``peak`` to
    ``final`` x peak at step N (``step`` counts from 0)."""
    warm = max(1, int(warmup * total_steps))
    if step < warm:
        return peak * (step + 1) / warm
    progress = min(1.0, (step + 1 - warm) / max(1, total_steps - warm))
    return peak * (final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * progress)))


def power_ema_exponent(std: float) -> float:
    """gamma whose power-function EMA has relative width ``std`` (in (0, sqrt(1/12))), by bisection:
    sigma_rel(gamma) falls monotonically from sqrt(1/12) at gamma = 0."""
    def width(gamma: float) -> float:
        return math.sqrt((gamma + 1) / ((gamma + 2) ** 2 * (gamma + 3)))

    lo, hi = 0.0, 1e6
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if width(mid) > std else (lo, mid)
    return 0.5 * (lo + hi)


def power_ema_beta(step: int, gamma: float) -> float:
    """The decay after update ``step`` (1, 2, ...): the first update copies the weights."""
    return (1.0 - 1.0 / step) ** (gamma + 1.0)


class StepBudget:
    """How many steps N a stage takes: ``max_steps``, or with a time budget of ``seconds`` as many as
    fit: fixed after a few timed steps, moved as the rate of steps changes, and kept in the checkpoint
    (a resumed run agrees).

    The clock counts training steps only (start-up, export and anything before the first step are
    reported apart). Timing skips the first ``skip`` steps of a process (allocation, compilation,
    the loader's first fill, which here slowed the second step by 70%) and takes the median of the
    next ``timed``; on CUDA ``sync`` waits for the device at the two ends of that window, the only
    two waits it adds to a run (the steps in between are timed as the host issues them; in steady
    state the device's queue paces the host). Until N is fixed the
    schedule takes ``max_steps`` for N, so those first few steps stay at the very start of the
    warm-up rather than overshoot the schedule that N will give. N leaves ``1 - margin`` of the
    time left unplanned, for checkpoints and slower steps. The plan follows the machine
    (:meth:`replan`): steps that become slower than planned (a busy machine, a hotter GPU) bring N
    forward, so that the mean of the last ``recent`` steps (checkpoints included) times the steps
    left fits the time left and the cosine still reaches its final learning rate when the budget
    ends rather than being cut off part-way down; steps that become faster push N back, keeping
    the reserve of seconds first left unplanned, so the budget is not left unspent. Between the
    two (the rate within the reserve) N stays where it is. ``planned`` keeps the N first fixed.
    """

    def __init__(self, max_steps: int, seconds: float, *, skip: int = 3, timed: int = 5, margin: float = 0.95,
                 recent: int = 50, sync: Callable[[], None] = lambda: None,
                 clock: Callable[[], float] = time.perf_counter):
        self.max_steps, self.seconds = max_steps, seconds
        self.skip, self.timed, self.margin, self.sync, self.clock = skip, timed, margin, sync, clock
        self.recent = recent
        self.fixed: int | None = None if seconds > 0 else max_steps
        self.planned = self.fixed  # N when first fixed (replan() may move ``fixed``)
        self.reserve = 0.0
        self.spent = 0.0  # seconds of training steps before this process (a resumed run's earlier time)
        self._start: float | None = None  # this process's first step
        self._last: float | None = None  # when the previous timed step ended
        self._timed: list[float] = []  # the timing window's steps, then the last ``recent`` steps
        self._steps_here = 0

    @property
    def total_steps(self) -> int:
        """N (until a budgeted N is fixed, ``max_steps`` stands in: the warm-up of a few steps barely moves)."""
        return self.fixed if self.fixed is not None else self.max_steps

    def elapsed(self) -> float:
        """Seconds of training steps so far, over every process of the run."""
        return self.spent + (self.clock() - self._start if self._start is not None else 0.0)

    def out_of_time(self) -> bool:
        return self.seconds > 0 and self.elapsed() >= self.seconds

    def step_started(self) -> None:
        if self._start is None:
            self._start = self.clock()

    def step_done(self, step: int) -> bool:
        """After optimiser step ``step`` (1, 2, ...): time the window; True at the step N is fixed."""
        self._steps_here += 1
        if self.fixed is not None:
            if self.seconds > 0:  # the recent step times that replan() reads
                now = self.clock()
                if self._last is not None:
                    self._timed = [*self._timed[-(self.recent - 1):], now - self._last]
                self._last = now
            return False
        if self._steps_here < self.skip:
            return False
        last = self._steps_here == self.skip + self.timed
        if self._steps_here == self.skip or last:
            self.sync()  # the window's two ends: the device has done what was queued
        now = self.clock()
        if self._last is not None:
            self._timed.append(now - self._last)
        self._last = now
        if not last:
            return False
        # The median step: one slow step in the window (a loader refill) is not the rate.
        per_step = sorted(self._timed)[len(self._timed) // 2]
        left = self.seconds - self.elapsed()
        self.reserve = (1.0 - self.margin) * left  # seconds kept unplanned, for checkpoints and slower steps
        self.fixed = max(step, min(self.max_steps, step + int((left - self.reserve) / per_step)))
        self.planned = self.fixed
        return True

    def replan(self, step: int) -> bool:
        """After step ``step``: bring N forward if the recent steps no longer fit the time left, or
        push it back if they leave more than the reserve unplanned. True when N changed. Under DDP
        call it where the ranks agree and share rank 0's N: each rank's clock differs a little."""
        if self.seconds <= 0 or self.fixed is None or len(self._timed) < self.recent or step >= self.fixed:
            return False
        per_step = sum(self._timed) / len(self._timed)
        left = max(0.0, self.seconds - self.elapsed())
        fits = step + int(left / per_step)
        ahead = min(self.max_steps, step + int(max(0.0, left - self.reserve) / per_step))
        if fits < self.fixed:
            self.fixed = max(step, fits)
        elif ahead > self.fixed:
            self.fixed = ahead
        else:
            return False
        return True

    def state_dict(self) -> dict[str, Any]:
        return {"total_steps": self.fixed if self.seconds > 0 else None, "step_seconds": self.elapsed(),
                "planned_steps": self.planned if self.seconds > 0 else None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """A budgeted run keeps the N it fixed; without a budget N is ``max_steps`` as now configured
        (a run continued with more steps extends its schedule)."""
        self.spent = float(state.get("step_seconds", 0.0))
        if self.seconds > 0 and state.get("total_steps") is not None:
            self.fixed = int(state["total_steps"])
            self.planned = int(state.get("planned_steps") or self.fixed)
            self.reserve = (1.0 - self.margin) * max(0.0, self.seconds - self.spent)
