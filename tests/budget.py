"""How long the generative tests run: a few examples in CI (`make test`), many with `pytest --slow`
(`make test PYTEST_ARGS=--slow`)."""
from __future__ import annotations

import pytest

_slow = {"on": False}


def remember(config: pytest.Config) -> None:
    """Called from a conftest's pytest_configure, for tests whose budget is fixed at import time."""
    _slow["on"] = is_slow(config)


def is_slow(config: pytest.Config | None = None) -> bool:
    if config is None:
        return _slow["on"]
    return bool(config.getoption("--slow", default=False))


def examples(config: pytest.Config | None, ci: int, slow: int) -> int:
    return slow if is_slow(config) else ci
