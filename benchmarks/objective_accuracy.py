"""Why flow is the default objective: solver error on the exact Gaussian probability-flow ODE.

For each objective's schedule (flow, v, eps — v and eps share SD's VP schedule) and each sampler,
the relative error of the sample std after N steps, with the exact denoiser of N(0, 0.5²) data
(see kinetype/sample/gaussian.py). No network, so it measures the schedule and solver alone.

Usage: ``python benchmarks/objective_accuracy.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kinetype.model.objective import OBJECTIVES  # noqa: E402
from kinetype.sample import SAMPLERS  # noqa: E402
from kinetype.sample.gaussian import relative_error  # noqa: E402

STEPS = (10, 25, 50)


def main() -> None:
    print("relative error of the sample std on the Gaussian probability-flow ODE (lower is better)")
    print(f"{'objective':10s} {'sampler':8s} " + " ".join(f"{f'{n} steps':>9s}" for n in STEPS))
    for objective in OBJECTIVES:
        for sampler in sorted(SAMPLERS):
            errs = [relative_error(objective, sampler, n) for n in STEPS]
            print(f"{objective:10s} {sampler:8s} " + " ".join(f"{e:9.2%}" for e in errs))


if __name__ == "__main__":
    main()
