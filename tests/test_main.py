"""The entry point (kinetype/__main__.py): what a signal during the start-up imports does."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# A module that signals its own process half-way through its import and then goes on: it stands for
# torch, whose import runs Python callbacks from C++ where a raised KeyboardInterrupt aborts the process.
MODULE = """
import os, signal, sys
os.kill(os.getpid(), getattr(signal, sys.argv[1]))
open(sys.argv[2], "w").close()  # reached only if the signal waited for the import
"""

PROGRAM = """
import signal, sys
from kinetype.__main__ import _SignalsHeldDuringImport
from kinetype.errors import Terminated, raise_terminated

signal.signal(signal.SIGTERM, raise_terminated)
signal.signal(signal.SIGINT, signal.default_int_handler)  # as a terminal's process has it
if sys.argv[3] == "held":
    sys.meta_path.insert(0, _SignalsHeldDuringImport("selfsignal"))
try:
    import selfsignal
except KeyboardInterrupt as e:  # Terminated is one
    print(type(e).__name__, "after the import" if __import__("os").path.exists(sys.argv[2]) else "inside it")
    print("the import's module kept:", "selfsignal" in sys.modules)
"""


def _run(tmp_path: Path, signal_name: str, mode: str) -> list[str]:
    (tmp_path / "selfsignal.py").write_text(MODULE)
    marker = tmp_path / f"finished-{signal_name}-{mode}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(tmp_path)])}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(PROGRAM), signal_name, str(marker), mode],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_a_signal_during_a_held_import_is_raised_once_the_import_has_run_to_its_end(tmp_path):
    assert _run(tmp_path, "SIGTERM", "held") == ["Terminated after the import", "the import's module kept: False"]
    assert _run(tmp_path, "SIGINT", "held") == ["KeyboardInterrupt after the import", "the import's module kept: False"]


def test_without_the_hold_the_signal_lands_inside_the_import(tmp_path):
    """What the hold is for: unheld, the exception is raised in the middle of the module's code
    (in torch's case, inside a C++ frame, where it aborts the process)."""
    assert _run(tmp_path, "SIGTERM", "unheld")[0] == "Terminated inside it"
