import numpy as np
import pytest

from kinetype.render.animation import ORDERS, PhasePlan, animate, at_rest, frame_times, order_ranks, unit_progress


def plan(**kw):
    base = dict(phase="enter", motion="fly", start=0.0, end=0.5, easing="linear", order="left-to-right", unit="letter",
                overlap=0.0, params={"angle": 180, "distance": 0.5, "fade": 0.0})
    return PhasePlan(**(base | kw))


def offsets(n):
    return np.stack([(np.arange(n) - (n - 1) / 2) * 0.1, np.zeros(n)], 1)


def test_order_ranks():
    rng = np.random.default_rng(0)
    assert list(order_ranks("left-to-right", 4, rng)) == [0, 1, 2, 3]
    assert list(order_ranks("right-to-left", 4, rng)) == [3, 2, 1, 0]
    assert list(order_ranks("centre-out", 5, rng)) == [2, 1, 0, 1, 2]
    assert list(order_ranks("edges-in", 5, rng)) == [0, 1, 2, 1, 0]
    assert sorted(order_ranks("random", 6, rng)) == [0, 1, 2, 3, 4, 5]
    assert list(order_ranks("all-at-once", 3, rng)) == [0, 0, 0]


@pytest.mark.parametrize("overlap", [0.0, 0.3, 1.0])
def test_stagger_starts_at_phase_start_and_last_unit_ends_at_phase_end(overlap):
    t = np.linspace(0, 1, 201)
    p = plan(start=0.2, end=0.6, overlap=overlap)
    u = unit_progress(t, p, np.arange(5.0))
    first_moves = t[np.argmax(u[:, 0] > 0)]
    last_done = t[np.argmax(u[:, 4] >= 1)]
    assert first_moves == pytest.approx(0.2, abs=0.01)
    assert last_done == pytest.approx(0.6, abs=0.01)
    if overlap == 0.0:  # strictly sequential: letter 1 starts when letter 0 ends
        assert t[np.argmax(u[:, 1] > 0)] == pytest.approx(t[np.argmax(u[:, 0] >= 1)], abs=0.01)


def test_enter_goes_from_away_to_rest_and_word_comes_to_rest():
    tr = animate([plan()], 4, frame_times(24), 0.1, offsets(4), np.random.default_rng(0))
    assert np.allclose(tr["x"][0], -0.5)  # all away to the left at the start
    assert np.allclose(tr["x"][-1], 0.0)
    rest = at_rest(tr, 0.1)
    assert not rest[0] and rest[-1]
    assert rest[13:].all()


def test_exit_leaves_rest():
    tr = animate([plan(phase="exit", start=0.6, end=1.0)], 3, frame_times(24), 0.1, offsets(3), np.random.default_rng(0))
    rest = at_rest(tr, 0.1)
    assert rest[0] and not rest[-1]
    assert np.allclose(tr["x"][-1], -0.5)


def test_word_unit_rotates_about_word_centre():
    p = plan(motion="spin", unit="word", order="all-at-once", overlap=1.0, params={"turns": 0.25, "shrink": 0.0, "fade": 0.0})
    tr = animate([p], 3, np.array([0.0]), 0.1, offsets(3), np.random.default_rng(0))
    # A quarter turn about the word centre moves the outer letters' pivots onto the vertical axis.
    assert tr["rot"][0] == pytest.approx([90, 90, 90])
    pos = offsets(3) + np.stack([tr["x"][0], tr["y"][0]], 1)
    np.testing.assert_allclose(pos[:, 0], 0.0, atol=1e-9)
    np.testing.assert_allclose(np.abs(pos[[0, 2], 1]), 0.1, atol=1e-9)


def test_emphasis_returns_to_rest():
    p = plan(phase="emphasis", motion="wave", start=0.2, end=0.8, params={"amplitude": 0.1, "cycles": 2, "phase": 0.7})
    tr = animate([p], 5, frame_times(24), 0.1, offsets(5), np.random.default_rng(0))
    rest = at_rest(tr, 0.1)
    assert rest[0] and rest[-1] and not rest[8:16].all()


def test_all_orders_accepted():
    for o in ORDERS:
        animate([plan(order=o)], 5, frame_times(8), 0.1, offsets(5), np.random.default_rng(0))


def test_boomerang_times_go_to_the_other_end_midway_and_come_back():
    for start, t in (("start", frame_times(12, "start")), ("end", frame_times(12, "end"))):
        first, middle = (0.0, 1.0) if start == "start" else (1.0, 0.0)
        assert t[0] == first and t[6] == middle and t.min() == 0.0 and t.max() == 1.0
        assert np.allclose(t[1:], t[1:][::-1])  # frame i at the time of frame 12 - i
        assert np.allclose(np.abs(np.diff(np.r_[t, t[0]])), 2 / 12)  # every step, the last back to the first too
    assert np.allclose(frame_times(12, "end"), 1 - frame_times(12, "start"))
    assert np.array_equal(frame_times(12), np.linspace(0, 1, 12)) and np.array_equal(frame_times(1, "end"), [0.0])
    with pytest.raises(ValueError, match="boomerang must be one of"):
        frame_times(12, "middle")
