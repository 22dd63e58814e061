"""`make package`: the deployable SAM template (Chalice's, merged with infra/template.json) and the
code zip of one stage, written to build/<stage>/ as sam.json and deployment.zip.

Chalice runs in a staging copy of what it packages (app.py, chalicelib/, requirements.txt,
vendor/, .chalice/config.json), not in the checkout: its dependency cache (.chalice/deployments/)
is keyed on the app's code and written in place, so in a shared checkout a concurrent or
interrupted run could hand out a half-written zip, and every code change would leave another
~26 MB file behind. Each run therefore downloads the Lambda-platform wheels again (pip's own cache
keeps that local after the first time): ~20-30 s.

Needs a region, never credentials: the AWS_* variables of the caller are not passed on."""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MERGE_TEMPLATE = ROOT / "infra" / "template.json"
_STAGED_FILES = ("app.py", "requirements.txt", ".chalice/config.json")
_STAGED_DIRS = ("chalicelib", "vendor")


class PackagingFailed(RuntimeError):
    """chalice package failed or wrote something that is not a deployable package."""


def package(stage: str, out: Path, region: str = "us-east-1") -> Path:
    """Package `stage` into `out` (replaced); returns the template's path."""
    with tempfile.TemporaryDirectory(prefix="omnicard-package-") as staging_dir:
        staging = Path(staging_dir)
        _stage_project(staging / "project")
        written = staging / "out"
        completed = subprocess.run(
            [str(Path(sys.executable).parent / "chalice"), "--project-dir", str(staging / "project"), "package",
             "--stage", stage, "--merge-template", str(MERGE_TEMPLATE), str(written)],
            env=_environment(region), capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            raise PackagingFailed(f"chalice package failed:\n{completed.stdout}{completed.stderr}")
        _check(written)
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(written), str(out))
    return out / "sam.json"


def _stage_project(project: Path) -> None:
    for name in _STAGED_FILES:
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, project / name)
    for name in _STAGED_DIRS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def _environment(region: str) -> dict[str, str]:
    # Packaging must not depend on (or reach) an account, nor on the caller's OMNICARD_* settings:
    # the stage's settings come from .chalice/config.json and the template.
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("AWS_", "OMNICARD_", "POWERTOOLS_"))}
    env.update({"AWS_DEFAULT_REGION": region, "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
    return env


def _check(written: Path) -> None:
    template, archive = written / "sam.json", written / "deployment.zip"
    if not template.is_file() or not archive.is_file():
        raise PackagingFailed(f"chalice package wrote no sam.json/deployment.zip in {written}")
    try:
        with zipfile.ZipFile(archive) as opened:
            broken = opened.testzip()
            names = set(opened.namelist())
    except zipfile.BadZipFile as exc:
        raise PackagingFailed(f"{archive} is not a valid zip: {exc}") from exc
    if broken is not None or "app.py" not in names:
        raise PackagingFailed(f"{archive} is damaged ({broken}) or lacks app.py")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
    parser.add_argument("--out", type=Path, help="default: build/<stage>")
    args = parser.parse_args(argv)
    out = args.out or ROOT / "build" / args.stage
    try:
        template = package(args.stage, out, args.region)
    except PackagingFailed as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"packaged stage {args.stage}: {template} {out / 'deployment.zip'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
