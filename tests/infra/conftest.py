"""Fixtures for the deploy checks: the stage packaged once per session, exactly as `make package` does."""
from __future__ import annotations

import json

import pytest

from infra.package import package as build_package
from tests.infra.sam_package import STAGE, Package


@pytest.fixture(scope="session")
def package(tmp_path_factory: pytest.TempPathFactory) -> Package:
    """`make package STAGE=dev` into a temporary directory, once per session: ~20-50 s the first
    time (Chalice downloads the Lambda-platform wheels), a few seconds once build/package-cache/
    holds them (see infra/package.py)."""
    out = tmp_path_factory.mktemp("package") / STAGE
    template_path = build_package(STAGE, out)
    return Package(template=json.loads(template_path.read_text(encoding="utf-8")), template_path=template_path,
                   zip_path=out / "deployment.zip")
