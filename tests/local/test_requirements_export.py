"""requirements.txt (what `chalice package` installs) is exactly pyproject's runtime dependencies."""
from __future__ import annotations

from pathlib import Path

import pytest

from local.export_requirements import REQUIREMENTS, render


def test_requirements_txt_is_what_make_requirements_generates():
    assert REQUIREMENTS.read_text(encoding="utf-8") == render(), "run `make requirements` and commit the result"


def test_requirements_txt_says_it_is_generated_and_how():
    assert render().startswith("# Generated from pyproject.toml")
    assert "make requirements" in render().splitlines()[0]


def test_an_unpinned_runtime_dependency_is_refused(tmp_path: Path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["boto3>=1.40", "pydantic==2.14.3"]\n')

    with pytest.raises(ValueError, match="boto3>=1.40"):
        render(pyproject)
