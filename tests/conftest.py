"""Shared pytest options and fixtures."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/fixtures/pages/*/expected.json from the current extractor",
    )


# Markers that mean "starts something heavy": a real crawl subprocess, a PostgreSQL cluster, a
# container. Each of them also counts as `slow`, which `make test-fast` deselects.
HEAVY_MARKERS = ("e2e", "postgres", "container")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.get_closest_marker(m) for m in HEAVY_MARKERS):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when the run was asked to rewrite golden files instead of comparing with them."""
    return bool(request.config.getoption("--update-golden"))


pytest_plugins = ["tests.conftest_db"]
