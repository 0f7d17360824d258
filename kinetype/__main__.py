"""The `kinetype` command's entry point, and `python -m kinetype` (used by torchrun:
`torchrun --nproc-per-node G -m kinetype train ...`).

Kept free of kinetype's heavy imports so that a Ctrl-C or a SIGTERM while the CLI's own modules load
(typer, rich: the first tenth of a second) is the same one line and exit status (130, 143) as one
during a command."""

import atexit
import importlib.machinery
import os
import signal
import sys

from kinetype.errors import Terminated, raise_terminated


def _open_std_streams() -> None:
    """Point a standard stream the shell closed (``>&-``, ``2>&-``) at /dev/null. Left closed, its
    number is taken by the next file kinetype opens (a shard, a checkpoint), and whatever writes to
    the stream then — a warning, a worker process, a C library — writes into that file."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    if sys.stdout is None:  # Python found fd 1 closed at start-up
        sys.stdout = open(1, "w", closefd=False)
    if sys.stderr is None:
        sys.stderr = open(2, "w", closefd=False)


def _exit_now(status: int):
    """A signal handler for once the exit status is decided: a Ctrl-C or SIGTERM arriving while
    the interpreter shuts down ends it with that status, not with a traceback or another status."""

    def handler(signum, frame):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(status)

    return handler


class _SignalsHeldDuringImport:
    """A meta-path finder that runs one module's import with SIGINT and SIGTERM held.

    torch's import runs C++ (pybind11) that calls back into Python; a Ctrl-C or SIGTERM handled in
    such a callback raises KeyboardInterrupt / Terminated where it cannot cross the C++ frame, and
    the process aborts (SIGABRT, "terminate called after throwing pybind11::error_already_set")
    instead of printing its one line. Held, the signal stays pending and is handled on the first
    Python line after the import — a second or two later, as the same one line and status."""

    def __init__(self, name: str):
        self.name = name

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):
            held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            try:
                execute(module)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, held)

        spec.loader.exec_module = exec_module  # this loader instance only: the module keeps its loader
        return spec


def _ignore_signals_to_the_end() -> None:
    """The last exit handler (registered first): from here the interpreter only tears itself down,
    and on the way it hands every signal with a Python handler back to the OS's default — a SIGTERM
    landing then would end the process by the signal (status -15) after it had decided its own.
    Ignored signals are left as they are, so one arriving now is dropped with the process."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


def run() -> None:
    atexit.register(_ignore_signals_to_the_end)  # exit handlers run last-registered first: this one last
    _open_std_streams()
    signal.signal(signal.SIGTERM, raise_terminated)
    sys.meta_path.insert(0, _SignalsHeldDuringImport("torch"))
    try:
        from kinetype.cli import main
    except (KeyboardInterrupt, ImportError) as e:
        if not isinstance(e, KeyboardInterrupt) and not isinstance(e.__cause__, KeyboardInterrupt):
            raise
        terminated = isinstance(e, Terminated) or isinstance(e.__cause__, Terminated)
        print(f"stopped: {'terminated' if terminated else 'interrupted'}: nothing was changed", file=sys.stderr)
        sys.exit(143 if terminated else 130)
    try:
        try:
            main()
        except (KeyboardInterrupt, ImportError) as e:  # outside the command group (typer building it)
            from kinetype.cli_errors import INTERRUPTED_DEFAULT, interrupted_cause, stopped

            if interrupted_cause(e) is None:
                raise
            sys.exit(stopped(e, INTERRUPTED_DEFAULT))
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _exit_now(status))
        raise
    finally:
        # CPython remembers a KeyboardInterrupt that left an exec() of a string — dataclasses and
        # namedtuples build their methods that way, so a Ctrl-C landing in an import does — and
        # under `python -m` then ends the process by SIGINT instead of the status the CLI chose
        # (130 after its one line). An exec that completes clears that memory.
        exec("")


if __name__ == "__main__":
    run()
