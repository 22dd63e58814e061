"""`make lock`: the two lock files, every package pinned with its hashes, resolved by uv from
pyproject.toml.

- requirements.txt: the runtime closure ([project].dependencies) for Lambda — Linux x86_64,
  CPython 3.11 — which `chalice package` installs (it reads only this file) into the zip;
- requirements.lock: runtime + dev closure for every platform, which `make` installs into .venv.

The runtime lock is resolved first and the dev lock is constrained to it, so a package in both has
the same version in both (tests/local/test_requirements_export.py checks that, and that the direct
pins are pyproject's; tests/infra checks that the zip holds exactly requirements.txt's packages).
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
REQUIREMENTS = ROOT / "requirements.txt"
LOCK = ROOT / "requirements.lock"
DEPLOY_TOOLS_IN = ROOT / "infra" / "deploy-tools" / "requirements.in"
DEPLOY_TOOLS_LOCK = ROOT / "infra" / "deploy-tools" / "requirements.lock"

PYTHON_VERSION = "3.11"
LAMBDA_PLATFORM = "x86_64-manylinux2014"  # the functions' Architectures: x86_64

# name[extras]==version: a deployed function gets exactly what the tests ran with.
_PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?==[A-Za-z0-9.+!*-]+$")
_LOCKED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def direct_dependencies(pyproject: Path = PYPROJECT, extra: str | None = None) -> list[str]:
    """pyproject's runtime dependencies (or those of an extra), refused unless pinned with ==."""
    with pyproject.open("rb") as handle:
        project = tomllib.load(handle)["project"]
    dependencies: list[str] = project["optional-dependencies"][extra] if extra else project["dependencies"]
    requirements = [dependency.replace(" ", "") for dependency in dependencies]
    unpinned = [requirement for requirement in requirements if not _PINNED.match(requirement)]
    if unpinned:
        raise ValueError(f"dependencies must be pinned with ==: {', '.join(unpinned)}")
    return requirements


def locked_versions(lock: Path) -> dict[str, str]:
    """{normalised name: version} of a lock file (the first pin of a name wins)."""
    pins: dict[str, str] = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = _LOCKED.match(line)
        if match:
            pins.setdefault(normalise(match.group(1)), match.group(2))
    return pins


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _uv() -> str:
    uv = Path(sys.executable).parent / "uv"
    return str(uv) if uv.exists() else (shutil.which("uv") or "uv")


def _compile(source: Path, output: Path, *options: str) -> None:
    subprocess.run([_uv(), "pip", "compile", "--quiet", "--generate-hashes", "--python-version", PYTHON_VERSION,
                    "--custom-compile-command", "make lock", *options, str(source), "-o", str(output)],
                   cwd=ROOT, check=True)


def lock() -> None:
    direct_dependencies()  # refuse unpinned runtime dependencies before resolving
    direct_dependencies(extra="dev")
    _compile(PYPROJECT, REQUIREMENTS, "--python-platform", LAMBDA_PLATFORM)
    # A fixed relative path: uv names the constraint file in the lock's annotations.
    runtime_pins = Path("build") / "runtime-pins.txt"
    (ROOT / runtime_pins).parent.mkdir(exist_ok=True)
    (ROOT / runtime_pins).write_text("".join(f"{name}=={version}\n" for name, version in
                                             locked_versions(REQUIREMENTS).items()), encoding="utf-8")
    _compile(PYPROJECT, LOCK, "--extra", "dev", "--universal", "--constraint", str(runtime_pins))
    _compile(DEPLOY_TOOLS_IN, DEPLOY_TOOLS_LOCK, "--universal")


def main() -> int:
    lock()
    for path in (REQUIREMENTS, LOCK, DEPLOY_TOOLS_LOCK):
        print(f"wrote {path.relative_to(ROOT)} ({len(locked_versions(path))} packages)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
