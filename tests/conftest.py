"""Shared fixtures: the bundled templates and fonts, loaded once per test session."""

from __future__ import annotations

import pytest

from kinetype.render.fonts import FontLibrary
from kinetype.render.templates import load_templates


@pytest.fixture(scope="session")
def templates():
    return load_templates()


@pytest.fixture(scope="session")
def fonts():
    return FontLibrary.load()
