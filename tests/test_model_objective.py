"""Objectives (a pure schedule) and samplers: exact inversions, endpoints, solvers on Gaussian data."""

from __future__ import annotations


import pytest

torch = pytest.importorskip("torch")

from kinetype.model.objective import OBJECTIVES, add_noise, alpha_sigma, predict_x0_eps, target  # noqa: E402
from kinetype.sample import SAMPLERS  # noqa: E402
from kinetype.sample.gaussian import gaussian_run  # noqa: E402
from kinetype.sample.schedule import sample_times  # noqa: E402


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_prediction_of_the_target_recovers_x0_and_eps(objective):
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(4, 2, 3, 5, 5, generator=g), torch.randn(4, 2, 3, 5, 5, generator=g)
    t = torch.tensor([0.05, 0.3, 0.7, 0.99])
    x_t = add_noise(x0, eps, t, objective)
    x0_hat, eps_hat = predict_x0_eps(x_t, target(x0, eps, t, objective), t, objective)
    torch.testing.assert_close(x0_hat, x0, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(eps_hat, eps, atol=1e-4, rtol=1e-4)


def test_schedule_endpoints():
    a, s = alpha_sigma(torch.tensor([0.0, 1.0]), "flow")
    assert a.tolist() == [1.0, 0.0] and s.tolist() == [0.0, 1.0]
    a, s = alpha_sigma(torch.tensor([0.0, 1.0]), "v")
    assert a[0] == 1.0 and s[0] == 0.0
    # Stable Diffusion's last alphas_cumprod (scaled-linear betas, 1000 steps) is about 0.0047.
    assert a[1] ** 2 == pytest.approx(0.0047, abs=3e-4)
    assert torch.allclose(a**2 + s**2, torch.ones(2))


def test_continuous_schedule_matches_the_discrete_sd_schedule():
    betas = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64) ** 2
    alphas_cumprod = torch.cumprod(1 - betas, 0)
    t = torch.tensor([0.1, 0.5, 0.9])
    a, _ = alpha_sigma(t, "eps")
    discrete = alphas_cumprod[(t * 1000).long() - 1].float()
    torch.testing.assert_close(a**2, discrete, rtol=0.03, atol=1e-3)


@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_samplers_turn_noise_into_the_data_distribution(objective, sampler):
    got, exact = gaussian_run(objective, sampler, 50)
    assert got == pytest.approx(exact, rel=0.07)


def test_dpm_solver_is_more_accurate_than_ddim_at_few_steps():
    ddim, exact = gaussian_run("flow", "ddim", 10)
    dpm, _ = gaussian_run("flow", "dpm++", 10)
    assert abs(dpm - exact) < abs(ddim - exact) / 5


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_a_known_clean_sample_is_reproduced(sampler):
    x0 = torch.randn(3, 4)

    def denoise(x, t):
        a, s = alpha_sigma(torch.as_tensor(t, dtype=torch.float32), "flow")
        return x0, (x - a * x0) / s

    out = SAMPLERS[sampler](denoise, torch.randn(3, 4), sample_times(10), "flow")
    torch.testing.assert_close(out, x0, atol=1e-5, rtol=1e-5)
