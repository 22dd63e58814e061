"""How long the generative tests run: a few examples in CI (`make test`), many with `pytest --slow`
(`make test PYTEST_ARGS=--slow`)."""
from __future__ import annotations

import pytest


def is_slow(config: pytest.Config) -> bool:
    return bool(config.getoption("--slow", default=False))


def examples(config: pytest.Config, ci: int, slow: int) -> int:
    return slow if is_slow(config) else ci
