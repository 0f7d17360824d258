"""Shared fixtures: the bundled templates and fonts, loaded once per test session."""

from __future__ import annotations

import signal

import pytest

from kinetype.render.fonts import FontLibrary
from kinetype.render.templates import load_templates

# A suite started in the background of a script (`make test &`, nohup) has SIGINT ignored, and every
# process it starts inherits that: the Ctrl-C tests would then test nothing (an ignored signal ends
# no command). Handled here, SIGINT is back to the default in each child the tests start.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def templates():
    return load_templates()


@pytest.fixture(scope="session")
def fonts():
    return FontLibrary.load()
