"""``--verify N`` (kinetype.eval.verify): candidates in seed order, the first read correctly kept, else
the best by NED; one output file; the same seed the same clip. The OCR reader is mocked: it reads
the word only in frames of one chosen clip, so which candidate wins is known in advance."""

from __future__ import annotations

import numpy as np
import pytest

from kinetype.errors import KinetypeError
from kinetype.eval.readers import Reading
from kinetype.eval.verify import Verdict, check_verify, first_legible

WORD = "Hello"


class FakeReader:
    """Reads ``text_for(frame)``: the word in the frames of the clips it was shown, else a misspelling."""

    name, version = "ppocr", "fake reader"

    def __init__(self, readings: list[tuple[np.ndarray, str]], otherwise: str = "Hcl"):
        self.readings, self.otherwise, self.calls = readings, otherwise, 0

    def read(self, frame: np.ndarray) -> Reading:
        self.calls += 1
        for clip, text in self.readings:
            if any(np.array_equal(frame, f) for f in clip):
                return Reading(text, 0.9)
        return Reading(self.otherwise, 0.9)


# --- the choice, without a model ------------------------------------------------------------------


def judge_by_table(table: dict[int, tuple[str, float]]):
    return lambda frames, seed: Verdict(seed, table[seed][0], table[seed][0] == WORD, table[seed][1])


def test_stops_at_the_first_candidate_read_correctly():
    sampled = []
    table = {10: ("Hcllo", 0.8), 11: (WORD, 1.0), 12: (WORD, 1.0), 13: ("", 0.0)}
    chosen = first_legible(lambda s: sampled.append(s) or np.full((2, 1, 1, 3), s, np.uint8), [10, 11, 12, 13],
                           judge_by_table(table))
    assert sampled == [10, 11] and chosen.seed == 11 and chosen.tried == 2 and chosen.verdict.correct
    assert int(chosen.frames[0, 0, 0, 0]) == 11  # the kept frames are the winner's


def test_none_read_keeps_the_best_ned_and_the_earliest_on_a_tie():
    table = {0: ("Hc", 0.4), 1: ("Hcllo", 0.8), 2: ("Hellx", 0.8), 3: ("", 0.0)}
    chosen = first_legible(lambda s: np.full((1, 1, 1, 3), s, np.uint8), [0, 1, 2, 3], judge_by_table(table))
    assert chosen.seed == 1 and chosen.tried == 4 and not chosen.verdict.correct
    assert [v.seed for v in chosen.verdicts] == [0, 1, 2, 3]


def test_one_candidate_or_nothing_at_rest_is_kept_unread():
    def judge(frames, seed):
        raise AssertionError("nothing should be read")

    assert first_legible(lambda s: np.zeros((1, 1, 1, 3), np.uint8), [5], judge).verdict is None
    assert first_legible(lambda s: np.zeros((1, 1, 1, 3), np.uint8), [5, 6], None).tried == 1


@pytest.mark.parametrize("n", [0, -2, 65, True])
def test_a_bad_count_is_one_line_naming_the_option(n):
    with pytest.raises(KinetypeError, match=r"^--verify must be (a whole number, )?1 to 64 candidates") as e:
        check_verify(n)
    assert "\n" not in str(e.value)


# --- through the CLI, on a tiny random model ------------------------------------------------------

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from typer.testing import CliRunner  # noqa: E402

from kinetype.cli import app  # noqa: E402
from model_helpers import tiny_pipeline_folder  # noqa: E402

torch.set_num_threads(1)
runner = CliRunner()
ARGS = ("--motion", "bounce in", "--steps", 2, "--frames", 6)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_pipeline_folder(tmp_path_factory.mktemp("verify") / "model")


def gen(model, *args):
    return runner.invoke(app, ["generate", WORD, *map(str, ARGS), "--model", str(model), *map(str, args)])


def record_samples(monkeypatch) -> list[np.ndarray]:
    """Every clip the pipeline samples from now on, in order: (T, H, W, 3) each."""
    from kinetype.pipeline import Pipeline

    sampled, call = [], Pipeline.__call__
    monkeypatch.setattr(Pipeline, "__call__", lambda self, *a, **k: sampled.append(call(self, *a, **k)[0]) or sampled[-1][None])
    return sampled


def use_reader(monkeypatch, reader: FakeReader) -> None:
    """``reader`` wherever generate and eval model make one (each holds the names it imported)."""
    import kinetype.eval.readers
    import kinetype.eval.run
    import kinetype.generate

    for module in (kinetype.eval.readers, kinetype.eval.run, kinetype.generate):
        monkeypatch.setattr(module, "make_reader", lambda name: reader)
        monkeypatch.setattr(module, "reader_available", lambda name: None)


def candidates(model, tmp_path, monkeypatch, seed: int, n: int) -> list[np.ndarray]:
    """The n candidate clips of ``generate --seed seed --verify n`` (one request: the seed's captions
    and layout; sampling seeds seed, seed + 1, ...), read by a reader that reads nothing."""
    sampled = record_samples(monkeypatch)
    use_reader(monkeypatch, FakeReader([], otherwise=""))
    r = gen(model, "--seed", seed, "--verify", n, "--out", tmp_path / "all-candidates.gif")
    assert r.exit_code == 0 and f"{n} of up to {n} candidates tried" in r.output, r.output
    assert len(sampled) == n and not np.array_equal(sampled[0], sampled[1])  # the seeds differ
    found = list(sampled)
    sampled.clear()
    return found


def test_generate_verify_keeps_the_first_clip_read_and_writes_only_it(model, tmp_path, monkeypatch):
    from kinetype.media import write_video

    first = candidates(model, tmp_path, monkeypatch, 7, 4)
    sampled = record_samples(monkeypatch)
    use_reader(monkeypatch, FakeReader([(first[1], WORD)]))  # only the second candidate (seed 8) reads
    out = tmp_path / "out"
    out.mkdir()
    r = gen(model, "--seed", 7, "--verify", 4, "--out", out / "clip.png")
    assert r.exit_code == 0, r.output
    assert "verify: kept seed 8, read 'Hello' (reads correctly); 2 of up to 4 candidates tried" in r.output
    assert len(sampled) == 2 and "candidate 3/4" not in r.output  # stopped at the first clip read
    assert [p.name for p in out.iterdir()] == ["clip.png"]  # one output file, nothing else
    write_video(tmp_path / "second.png", first[1], 8)
    assert (out / "clip.png").read_bytes() == (tmp_path / "second.png").read_bytes()  # the same clip, byte for byte


def test_generate_verify_with_no_clip_read_keeps_the_best_and_tries_them_all(model, tmp_path, monkeypatch):
    first = candidates(model, tmp_path, monkeypatch, 0, 3)
    use_reader(monkeypatch, FakeReader([(first[2], "Hella")], otherwise=""))
    out = tmp_path / "out"
    out.mkdir()
    for name in ("a.gif", "b.gif"):
        r = gen(model, "--seed", 0, "--verify", 3, "--out", out / name)
        assert r.exit_code == 0, r.output
        assert "verify: kept seed 2, read 'Hella' (none read correctly; best NED 0.80); 3 of up to 3 candidates tried" in r.output
    assert sorted(p.name for p in out.iterdir()) == ["a.gif", "b.gif"]
    assert (out / "a.gif").read_bytes() == (out / "b.gif").read_bytes()  # the same seed, the same clip


@pytest.mark.parametrize("command, args, message", [
    ("generate", ["--mg", "-1"], "--mg must be a number from 0 to 10"),
    ("generate", ["--mg", "nan"], "--mg must be a number from 0 to 10"),
    ("generate", ["--verify", "0"], "--verify must be 1 to 64 candidates"),
    ("eval", ["--mg", "-1"], "--mg must be a number from 0 to 10"),
    ("eval", ["--verify", "0"], "--verify must be 1 to 64 candidates"),
])
def test_bad_mg_or_verify_is_one_line_naming_the_argument(model, tmp_path, command, args, message):
    if command == "generate":
        r = gen(model, *args, "--out", tmp_path / "z.gif")
    else:
        r = runner.invoke(app, ["eval", "model", "--model", str(model), "--n", "2", "--out", str(tmp_path / "ev"), *args])
    assert r.exit_code == 2, r.output
    assert message in r.output and r.output.strip().count("\n") == 0 and "Traceback" not in r.output, r.output
    assert not (tmp_path / "z.gif").exists()


def test_eval_model_verify_reports_candidates_and_seconds(model, tmp_path, monkeypatch):
    from kinetype.eval import evaluate_model

    reader = FakeReader([], otherwise="")  # reads nothing: every clip tries every candidate
    use_reader(monkeypatch, reader)
    rep = evaluate_model(model, n=2, seed=1, steps=2, workers=1, progress=False, verify=3, mg=0.2)
    rested = [r for r in rep.rows if r["rest"]]
    assert rested, "the eval items drawn should come to rest"
    assert all(r["verify_tried"] == 3 for r in rested)
    assert rep.summary["seconds_per_clip"] > 0 and rep.config["verify"] == 3 and rep.config["mg"] == 0.2
    assert rep.summary["candidates_per_clip"] > 1
