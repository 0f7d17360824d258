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
====  =================================================================================
"""

from __future__ import annotations

import errno
import functools
import sys
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

from kinetype.errors import KinetypeError

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130

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
    """``PATH: reason`` for an operating-system error (permission, not a folder, disk full...)."""
    reason = e.strerror or (errno.errorcode.get(e.errno, "") if e.errno else "") or str(e) or type(e).__name__
    if e.filename is not None and e.filename2 is not None:
        return f"{e.filename} -> {e.filename2}: {reason}"
    if e.filename is not None:
        return f"{e.filename}: {reason}"
    return f"cannot read or write: {reason}" + (f" ({e})" if str(e) and str(e) != reason else "")


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
                if e.errno == errno.EPIPE:  # stdout closed by `| head`: not an error of the user's
                    raise typer.Exit(EXIT_OK)
                report(os_error_line(e))
                raise typer.Exit(EXIT_USER_ERROR)
            except KeyboardInterrupt:
                report(note, prefix="stopped")
                raise typer.Exit(EXIT_INTERRUPTED)

        return wrapper

    return decorate(fn) if fn is not None else decorate


class OneLineErrorsGroup(typer.core.TyperGroup):
    """The top-level group: click's usage errors (bad type, unknown option, missing argument) become
    one line naming the option and exit 2, instead of Rich's boxed usage panel."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                                standalone_mode=False, **extra)
        try:
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
        except AbortError:
            report(INTERRUPTED_DEFAULT, prefix="stopped")
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(rv if isinstance(rv, int) else EXIT_OK)
