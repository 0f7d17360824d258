"""Contract for every registered motion: rest means identity, parameters are declared."""

import numpy as np
import pytest

from kinetype.render.motions import CHANNELS, MOTIONS, MULTIPLICATIVE, MotionContext

IDENTITY = {c: (1.0 if c in MULTIPLICATIVE else 0.0) for c in CHANNELS}


def ctx(t=5, n=6):
    rng = np.random.default_rng(0)
    return MotionContext(n=n, index=np.arange(n, dtype=float), rand=rng.random((n, 4)), noise=rng.random((t, n, 4)), em=0.1)


def defaults(m):
    return {k: s.default for k, s in m.params.items()}


@pytest.mark.parametrize("name", sorted(MOTIONS))
def test_motion_returns_known_channels_of_right_shape(name):
    m = MOTIONS[name]
    out = m.fn(np.full((5, 6), 0.5), defaults(m), ctx())
    assert out and set(out) <= set(CHANNELS)
    for v in out.values():
        assert np.broadcast_to(v, (5, 6)).shape == (5, 6)
        assert np.all(np.isfinite(v))


@pytest.mark.parametrize("name", sorted(MOTIONS))
def test_motion_is_identity_at_rest(name):
    m = MOTIONS[name]
    rest_values = [0.0] if m.kind == "transition" else [0.0, 1.0]
    for a in rest_values:
        out = m.fn(np.full((5, 6), a), defaults(m), ctx())
        for ch, v in out.items():
            v = np.broadcast_to(v, (5, 6))
            if ch == "rot":  # a full turn is back at rest
                v = (v + 180.0) % 360.0 - 180.0
            np.testing.assert_allclose(v, IDENTITY[ch], atol=1e-6, err_msg=f"{name}.{ch} at a={a}")


@pytest.mark.parametrize("name", sorted(k for k, m in MOTIONS.items() if m.kind == "transition"))
def test_transition_changes_something_when_away(name):
    m = MOTIONS[name]
    out = m.fn(np.full((5, 6), 1.0), defaults(m), ctx())
    assert any(not np.allclose(np.broadcast_to(v, (5, 6)), IDENTITY[ch]) for ch, v in out.items())


def test_defaults_lie_within_bounds_and_phrases_exist():
    for m in MOTIONS.values():
        for k, s in m.params.items():
            assert s.lo <= s.default <= s.hi, (m.name, k)
        for ph in (("emphasis",) if m.kind == "emphasis" else ("enter", "exit")):
            assert m.phrase(defaults(m), ph).strip()


def test_paper_change_kinds_are_all_covered():
    kinds = {c for m in MOTIONS.values() for c in m.changes}
    assert kinds == {"position", "size", "glyph"}
