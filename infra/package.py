"""`make package`: the deployable SAM template (Chalice's, merged with infra/template.json) and the
code zip of one stage, written to build/<stage>/ as sam.json and deployment.zip.

Chalice runs in a staging copy of what it packages (app.py, chalicelib/, requirements.txt,
vendor/, .chalice/config.json), not in the checkout: its own cache (.chalice/deployments/) is keyed
on the app's code as well as the requirements and is written in place, so in a shared checkout a
concurrent or interrupted run could hand out a half-written zip, and every code change would
download the wheels again and leave another ~26 MB file behind.

Instead the dependencies are cached in build/package-cache/, keyed on requirements.txt, the
Python version, the architecture and Chalice's version, published atomically. On a hit the staging
copy gets Chalice's cache file (those dependencies + this app's files) and Chalice reuses it: a few
seconds instead of ~20-40 s of pip downloading Lambda-platform wheels from PyPI. If Chalice's
internals ever move, the seeding is skipped and Chalice builds from scratch (slower, still correct);
tests/infra checks the zip either way.

Needs a region, never credentials: the AWS_* variables of the caller are not passed on."""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MERGE_TEMPLATE = ROOT / "infra" / "template.json"
DEPENDENCY_CACHE = ROOT / "build" / "package-cache"
ARCHITECTURE = "x86_64"  # Chalice's default; the functions' Architectures
_STAGED_FILES = ("app.py", "requirements.txt", ".chalice/config.json")
_STAGED_DIRS = ("chalicelib", "vendor")


class PackagingFailed(RuntimeError):
    """chalice package failed or wrote something that is not a deployable package."""


def package(stage: str, out: Path, region: str = "us-east-1") -> Path:
    """Package `stage` into `out` (replaced); returns the template's path."""
    with tempfile.TemporaryDirectory(prefix="omnicard-package-") as staging_dir:
        staging = Path(staging_dir)
        project = staging / "project"
        _stage_project(project)
        cached = _seed_chalice_cache(project)
        written = staging / "out"
        completed = subprocess.run(
            [str(Path(sys.executable).parent / "chalice"), "--project-dir", str(staging / "project"), "package",
             "--stage", stage, "--merge-template", str(MERGE_TEMPLATE), str(written)],
            env=_environment(region), capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            raise PackagingFailed(f"chalice package failed:\n{completed.stdout}{completed.stderr}")
        _check(written)
        if not cached:
            _publish_dependencies(written / "deployment.zip", project)
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


def _dependency_key(project: Path) -> str | None:
    """What the dependency layer depends on; None when it cannot be cached (vendored code)."""
    if (project / "vendor").exists():
        return None
    import chalice

    digest = hashlib.sha256((project / "requirements.txt").read_bytes())
    digest.update(f"{_python_version()}|{ARCHITECTURE}|chalice {chalice.__version__}".encode())
    return digest.hexdigest()[:32]


def _python_version() -> str:
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def _app_files(project: Path) -> tuple[str, list[tuple[str, str]]]:
    """Chalice's cache file name for this project and the (file, name in zip) pairs of the app."""
    from chalice.deploy.packager import LambdaDeploymentPackager
    from chalice.utils import OSUtils

    packager = LambdaDeploymentPackager(osutils=OSUtils(), dependency_builder=None, ui=None)  # type: ignore[arg-type]
    filename = packager.deployment_package_filename(str(project), _python_version())
    return filename, list(packager._iter_app_filenames(str(project)))  # noqa: SLF001 (pinned chalice)


def _seed_chalice_cache(project: Path) -> bool:
    """Write Chalice's cache file from build/package-cache/ when the dependencies are there."""
    key = _dependency_key(project)
    cached = DEPENDENCY_CACHE / f"{key}.zip"
    if key is None or not cached.is_file():
        return False
    try:
        filename, app_files = _app_files(project)
    except (ImportError, AttributeError, TypeError):
        return False
    app_names = {name for _, name in app_files}
    Path(filename).parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(cached) as source, zipfile.ZipFile(filename, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename not in app_names:
                target.writestr(info, source.read(info))
        for path, name in app_files:
            target.write(path, name)
    return True


def _publish_dependencies(archive: Path, project: Path) -> None:
    """Keep the dependency part of a freshly built zip for the next run (atomically; one key kept)."""
    key = _dependency_key(project)
    try:
        _, app_files = _app_files(project)
    except (ImportError, AttributeError, TypeError):
        return
    if key is None:
        return
    app_names = {name for _, name in app_files}
    DEPENDENCY_CACHE.mkdir(parents=True, exist_ok=True)
    partial = DEPENDENCY_CACHE / f".{key}.{os.getpid()}.partial"
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename not in app_names:
                target.writestr(info, source.read(info))
    os.replace(partial, DEPENDENCY_CACHE / f"{key}.zip")
    for stale in DEPENDENCY_CACHE.glob("*.zip"):
        if stale.name != f"{key}.zip":
            stale.unlink(missing_ok=True)


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
