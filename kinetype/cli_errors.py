"""The CLI's one error-reporting path: exit codes, one-line messages, Ctrl-C.

Every command is wrapped in :func:`user_errors`, and the top-level group (:class:`OneLineErrorsGroup`)
turns click's usage errors into the same one line. Messages are printed as plain text, never
parsed as Rich markup, so user text such as ``--word '[/x]'`` is shown as it is.

Exit codes (the README's table):

====  =================================================================================
0     success
1     a check failed (``templates validate`` found errors, ``shards verify`` found corrupt data)
2     a user error: bad argument, bad file, missing or unwritable path (nothing was changed)
3, 4  ``shards verify`` only: samples missing (3), corrupt and missing (4)
130   interrupted (Ctrl-C); finished outputs are kept, nothing half-written is left
143   terminated (SIGTERM): the same clean stop as Ctrl-C
====  =================================================================================

A closed stdout (``kinetype templates list | head -1``) is the reader saying it has enough: what
is printed after that is dropped, quietly, and the exit status is still the work's — 0 when all
went well, but ``shards verify DIR | head -1`` on a damaged dataset still exits 1, 3 or 4 (the
status is the verdict, whoever reads the text). Any other broken pipe is an error like any other
OSError. A closed stderr likewise only loses the progress bar and notes.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import select
import signal
import sys
import traceback
from typing import Callable

import click
import typer
import typer.core

try:  # typer >= 0.20 vendors click as typer._click: its exceptions are not click's
    from typer._click import exceptions as _typer_click
except ImportError:  # pragma: no cover - older typer uses click itself
    _typer_click = click.exceptions

NoArgsIsHelp = tuple({getattr(m, "NoArgsIsHelpError") for m in (click.exceptions, _typer_click)
                      if hasattr(m, "NoArgsIsHelpError")})
ClickError = (click.exceptions.ClickException, _typer_click.ClickException)
AbortError = tuple({click.exceptions.Abort, getattr(typer, "Abort", click.exceptions.Abort)})
from rich.console import Console
from rich.markup import escape  # noqa: F401 - re-exported: escape user text printed with markup
from rich.text import Text

from kinetype.errors import KinetypeError, Terminated, raise_terminated

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 128 + signal.SIGTERM


err_console = Console(stderr=True, highlight=False, soft_wrap=True)

# What Ctrl-C leaves behind, per command (the function name); the default fits any atomic command.
INTERRUPTED = {
    "render": "interrupted: finished shards are kept; run the same command again to continue",
    "train": "interrupted: finished checkpoints are kept; run the same command with --resume to continue",
    "shards_verify": "interrupted: nothing was changed",
    "shards_inspect": "interrupted: nothing was changed (no contact sheet written)",
    "export": "interrupted: no export written",
}
INTERRUPTED_DEFAULT = "interrupted: outputs are written whole or not at all; nothing half-written is left"


def report(message: str, prefix: str = "error") -> None:
    """Print ``prefix: message`` as one plain line on stderr (no markup, no highlighting)."""
    line = " ".join(str(message).split())  # one line, whatever the message holds
    err_console.print(Text(f"{prefix}: ", style="red") + Text(line))


def os_error_line(e: OSError) -> str:
    """``PATH: reason`` for an operating-system error (permission, not a folder, disk full...); one
    without a path names the code that met it (a worker pool's pipe, a library's file)."""
    reason = e.strerror or (errno.errorcode.get(e.errno, "") if e.errno else "") or str(e) or type(e).__name__
    if e.filename is not None and e.filename2 is not None:
        return f"{e.filename} -> {e.filename2}: {reason}"
    if e.filename is not None:
        return f"{e.filename}: {reason}"
    where = _origin(e)
    what = "a pipe to another process broke" if e.errno == errno.EPIPE else "cannot read or write"
    return f"{what}{f' (in {where})' if where else ''}: {reason}" + (f" ({e})" if str(e) and str(e) != reason else "")


def _origin(e: BaseException) -> str:
    """``package/module.py:line`` of the innermost frame that raised ``e``."""
    frames = traceback.extract_tb(e.__traceback__) if e.__traceback__ is not None else []
    if not frames:
        return ""
    parts = frames[-1].filename.replace("\\", "/").split("/")
    return f"{'/'.join(parts[-2:])}:{frames[-1].lineno}"


def _stdout_gone() -> bool:
    """Whether stdout's reader has gone (``| head`` exited) or stdout was never open (``>&-``).

    Asked of the file descriptor, not of the error: a BrokenPipeError from a worker pool's pipe
    must not pass for a reader that had enough. A pipe whose readers are all closed polls POLLERR.
    """
    try:
        fd = sys.__stdout__.fileno() if sys.__stdout__ is not None else -1
    except (OSError, ValueError, AttributeError):
        return True
    if fd < 0:
        return True
    try:
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLNVAL) for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no poll() (Windows): trust the error
        return True


def _silence(fd: int) -> None:
    """Point ``fd`` at /dev/null, so the interpreter's last flush of a broken stream is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except OSError:
        pass


class _DiagnosticStream:
    """stdout or stderr while a command runs: when its reader goes away (``| head``) the writes are
    dropped and the command goes on, since printed text is not the work (a dataset, a verdict, a
    checkpoint); everything else is the wrapped stream's. Wrapping the stream, not catching the
    error, also keeps rich from meeting the broken pipe (its own handler exits 1, whatever the work)."""

    def __init__(self, stream):
        self._stream = stream
        self._broken = False

    def write(self, text: str) -> int:
        if not self._broken:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._break()
        return len(text)

    def flush(self) -> None:
        if not self._broken:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._break()

    def _break(self) -> None:
        self._broken = True
        try:
            _silence(self._stream.fileno())
        except (OSError, ValueError, AttributeError):
            pass

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextlib.contextmanager
def guarded_process():
    """What a running command needs beyond the error path: SIGTERM stops it as Ctrl-C does, a
    stdout or stderr whose reader left does not end the work, and text the output's encoding cannot hold is
    escaped, not an error. Both are undone at the end (a test runner or
    an embedding program keeps its own)."""
    strict = [stream for stream in (sys.stdout, sys.stderr) if _escape_unencodable(stream)]
    stdout, stderr = sys.stdout, sys.stderr
    if stdout is not None and not isinstance(stdout, _DiagnosticStream):
        sys.stdout = _DiagnosticStream(stdout)
    if stderr is not None and not isinstance(stderr, _DiagnosticStream):
        sys.stderr = _DiagnosticStream(stderr)
    try:
        previous = signal.signal(signal.SIGTERM, raise_terminated)
    except ValueError:  # not the main thread: leave the handlers alone
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if isinstance(sys.stdout, _DiagnosticStream) and sys.stdout._stream is stdout:
            sys.stdout = stdout
        if isinstance(sys.stderr, _DiagnosticStream) and sys.stderr._stream is stderr:
            sys.stderr = stderr
        for stream in strict:
            try:
                stream.reconfigure(errors="strict")
            except (AttributeError, ValueError, OSError):
                pass


def _escape_unencodable(stream) -> bool:
    """Let ``stream`` write what its encoding cannot (``PYTHONIOENCODING=ascii``, a non-UTF-8
    terminal): ``é`` as ``\\xe9`` rather than a UnicodeEncodeError in the middle of a command.
    True when it was changed (and is to be changed back)."""
    try:
        if stream is None or stream.errors != "strict":
            return False
        stream.reconfigure(errors="backslashreplace")
        return True
    except (AttributeError, ValueError, OSError):
        return False


def interrupted_cause(e: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C behind ``e``, if any: a KeyboardInterrupt that lands while a C extension module
    initialises (numpy, torch, skia at start-up) reaches Python as ``ImportError: initialization
    failed`` raised *from* it, not as the interrupt itself."""
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return e
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return None


def stopped(e: BaseException, note: str) -> int:
    e = interrupted_cause(e) or e
    terminated = isinstance(e, Terminated) or isinstance(e.__cause__, Terminated) or isinstance(e.__context__, Terminated)
    report(note.replace("interrupted", "terminated", 1) if terminated else note, prefix="stopped")
    return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED


def kinetype_error_line(e: KinetypeError) -> str:
    # Raised in a DataLoader worker, torch re-raises it with the worker's traceback in the
    # message: its own line is the last one.
    text = str(e).strip()
    line = text.splitlines()[-1] if text else type(e).__name__
    return line.split(f"{type(e).__name__}: ", 1)[-1]


def user_errors(fn: Callable | None = None, *, interrupted: str | None = None):
    """Wrap a command: KinetypeError and OSError -> one line on stderr and exit 2; Ctrl-C -> a line
    saying what is kept and exit 130. Use as ``@user_errors`` or ``@user_errors(interrupted="...")``."""

    def decorate(fn: Callable) -> Callable:
        note = interrupted or INTERRUPTED.get(fn.__name__, INTERRUPTED_DEFAULT)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except KinetypeError as e:
                report(kinetype_error_line(e))
                raise typer.Exit(EXIT_USER_ERROR)
            except OSError as e:
                if e.errno == errno.EPIPE and _stdout_gone():  # `| head` had enough: not an error
                    _silence(1)
                    raise typer.Exit(EXIT_OK)
                report(os_error_line(e))
                raise typer.Exit(EXIT_USER_ERROR)
            except KeyboardInterrupt as e:
                raise typer.Exit(stopped(e, note))
            except ImportError as e:
                if interrupted_cause(e) is None:
                    raise
                raise typer.Exit(stopped(e, note))

        return wrapper

    return decorate(fn) if fn is not None else decorate


class _Stop(Exception):
    """A Ctrl-C or SIGTERM carried past typer, whose main turns any KeyboardInterrupt into a silent
    exit status 130 (no line, and 130 for a SIGTERM too)."""

    def __init__(self, interrupt: KeyboardInterrupt):
        super().__init__()
        self.interrupt = interrupt


class OneLineErrorsGroup(typer.core.TyperGroup):
    """The top-level group: click's usage errors (bad type, unknown option, missing argument) become
    one line naming the option and exit 2, instead of Rich's boxed usage panel."""

    def make_context(self, *args, **kwargs):
        try:
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt as e:
            raise _Stop(e) from e

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as e:
            raise _Stop(e) from e

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                                standalone_mode=False, **extra)
        try:
            with guarded_process():
                rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                                  standalone_mode=False, **extra)
        except NoArgsIsHelp as e:
            print(e.ctx.get_help())
            sys.exit(EXIT_OK)
        except ClickError as e:
            ctx = getattr(e, "ctx", None)
            hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            report(e.format_message() + hint)
            sys.exit(e.exit_code if e.exit_code else EXIT_USER_ERROR)
        except _Stop as e:  # Ctrl-C or SIGTERM outside a command's body (parsing, imports)
            sys.exit(stopped(e.interrupt, INTERRUPTED_DEFAULT))
        except AbortError as e:
            sys.exit(stopped(e, INTERRUPTED_DEFAULT))
        except (KeyboardInterrupt, ImportError) as e:
            if interrupted_cause(e) is None:
                raise
            sys.exit(stopped(e, INTERRUPTED_DEFAULT))
        sys.exit(rv if isinstance(rv, int) else EXIT_OK)
