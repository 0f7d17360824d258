"""Faults only a real process meets, each run as one: closed pipes, worker pools that cannot start,
signals, a full disk (``ulimit -f``), killed writers, two processes at once, an unprivileged user.

Every case checks what a user relies on: the exit status, one ``error:``/``stopped:`` line on
stderr naming the culprit and no traceback, nothing already written lost or half-written, and no
process or temporary file left behind. ``python -m kinetype`` runs from the repository root, so the
working tree's package is the one tested.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_reliability import _unlisted as _unlisted_flipped  # the same damaged folder as the table's case
from test_shards_helpers import REPO, copy_some_templates

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signals, /proc and ulimit as on Linux")

TINY = ["--size", "64", "--frames", "8", "--fps", "8"]
TRAIN = ["train", "--preset", "tiny", "--shards", "synthetic", "--stage", "autoencoder"]


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [extra.pop("PYTHONPATH", "")])]),
            "OMP_NUM_THREADS": "1", "COLUMNS": "200", **extra}


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "kinetype", *map(str, args)]


def kinetype(*args: str, limit_kb: int | None = None, timeout: float = 300, **extra_env: str) -> subprocess.CompletedProcess:
    """Run ``kinetype ARGS`` to the end (``limit_kb``: under ``ulimit -f``, in KiB)."""
    def limit():
        if limit_kb is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_kb * 1024, limit_kb * 1024))

    return subprocess.run(command(*args), cwd=REPO, env=env(**extra_env), capture_output=True, text=True, errors="replace",
                          timeout=timeout, preexec_fn=limit)


def one_line(result: subprocess.CompletedProcess | str, culprit: str, prefix: str = "error") -> str:
    """The stderr's one report line (progress lines before it allowed): it names ``culprit``, and
    nothing on stderr is a traceback."""
    stderr = result if isinstance(result, str) else result.stderr
    assert "Traceback" not in stderr and 'File "' not in stderr and "KeyboardInterrupt" not in stderr, stderr
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    reports = [line for line in lines if line.startswith(("error:", "stopped:", "invalid:"))]
    assert len(reports) == 1 and lines[-1] == reports[0], stderr
    assert reports[0].startswith(f"{prefix}:") and culprit.lower() in reports[0].lower(), reports[0]
    return reports[0]


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".tmp" in p.name)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (workers, the resource tracker), from /proc."""
    parent_of: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent_of[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent_of.items() if pp == p]
        found += kids
        frontier += kids
    return found


def wait_for(predicate, timeout: float, step: float = 0.2) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


# --- the world ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A small rendered dataset, a tiny model, a trained tiny run folder and a pool-breaking site dir."""
    root = tmp_path_factory.mktemp("procs")
    templates = copy_some_templates(root / "templates", count=1)
    r = kinetype("render", "--templates", templates, "--n", "6", "--shard-size", "3", "--out", root / "ds",
                 "--workers", "1", "--quiet", *TINY)
    assert r.returncode == 0, r.stderr
    r = kinetype(*TRAIN, "--out", root / "run", "--max-steps", "20")
    assert r.returncode == 0, r.stderr
    # An interpreter that exits the moment it starts, for every process multiprocessing spawns (they
    # run `python -c ...`): what a pool meets when its workers or resource tracker cannot start.
    (root / "broken_site").mkdir()
    (root / "broken_site" / "sitecustomize.py").write_text(
        "import os, sys\nif sys.argv and sys.argv[0] == '-c':\n    os._exit(1)\n")
    from model_helpers import tiny_pipeline_folder

    tiny_pipeline_folder(root / "model", num_frames=4)
    return root


# --- issue 21: a broken pipe is not success --------------------------------------------------------------


def test_stdout_closed_by_head_is_a_quiet_success():
    proc = subprocess.Popen(command("templates", "list", "--json"), cwd=REPO, env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout.read(10).startswith(b"[")  # `| head -c 10`, then the reader leaves
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and stderr == "", stderr


def test_stdout_not_open_at_all_is_a_quiet_success():
    r = subprocess.run(["sh", "-c", 'exec "$@" >&-', "sh", *command("templates", "list", "--json")], cwd=REPO,
                       env=env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr


@pytest.mark.parametrize("damaged", [False, True], ids=["valid dataset", "damaged dataset"])
def test_stdout_closed_by_head_keeps_the_verdict(world, tmp_path, damaged):
    """`shards verify DIR | head -1`: the reader leaving loses the text, not the exit status."""
    ds = tmp_path / "ds"
    shutil.copytree(world / "ds", ds)
    if damaged:
        (ds / "shard-000000.stats.json").unlink()
    proc = subprocess.Popen(command("shards", "verify", ds), cwd=REPO, env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == (3 if damaged else 0), stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize("closed", [">&-", "2>&-", ">&- 2>&-", "<&- >&-"])
def test_closed_standard_streams_take_no_files_number(world, tmp_path, closed):
    """A stream the shell closed is /dev/null to kinetype: no shard it opens takes its number (a
    worker's or a library's write would then land in the shard)."""
    out = tmp_path / "ds"
    r = subprocess.run(["sh", "-c", f'exec "$@" {closed}', "sh",
                        *command("render", "--templates", world / "templates", "--n", "4", "--shard-size", "2",
                                 "--out", out, "--workers", "2", *TINY)],
                       cwd=REPO, env=env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert kinetype("shards", "verify", out).returncode == 0


def test_stderr_closed_by_head_does_not_stop_a_render(world, tmp_path):
    """Progress goes to stderr; its reader leaving loses the progress, not the dataset."""
    out = tmp_path / "ds"
    proc = subprocess.Popen(command("render", "--templates", world / "templates", "--n", "4", "--shard-size", "2",
                                    "--out", out, "--workers", "1", *TINY),
                            cwd=REPO, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    proc.stderr.read(5)
    proc.stderr.close()
    assert proc.wait(timeout=300) == 0
    assert (out / "manifest.parquet").is_file() and not temporaries(out)


@pytest.mark.parametrize("args,culprit", [
    (["render", "--templates", "{w}/templates", "--n", "4", "--shard-size", "2", "--out", "{t}/ds", "--workers", "2",
      "--quiet", *TINY], "render"),
    (["eval", "renders", "--n", "2", "--workers", "2", *TINY[:4], "--out", "{t}/ev", "--quiet"], "eval"),
    (["shards", "verify", "{w}/ds", "--workers", "2"], "shards verify"),
], ids=["render", "eval renders", "shards verify"])
def test_a_pool_that_cannot_start_is_an_error_not_a_success(world, tmp_path, args, culprit):
    args = [a.replace("{w}", str(world)).replace("{t}", str(tmp_path)) for a in args]
    before = snapshot(world / "ds")
    r = kinetype(*args, PYTHONPATH=str(world / "broken_site"), timeout=240)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "worker process" in one_line(r, culprit)
    assert snapshot(world / "ds") == before
    assert not (tmp_path / "ev").exists(), "a failed eval left its output folder"
    assert not temporaries(tmp_path)


# --- issue 21: run history and checkpoints on a full disk ------------------------------------------------


@pytest.fixture
def run(world, tmp_path):
    """A copy of the trained run (20 steps, one checkpoint) to damage."""
    run = tmp_path / "run"
    shutil.copytree(world / "run", run, ignore=shutil.ignore_patterns("pipeline"))
    return run


def _history(run: Path) -> tuple[list[str], list[str]]:
    return (run / "metrics.jsonl").read_text().splitlines(), sorted(p.name for p in (run / "checkpoints").iterdir())


@pytest.mark.parametrize("limit_kb,culprit", [(1, "config.json"), (64, "step_00000040")],
                         ids=["disk full at the first write", "disk full writing the checkpoint"])
def test_a_full_disk_while_resuming_loses_nothing(run, limit_kb, culprit):
    metrics, checkpoints = _history(run)
    r = kinetype(*TRAIN, "--out", run, "--max-steps", "40", limit_kb=limit_kb)
    assert r.returncode == 2, r.stderr
    line = one_line(r, culprit)
    after_metrics, after_checkpoints = _history(run)
    assert after_metrics[: len(metrics)] == metrics, "the run's history was cut"
    assert after_checkpoints == checkpoints and not temporaries(run), after_checkpoints
    if "checkpoint" in line:
        assert "step_00000020, is kept" in line
    r = kinetype(*TRAIN, "--out", run, "--max-steps", "40")  # room again: it resumes from the last whole checkpoint
    assert r.returncode == 0 and "resumed" in r.stdout, r.stderr
    assert [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()] == list(range(1, 41))


def test_a_torn_last_metrics_line_is_dropped_with_a_note(run):
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"step": 21, "lo')
    r = kinetype(*TRAIN, "--out", run, "--max-steps", "25")
    assert r.returncode == 0, r.stderr
    assert "dropped 1 unreadable line" in r.stdout
    assert [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()] == list(range(1, 26))


def _metrics_lines(run: Path) -> list[bytes]:
    return (run / "metrics.jsonl").read_bytes().splitlines(keepends=True)


@pytest.mark.parametrize("tail", [b"\0" * 300, b'{"step": true}', b"\xff\xfe"], ids=["NUL bytes", "a bool step", "not UTF-8"])
def test_any_torn_last_metrics_line_is_cut_and_the_rest_kept_byte_for_byte(run, tail):
    before = (run / "metrics.jsonl").read_bytes()
    with open(run / "metrics.jsonl", "ab") as f:
        f.write(tail)
    r = kinetype(*TRAIN, "--out", run, "--max-steps", "21")
    assert r.returncode == 0, r.stderr
    assert (run / "metrics.jsonl").read_bytes().startswith(before), "the run's history was rewritten"
    assert [json.loads(x)["step"] for x in _metrics_lines(run)] == list(range(1, 22))


def test_a_whole_last_metrics_line_without_its_newline_is_kept(run):
    data = (run / "metrics.jsonl").read_bytes()
    (run / "metrics.jsonl").write_bytes(data[:-1])
    r = kinetype(*TRAIN, "--out", run, "--max-steps", "21")
    assert r.returncode == 0, r.stderr
    assert (run / "metrics.jsonl").read_bytes().startswith(data)
    assert [json.loads(x)["step"] for x in _metrics_lines(run)] == list(range(1, 22))


@pytest.mark.parametrize("line", [b'{"step": 6, "lo\n', b'{"step": "6"}\n', b"\xff\xfe\n"],
                         ids=["torn", "a string step", "not UTF-8"])
def test_damage_before_the_last_metrics_line_is_one_line_and_rewrites_nothing(run, line):
    lines = _metrics_lines(run)
    (run / "metrics.jsonl").write_bytes(b"".join(lines[:5] + [line] + lines[6:]))
    before = snapshot(run)
    r = kinetype(*TRAIN, "--out", run, "--max-steps", "21")
    assert r.returncode == 2
    assert "line 6" in one_line(r, "metrics.jsonl")
    after = snapshot(run)
    before.pop("config.json"), after.pop("config.json")  # its new max_steps, written whole before the history is read
    assert after == before


@pytest.mark.parametrize("kind", ["folder", "FIFO"])
def test_a_metrics_file_that_is_not_a_file_is_one_line(run, kind):
    (run / "metrics.jsonl").unlink()
    (run / "metrics.jsonl").mkdir() if kind == "folder" else os.mkfifo(run / "metrics.jsonl")
    r = kinetype(*TRAIN, "--out", run, "--max-steps", "21", timeout=240)
    assert r.returncode == 2
    one_line(r, "metrics.jsonl")


@pytest.mark.parametrize("limit_kb", [4, 8])
def test_a_full_disk_in_a_fresh_run_is_one_line(tmp_path, limit_kb):
    """TensorBoard's writer thread met the limit first and printed its own traceback."""
    r = kinetype(*TRAIN, "--out", tmp_path / "run", "--max-steps", "16", limit_kb=limit_kb)
    assert r.returncode == 2, r.stderr
    one_line(r, "File too large")


@pytest.mark.parametrize("text", ["", "[1, 2]", '{"stage": 3}', "{ not json", "[" * 100000, '{"a": ' * 100000,
                                  '{"stage": "caf\xe9"}'],
                         ids=["empty", "list", "bad field", "garbage", "deep list", "deep object", "latin-1"])
def test_a_damaged_run_config_is_one_line(run, text):
    (run / "config.json").write_bytes(text.encode("latin-1"))
    before = snapshot(run)
    r = kinetype(*TRAIN, "--out", run, "--max-steps", "30")
    assert r.returncode == 2
    one_line(r, "config.json")
    assert snapshot(run) == before


# --- issue 21: weights checked whole ------------------------------------------------------------------------


def _reindex(folder: Path) -> None:
    from kinetype.model.weights import digests

    index = json.loads((folder / "model_index.json").read_text())
    index["sha256"] = digests(folder)
    (folder / "model_index.json").write_text(json.dumps(index))


def _retyped(dtype: str):
    def change(folder: Path) -> None:
        import torch
        from safetensors.torch import load_file, save_file

        f = folder / "denoiser" / "model.safetensors"
        state = load_file(f)
        name = sorted(state)[0]
        state[name] = state[name].to(getattr(torch, dtype))
        save_file(state, f)
        _reindex(folder)
    return change


def _reshaped(folder: Path) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    f = folder / "text_encoder" / "model.safetensors"
    state = load_file(f)
    state[sorted(state)[0]] = torch.zeros(3, 3)
    save_file(state, f)
    _reindex(folder)


def _no_digests(folder: Path) -> None:
    index = json.loads((folder / "model_index.json").read_text())
    del index["sha256"]
    (folder / "model_index.json").write_text(json.dumps(index))


def _extra_file(folder: Path) -> None:
    shutil.copy(folder / "denoiser" / "model.safetensors", folder / "denoiser" / "extra.safetensors")


@pytest.mark.parametrize("change,culprit", [
    (_unlisted_flipped, "not listed"), (_retyped("int32"), "I32"), (_retyped("bool"), "BOOL"),
    (_reshaped, "shape"), (_no_digests, "sha256"), (_extra_file, "extra.safetensors"),
], ids=["unlisted file with a flipped byte", "int32 weights", "bool weights", "a shape the config does not build",
        "no sha256 table", "an extra weights file"])
@pytest.mark.parametrize("cmd", ["generate", "eval model"])
def test_weights_are_checked_whole_before_a_model_is_built(world, tmp_path, change, culprit, cmd):
    model = tmp_path / "model"
    shutil.copytree(world / "model", model)
    change(model)
    before = snapshot(tmp_path)
    args = (["generate", "Hello", "--motion", "wave", "--steps", "2", "--out", tmp_path / "g.gif"] if cmd == "generate"
            else ["eval", "model", "--n", "1", "--steps", "2", "--workers", "1", "--out", tmp_path / "ev", "--quiet"])
    r = kinetype(*args, "--model", model)
    assert r.returncode == 2, r.stderr
    one_line(r, culprit)
    assert snapshot(tmp_path) == before and not (tmp_path / "ev").exists()


# --- issue 21: temporary names fit wherever the final name does -------------------------------------------


@pytest.mark.parametrize("length", [254, 255])
def test_the_longest_legal_output_names_are_written(world, tmp_path, length):
    gif = "p" * (length - 4) + ".gif"
    r = kinetype("preview", "--random", "--templates", world / "templates", "--size", "32", "--frames", "4",
                 "--out", tmp_path / gif)
    assert r.returncode == 0, r.stderr
    folder = "e" * length
    r = kinetype("export", world / "ds", tmp_path / folder)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([gif, folder])
    assert (tmp_path / folder / "video_info.csv").is_file()


# --- issue 20: no process outlives a killed command ------------------------------------------------------


def _start(args: list[str], tmp_path: Path) -> subprocess.Popen:
    return subprocess.Popen(command(*args), cwd=REPO, env=env(), start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _eval_args(world: Path, tmp_path: Path) -> list[str]:
    return ["eval", "renders", "--n", "40", "--workers", "2", "--templates", str(world / "templates"), *TINY,
            "--out", str(tmp_path / "ev"), "--quiet"]


def _eval_model_args(world: Path, tmp_path: Path) -> list[str]:
    return ["eval", "model", "--model", str(world / "model"), "--n", "40", "--steps", "2", "--workers", "2",
            "--out", str(tmp_path / "ev"), "--quiet"]


def _render_args(world: Path, tmp_path: Path) -> list[str]:
    return ["render", "--templates", str(world / "templates"), "--n", "400", "--shard-size", "50",
            "--out", str(tmp_path / "ds"), "--workers", "2", "--quiet", *TINY]


@pytest.mark.parametrize("make_args", [_eval_args, _eval_model_args, _render_args],
                         ids=["eval renders", "eval model", "render"])
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_no_worker_or_resource_tracker_outlives_a_killed_command(world, tmp_path, make_args, sig):
    proc = _start(make_args(world, tmp_path), tmp_path)
    try:
        assert wait_for(lambda: len(descendants(proc.pid)) >= 3 or proc.poll() is not None, 120), "no workers started"
        assert proc.poll() is None, proc.communicate()
        time.sleep(1.0)
        below = descendants(proc.pid)  # two workers and the resource tracker
        os.kill(proc.pid, sig)
        _, stderr = proc.communicate(timeout=60)
        assert wait_for(lambda: not any(alive(p) for p in below), 15), [p for p in below if alive(p)]
        if sig == signal.SIGTERM:  # as clean as Ctrl-C: one line, its own exit status
            assert proc.returncode == 128 + signal.SIGTERM
            one_line(stderr, "terminated", prefix="stopped")
            assert not temporaries(tmp_path)
        else:  # kill -9 runs no clean-up: only a shard in progress, which the next render removes first
            assert all(n.startswith(".shard-") and ".tmp-" in n for n in temporaries(tmp_path)), temporaries(tmp_path)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_killed_resource_tracker_is_replaced_quietly(world, tmp_path):
    """The replacement tracker is told to forget semaphores only its predecessor knew: it printed a
    KeyError traceback for each after the render's own output."""
    args = _render_args(world, tmp_path)
    args[args.index("--n") + 1], args[args.index("--shard-size") + 1] = "60", "10"
    proc = _start(args, tmp_path)
    try:
        def tracker() -> list[int]:
            return [p for p in descendants(proc.pid)
                    if b"resource_tracker" in Path(f"/proc/{p}/cmdline").read_bytes()] if proc.poll() is None else []
        assert wait_for(lambda: tracker() or proc.poll() is not None, 120)
        for pid in tracker():
            os.kill(pid, signal.SIGKILL)
        _, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0 and "Traceback" not in stderr, stderr
        assert kinetype("shards", "verify", tmp_path / "ds").returncode == 0
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.parametrize("delay_s", [0.3, 1.0, 2.0, 4.0])
def test_ctrl_c_at_any_moment_of_a_render_is_one_line(world, tmp_path, delay_s):
    """SIGINT to the whole process group, as a terminal's Ctrl-C sends it: the workers starting
    then must not print tracebacks of their own."""
    proc = _start(_render_args(world, tmp_path), tmp_path)
    try:
        time.sleep(delay_s)
        below = descendants(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
        if proc.returncode == 0:  # finished before the interrupt arrived
            return
        assert proc.returncode == 130, (proc.returncode, stderr)
        one_line(stderr, "interrupted", prefix="stopped")
        assert wait_for(lambda: not any(alive(p) for p in below + descendants(proc.pid)), 15)
        assert not [p for p in (tmp_path / "ds").glob("*") if ".tmp-" in p.name] if (tmp_path / "ds").exists() else True
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.parametrize("delay_s", [0.3, 0.6, 1.0, 2.0])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("what", ["train", "shards verify --workers 2"])
def test_a_signal_at_any_moment_is_one_line_and_its_own_status(world, tmp_path, what, sig, delay_s):
    """From the interpreter's first kinetype line on: while typer builds the commands, while pool
    workers start, while a DataLoader runs. Sent to the whole group, as a terminal's Ctrl-C is."""
    args = ([*TRAIN, "--out", str(tmp_path / "run"), "--max-steps", "3"] if what == "train"
            else ["shards", "verify", str(world / "ds"), "--workers", "2"])
    proc = _start(args, tmp_path)
    try:
        time.sleep(delay_s)
        below = descendants(proc.pid)
        os.killpg(proc.pid, sig)
        _, stderr = proc.communicate(timeout=120)
        if proc.returncode == 0:  # finished before the signal arrived
            return
        assert proc.returncode == 128 + sig, (proc.returncode, stderr)
        one_line(stderr, "terminated" if sig == signal.SIGTERM else "interrupted", prefix="stopped")
        assert wait_for(lambda: not any(alive(p) for p in below + descendants(proc.pid)), 15)
        assert not temporaries(tmp_path)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_signal_after_the_exit_status_is_decided_keeps_it(tmp_path):
    """A SIGTERM while the interpreter shuts down, once the command has succeeded: still 0."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import atexit, os, signal, time\n"
        "atexit.register(lambda: (os.kill(os.getpid(), signal.SIGTERM), time.sleep(1)))\n")
    r = kinetype("templates", "list", PYTHONPATH=str(site))
    assert r.returncode == 0 and "Traceback" not in r.stderr, (r.returncode, r.stderr)


def test_data_loader_workers_end_with_a_killed_trainer(tmp_path):
    config = tmp_path / "workers.toml"
    config.write_text("[data]\nnum_workers = 2\n")
    proc = _start([*TRAIN, "--config", str(config), "--out", str(tmp_path / "run"), "--max-steps", "500"], tmp_path)
    try:
        assert wait_for(lambda: len(descendants(proc.pid)) >= 2 or proc.poll() is not None, 180), "no loader workers"
        assert proc.poll() is None, proc.communicate()
        below = descendants(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
        assert wait_for(lambda: not any(alive(p) for p in below), 3), [p for p in below if alive(p)]
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_ctrl_c_through_a_dataclass_being_built_still_exits_130(world, tmp_path):
    """dataclasses and namedtuples build methods with exec(): a Ctrl-C landing there (during an
    import) made CPython end `python -m kinetype` by SIGINT after the one line, not with 130."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import kinetype.shards\n"
        "def interrupted(*a, **k):\n    exec('raise KeyboardInterrupt')\n"
        "kinetype.shards.render_dataset = interrupted\n")
    r = kinetype(*_render_args(world, tmp_path), PYTHONPATH=str(site))
    assert r.returncode == 130, (r.returncode, r.stderr)
    one_line(r, "interrupted", prefix="stopped")


def test_a_ctrl_c_while_a_worker_starts_leaves_no_worker_behind(monkeypatch):
    """The interrupt taken by another thread while a worker is being spawned: the child exists but its
    start has not finished. The pool must still end it (left alone, it printed a traceback later)."""
    import threading
    from multiprocessing import util

    from kinetype import workers

    spawned: list[int] = []
    real = util.spawnv_passfds

    def spawn_then_ctrl_c(path, args, passfds):
        pid = real(path, args, passfds)
        if any("spawn_main" in str(a) for a in args):  # a worker, not the resource tracker
            spawned.append(pid)
            # SIGINT is blocked in this thread here: the kernel hands it to the other one.
            other = threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGINT))
            other.start()
            other.join()
        return pid

    monkeypatch.setattr(util, "spawnv_passfds", spawn_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        workers.process_pool(2, what="test")
    assert spawned and not [pid for pid in spawned if alive(pid)], spawned


# --- issue 20: what a killed export leaves is removed by the next run --------------------------------------


def _leave_a_killed_writers_temporary(target: Path) -> Path:
    """A real writer killed mid-way: a process makes the temporary export folder and dies by SIGKILL."""
    code = ("import os, sys; from pathlib import Path; from kinetype.fsutil import temp_sibling\n"
            "tmp = temp_sibling(Path(sys.argv[1])); tmp.mkdir(); (tmp / 'videos').mkdir()\n"
            "(tmp / 'video_info.csv').write_bytes(b'x' * 100000); print(tmp, flush=True)\n"
            "os.kill(os.getpid(), 9)\n")
    r = subprocess.run([sys.executable, "-c", code, str(target)], cwd=REPO, env=env(), capture_output=True, text=True)
    assert r.returncode == -signal.SIGKILL
    left = Path(r.stdout.strip())
    assert left.is_dir() and left.parent == target.parent
    return left


def test_a_rerun_of_export_removes_what_a_killed_one_left(world, tmp_path):
    left = _leave_a_killed_writers_temporary(tmp_path / "export")
    r = kinetype("export", world / "ds", tmp_path / "export")
    assert r.returncode == 0, r.stderr
    assert not left.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["export"]


def test_a_failed_export_also_removes_what_a_killed_one_left_and_nothing_else(world, tmp_path):
    left = _leave_a_killed_writers_temporary(tmp_path / "export")
    (tmp_path / "keep.txt").write_text("mine")
    r = kinetype("export", world / "ds", tmp_path / "export", "--format", "nope")
    assert r.returncode == 2 and one_line(r, "--format")
    r = kinetype("export", world / "ds", tmp_path / "export")
    assert r.returncode == 0 and not left.exists() and (tmp_path / "keep.txt").read_text() == "mine"


def test_a_live_writers_temporary_is_left_alone(world, tmp_path):
    """Two exports side by side: the second must not take the first one's folder for a leftover."""
    from kinetype.fsutil import remove_stale_temporaries, temp_sibling

    mine = temp_sibling(tmp_path / "export")
    mine.mkdir()
    assert remove_stale_temporaries(tmp_path / "export") == [] and mine.is_dir()
    r = kinetype("export", world / "ds", tmp_path / "export")
    assert r.returncode == 0 and mine.is_dir()


def test_a_real_export_killed_mid_way_is_cleared_by_the_rerun(world, tmp_path):
    proc = _start(["export", str(world / "ds"), str(tmp_path / "export")], tmp_path)
    wait_for(lambda: any(".tmp-" in p.name for p in tmp_path.iterdir()) or proc.poll() is not None, 60, step=0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    if not (tmp_path / "export").exists():  # killed before the rename: a rerun finishes it
        r = kinetype("export", world / "ds", tmp_path / "export")
        assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


# --- issue 20: a reader that cannot read is an error ----------------------------------------------------------


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="needs tesseract")
@pytest.mark.parametrize("reader", ["tesseract", "both"])
def test_a_broken_tesseract_is_an_error_not_a_score(world, tmp_path, reader):
    r = kinetype("eval", "renders", "--n", "2", "--workers", "1", "--reader", reader, *TINY,
                 "--out", tmp_path / "ev", "--quiet", TESSDATA_PREFIX=str(tmp_path / "nowhere"))
    assert r.returncode == 2, r.stderr
    one_line(r, "tesseract")
    assert not (tmp_path / "ev").exists()


@pytest.mark.parametrize("prints", ["Hello", ""], ids=["plain text", "nothing"])
def test_a_tesseract_whose_output_is_not_tsv_is_an_error_not_a_score(tmp_path, prints):
    """A `tesseract` on PATH that answers --version but prints no TSV (a wrapper, an old build)."""
    fake = tmp_path / "bin" / "tesseract"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\nif [ "$1" = "--version" ]; then echo "tesseract 5.3.0"; exit 0; fi\n'
                    f'cat >/dev/null\necho "{prints}"\n')
    fake.chmod(0o755)
    r = kinetype("eval", "renders", "--n", "2", "--workers", "1", "--reader", "tesseract", *TINY,
                 "--out", tmp_path / "ev", "--quiet", PATH=f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    assert r.returncode == 2, r.stderr
    assert "TSV" in one_line(r, "tesseract")
    assert not (tmp_path / "ev").exists()


# --- issue 20: an unprivileged user and a place it cannot write -------------------------------------------

# nobody, allowed to read everything (the interpreter may live under root's home) but to write only
# where the permissions let it: CAP_DAC_READ_SEARCH bypasses read and search checks, never writes.
AS_NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
             "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]


def _can_run_as_nobody() -> bool:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return False
    r = subprocess.run([*AS_NOBODY, sys.executable, "-c", "import os; print(os.getuid())"], capture_output=True, text=True)
    return r.returncode == 0 and r.stdout.strip() == "65534"


NOT_WRITABLE = [
    ("render", ["render", "--templates", "{w}/templates", "--n", "4", "--shard-size", "2", "--out", "{ro}/ds", "--workers",
                "1", "--quiet", *TINY]),
    ("render --workers 2", ["render", "--templates", "{w}/templates", "--n", "4", "--shard-size", "2", "--out", "{ro}/ds",
                            "--workers", "2", "--quiet", *TINY]),
    ("render resumed in a folder not its own", ["render", "--templates", "{w}/templates", "--n", "6", "--shard-size", "3",
                                                "--out", "{ro}/part", "--workers", "2", "--quiet", *TINY]),
    ("export", ["export", "{w}/ds", "{ro}/export"]),
    ("preview", ["preview", "--random", "--templates", "{w}/templates", "--size", "32", "--frames", "4", "--out", "{ro}/p.gif"]),
    ("templates sheet", ["templates", "sheet", "--templates", "{w}/templates", "--size", "32", "--out", "{ro}/sheets"]),
    ("shards inspect --sheet", ["shards", "inspect", "{w}/ds", "--sheet", "{ro}/s.png"]),
    ("generate --out", ["generate", "Hello", "--motion", "wave", "--steps", "2", "--model", "{w}/model", "--out", "{ro}/g.gif"]),
    ("generate (default name here)", ["generate", "Hello", "--motion", "wave", "--steps", "2", "--model", "{w}/model"]),
    ("eval renders", ["eval", "renders", "--n", "2", "--workers", "1", *TINY, "--out", "{ro}/ev", "--quiet"]),
    ("eval model", ["eval", "model", "--model", "{w}/model", "--n", "1", "--steps", "2", "--workers", "1", "--out", "{ro}/ev",
                    "--quiet"]),
    ("train", [*TRAIN, "--out", "{ro}/run", "--max-steps", "2"]),
    ("train resumed in a run not its own", [*TRAIN, "--out", "{ro}/run_done", "--max-steps", "30"]),
]


@pytest.fixture(scope="module")
def open_world(world):
    """The world's inputs where everyone may read them (pytest's own folders are root's alone), each
    test's output place beside them."""
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="kinetype-nobody-"))
    for name in ("templates", "ds", "model", "run"):
        shutil.copytree(world / name, root / name)
    for p in [root, *root.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.skipif(not _can_run_as_nobody(), reason="needs root to become an unprivileged user (setpriv)")
@pytest.mark.parametrize("name,args", NOT_WRITABLE, ids=[n for n, _ in NOT_WRITABLE])
def test_an_unprivileged_user_gets_one_line_where_it_cannot_write(open_world, name, args):
    world = open_world
    ro = world / name.replace(" ", "_")  # root's, 0755: nobody may read it, not write
    ro.mkdir()
    shutil.copytree(world / "ds", ro / "part")
    (ro / "part" / "shard-000001.stats.json").unlink()  # a render to finish
    shutil.copytree(world / "run", ro / "run_done", ignore=shutil.ignore_patterns("pipeline"))
    for p in [ro, *ro.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    before = snapshot(ro)
    args = [a.replace("{w}", str(world)).replace("{ro}", str(ro)) for a in args]
    r = subprocess.run([*AS_NOBODY, *command(*args)], cwd=ro, env=env(HOME="/nonexistent"), capture_output=True,
                       text=True, timeout=180)
    assert r.returncode == 2, (r.returncode, r.stderr)
    line = one_line(r, str(ro))
    assert "not writable" in line or "Permission denied" in line, line
    assert snapshot(ro) == before


# --- issue 18: two writers of one default name ----------------------------------------------------------------


def test_two_generate_runs_never_write_one_file(world, tmp_path):
    """Both pick Hello-wave.mp4 when they start; the one that finishes second takes the next free name
    and says so, instead of silently replacing the first one's clip."""
    args = command("generate", "Hello", "--motion", "wave", "--steps", "2", "--model", world / "model")
    procs = [subprocess.Popen(args, cwd=tmp_path, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["Hello-wave-2.mp4", "Hello-wave.mp4"], written
    said = " ".join(o for o, _ in outs)
    assert "wrote Hello-wave.mp4" in said and "wrote Hello-wave-2.mp4" in said, said


# --- issue 18: foreign data, hostile environments -----------------------------------------------------------


def test_shards_of_no_valid_sample_stop_training_with_one_line(tmp_path):
    """Tars that are tars but hold no kinetype sample: the loader used to skip through them for ever."""
    import io
    import tarfile

    junk = tmp_path / "junk"
    junk.mkdir()
    for k in range(2):
        with tarfile.open(junk / f"shard-{k:06d}.tar", "w") as tar:
            for i in range(5):
                for ext in ("mp4", "json", "txt"):
                    member = tarfile.TarInfo(f"s{k}{i:04d}.{ext}")
                    member.size = 2400
                    tar.addfile(member, io.BytesIO(b"junk" * 600))
    r = kinetype(*TRAIN, "--shards", junk, "--out", tmp_path / "run", "--max-steps", "2", timeout=240)
    assert r.returncode == 2, r.stderr[-2000:]
    assert "damaged" in one_line(r, "junk")
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
@pytest.mark.parametrize("args", [["templates", "list"], ["fonts", "list"],
                                  ["preview", "--random", "--size", "32", "--frames", "4", "--out", "{t}/ünï/p.gif"]],
                         ids=["templates list", "fonts list", "preview to a non-ASCII path"])
def test_an_output_encoding_that_cannot_hold_the_text_is_no_error(tmp_path, encoding, args):
    (tmp_path / "ünï").mkdir()
    r = kinetype(*[a.replace("{t}", str(tmp_path)) for a in args], PYTHONIOENCODING=encoding)
    assert r.returncode == 0 and "Traceback" not in r.stderr and "UnicodeEncodeError" not in r.stderr, r.stderr


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_an_error_about_a_non_ascii_path_is_one_line_in_any_encoding(tmp_path, encoding):
    r = kinetype("shards", "verify", tmp_path / "ünï", PYTHONIOENCODING=encoding)
    assert r.returncode == 2
    one_line(r, "render_config.json")


def test_a_word_is_named_as_typed():
    """A byte that is not UTF-8 on the command line is shown as that byte, not as Python's U+DCxx."""
    r = subprocess.run([*map(os.fsencode, command("preview", "--random", "--size", "32", "--frames", "4")), b"--word",
                        b"H\xffllo"], cwd=REPO, env=env(), capture_output=True, timeout=120)
    assert r.returncode == 2
    line = one_line(r.stderr.decode("utf-8", "replace"), "0xFF")
    assert "H\\xffllo" in line and "DCFF" not in line.upper(), line


def test_a_dataset_card_of_a_path_that_is_not_utf8_is_written_as_utf8(world, tmp_path):
    out = os.fsencode(tmp_path) + b"/d\xff"
    r = subprocess.run([*map(os.fsencode, command("render", "--templates", world / "templates", "--n", "2",
                                                  "--shard-size", "2", "--workers", "1", "--quiet", *TINY)),
                        b"--out", out], cwd=REPO, env=env(), capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode("utf-8", "replace")
    (Path(os.fsdecode(out)) / "README.md").read_bytes().decode("utf-8")
