"""Write requirements.txt from pyproject.toml's [project].dependencies.

`chalice package` installs only what requirements.txt lists and never reads pyproject.toml, so
the Lambda's runtime dependencies come from here; a test keeps the two files equal.
"""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
REQUIREMENTS = ROOT / "requirements.txt"

HEADER = ("# Generated from pyproject.toml [project].dependencies by `make requirements`\n"
          "# (python -m local.export_requirements). Do not edit: change pyproject.toml instead.\n")

# name[extras]==version: a deployed function gets exactly what the tests ran with.
_PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?==[A-Za-z0-9.+!*-]+$")


def render(pyproject: Path = PYPROJECT) -> str:
    """requirements.txt's content: the header, then the runtime dependencies, sorted."""
    with pyproject.open("rb") as handle:
        dependencies: list[str] = tomllib.load(handle)["project"]["dependencies"]
    requirements = sorted((dependency.replace(" ", "") for dependency in dependencies), key=str.lower)
    unpinned = [requirement for requirement in requirements if not _PINNED.match(requirement)]
    if unpinned:
        raise ValueError(f"runtime dependencies must be pinned with ==: {', '.join(unpinned)}")
    return HEADER + "".join(f"{requirement}\n" for requirement in requirements)


def main() -> int:
    REQUIREMENTS.write_text(render(), encoding="utf-8")
    print(f"wrote {REQUIREMENTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
