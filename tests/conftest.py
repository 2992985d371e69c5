"""Shared pytest options and fixtures."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.mocksite import MockSite


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/fixtures/pages/*/expected.json from the current extractor",
    )


# pywb runs from its own virtual environment (its redis pin conflicts with scrapy-redis):
# `make install` creates it; the tests and `dgarchive replay` find it through this variable.
_PYWB_PYTHON = Path(__file__).resolve().parent.parent / ".venv-pywb" / "bin" / "python"
if _PYWB_PYTHON.exists():
    os.environ.setdefault("DGARCHIVE_PYWB_PYTHON", str(_PYWB_PYTHON))

# Markers that mean "starts something heavy": a real crawl subprocess, a PostgreSQL cluster, a
# container. Each of them also counts as `slow`, which `make test-fast` deselects.
HEAVY_MARKERS = ("e2e", "postgres", "container")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.get_closest_marker(m) for m in HEAVY_MARKERS):
            item.add_marker(pytest.mark.slow)


def _mirror_factory() -> Iterator[Callable[..., MockSite]]:
    sites: list[MockSite] = []

    def start(**kwargs: object) -> MockSite:
        site = MockSite(**kwargs).start()
        sites.append(site)
        return site

    yield start
    for site in sites:
        site.stop()


@pytest.fixture(scope="module")
def module_mirror() -> Iterator[Callable[..., MockSite]]:
    """`module_mirror(**MockSite options)`: a started mirror, stopped after the module."""
    yield from _mirror_factory()


@pytest.fixture
def mirror() -> Iterator[Callable[..., MockSite]]:
    """`mirror(**MockSite options)`: a started mirror, stopped after the test."""
    yield from _mirror_factory()


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when the run was asked to rewrite golden files instead of comparing with them."""
    return bool(request.config.getoption("--update-golden"))


pytest_plugins = ["tests.conftest_db"]
