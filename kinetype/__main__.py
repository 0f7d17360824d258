"""The `kinetype` command's entry point, and `python -m kinetype` (used by torchrun:
`torchrun --nproc-per-node G -m kinetype train ...`).

Kept free of imports so that a Ctrl-C while the CLI's own modules load (typer, rich: the first
tenth of a second) is the same one line and exit status 130 as one during a command."""

import sys


def run() -> None:
    try:
        from kinetype.cli import main
    except (KeyboardInterrupt, ImportError) as e:
        if not isinstance(e, KeyboardInterrupt) and not isinstance(e.__cause__, KeyboardInterrupt):
            raise
        print("stopped: interrupted: nothing was changed", file=sys.stderr)
        sys.exit(130)
    try:
        main()
    finally:
        # CPython remembers a KeyboardInterrupt that left an exec() of a string — dataclasses and
        # namedtuples build their methods that way, so a Ctrl-C landing in an import does — and
        # under `python -m` then ends the process by SIGINT instead of the status the CLI chose
        # (130 after its one line). An exec that completes clears that memory.
        exec("")


if __name__ == "__main__":
    run()
