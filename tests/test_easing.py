"""Easing functions: the contract every registered easing meets, plus exact values."""

import math

import numpy as np
import pytest

from kinetype.render.easing import EASINGS, MONOTONIC, cubic_bezier, easing_names, get_easing, spring, steps

U = np.linspace(0.0, 1.0, 2001)


@pytest.mark.parametrize("name", easing_names())
def test_contract(name):
    f = get_easing(name)
    assert f is EASINGS[name]
    y = f(U)
    assert y.shape == U.shape and y.dtype == np.float64 and np.all(np.isfinite(y))
    assert abs(y[0]) <= 1e-9 and abs(y[-1] - 1.0) <= 1e-9
    assert float(f(0.0)) == 0.0 and float(f(1.0)) == 1.0
    # Inputs are clipped first; any shape works.
    assert float(f(-0.5)) == 0.0 and float(f(1.5)) == 1.0
    grid = U[:600].reshape(20, 30)
    np.testing.assert_array_equal(f(grid), y[:600].reshape(20, 30))


@pytest.mark.parametrize("name", MONOTONIC)
def test_monotonic(name):
    assert np.all(np.diff(EASINGS[name](U)) >= -1e-12)


def test_monotonic_list_is_not_everything():
    assert {"in-back", "out-elastic", "out-bounce", "spring"}.isdisjoint(MONOTONIC)
    assert {"linear", "in-out-cubic", "ease", "out-expo", "step"} <= set(MONOTONIC)


@pytest.mark.parametrize("name", ["out-back", "in-out-back", "out-elastic", "in-out-elastic", "spring"])
def test_overshoot(name):
    assert EASINGS[name](U).max() > 1.01


def test_anticipation():
    assert EASINGS["in-back"](U).min() < -0.05
    assert EASINGS["in-elastic"](U).min() < -0.05


@pytest.mark.parametrize("name", [n for n in easing_names() if n.startswith("in-out-")] + ["linear", "ease-in-out"])
def test_in_out_symmetry(name):
    f = EASINGS[name]
    np.testing.assert_allclose(f(U) + f(1.0 - U), 1.0, atol=1e-9)


def test_in_and_out_mirror():
    for kind in ("sine", "quad", "cubic", "quart", "quint", "expo", "circ", "back", "elastic", "bounce"):
        np.testing.assert_allclose(EASINGS[f"out-{kind}"](U), 1.0 - EASINGS[f"in-{kind}"](1.0 - U), atol=1e-12)


def test_known_values():
    e = EASINGS
    assert float(e["in-quad"](0.5)) == 0.25
    assert float(e["out-quad"](0.5)) == 0.75
    assert float(e["in-cubic"](0.5)) == 0.125
    assert math.isclose(float(e["in-out-cubic"](0.25)), 0.0625)
    assert math.isclose(float(e["in-out-quint"](0.25)), 16 * 0.25**5)
    assert math.isclose(float(e["in-sine"](0.5)), 1 - math.cos(math.pi / 4))
    assert math.isclose(float(e["out-circ"](0.5)), math.sqrt(0.75))
    assert math.isclose(float(e["in-back"](0.5)), 2.70158 * 0.125 - 1.70158 * 0.25)
    assert math.isclose(float(e["in-expo"](0.5)), 31 / 1023)
    # Bounce: lands on 1 at 1/2.75, then three smaller hops.
    assert math.isclose(float(e["out-bounce"](1 / 2.75)), 1.0)
    assert math.isclose(float(e["out-bounce"](0.5)), 0.765625)
    assert math.isclose(float(e["out-bounce"](2 / 2.75)), 1.0)
    assert math.isclose(float(e["out-bounce"](2.5 / 2.75)), 1.0)
    assert math.isclose(float(e["in-out-bounce"](0.5)), 0.5)
    assert float(e["step"](0.49)) == 0.0 and float(e["step"](0.5)) == 1.0


def test_css_presets_match_reference():
    # Reference values from a 30-digit root find of the CSS curves.
    assert math.isclose(float(get_easing("ease")(0.5)), 0.802403387584857, abs_tol=1e-9)
    assert math.isclose(float(get_easing("ease-in-out")(0.25)), 0.129161931047320, abs_tol=1e-9)
    assert math.isclose(float(get_easing("cubic-bezier(0.2, 0.8, 0.2, 1)")(0.1)), 0.396693549045816, abs_tol=1e-9)


def test_cubic_bezier():
    np.testing.assert_allclose(cubic_bezier(0, 0, 1, 1)(U), U, atol=1e-7)
    # Flat spots in x(t) (x1 = 1, x2 = 0) need the bisection fallback.
    f = cubic_bezier(1.0, 0.0, 0.0, 1.0)
    y = f(U)
    assert np.all(np.diff(y) >= -1e-9) and abs(float(f(0.5)) - 0.5) < 1e-6
    np.testing.assert_allclose(get_easing("cubic-bezier(0.2,0.8,0.2,1)")(U), cubic_bezier(0.2, 0.8, 0.2, 1)(U))
    assert cubic_bezier(0.3, -0.6, 0.7, 1.6)(U).max() > 1.0  # y outside [0, 1] overshoots


def test_spring():
    soft, stiff = spring(0.3, 3.0)(U), spring(0.8, 3.0)(U)
    assert soft.max() > stiff.max() > 1.0 - 1e-9
    assert float(spring(0.05, 0.5)(1.0)) == 1.0  # a large residual is still removed exactly
    np.testing.assert_allclose(get_easing("spring(0.4, 4)")(U), spring(0.4, 4.0)(U))
    np.testing.assert_allclose(get_easing("spring()")(U), EASINGS["spring"](U))


def test_steps():
    f = steps(4)
    np.testing.assert_array_equal(f(np.array([0.0, 0.2, 0.3, 0.6, 0.8, 1.0])), [0, 0, 1 / 3, 2 / 3, 1, 1])
    np.testing.assert_array_equal(get_easing("steps(2)")(U), EASINGS["step"](U))


def test_spec_whitespace_and_case():
    assert get_easing("  Out-Cubic ") is EASINGS["out-cubic"]


@pytest.mark.parametrize("spec", ["wobble", "", "in-out-", "cubic-bezier(0.1, 0.2)", "cubic-bezier(a, b, c, d)",
                                  "cubic-bezier(1.2, 0, 0, 1)", "cubic-bezier(0, 0, -0.1, 1)", "spring(0, 3)",
                                  "spring(1.5, 3)", "spring(0.5, -1)", "spring(0.5, 3, 1)", "steps(1)", "steps(2.5)"])
def test_bad_specs(spec):
    with pytest.raises(ValueError) as e:
        get_easing(spec)
    msg = str(e.value)
    assert repr(spec) in msg and "\n" not in msg


def test_non_string_spec():
    with pytest.raises(ValueError):
        get_easing(3)
