"""The `kinetype` command. Thin: each command parses its options and makes one library call.

Errors raised as KinetypeError are printed as one line (no traceback) and exit with status 2.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from kinetype.errors import KinetypeError

app = typer.Typer(help="Open, reproducible kinetic typography.", no_args_is_help=True, add_completion=False)
templates_app = typer.Typer(help="List, validate and look at motion templates.", no_args_is_help=True)
fonts_app = typer.Typer(help="The bundled fonts.", no_args_is_help=True)
shards_app = typer.Typer(help="Check and look at rendered WebDataset shards.", no_args_is_help=True)
app.add_typer(templates_app, name="templates")
app.add_typer(fonts_app, name="fonts")
app.add_typer(shards_app, name="shards")

console = Console()
err_console = Console(stderr=True)

DEFAULT_TEMPLATES = Path("templates")

# Shared option aliases (defined once, used by several commands).
TemplatesDir = Annotated[Path, typer.Option("--templates", help="Folder of template files.")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same clip.")]


def user_errors(fn):
    """Turn KinetypeError into a one-line message and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except KinetypeError as e:
            err_console.print(f"[red]error:[/red] {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(2)

    return wrapper


# --- engine: templates, fonts, preview --------------------------------------------------------

# --- dataset: render, shards, export ----------------------------------------------------------

# --- model: train, generate -------------------------------------------------------------------


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
