"""Build ``lambda.zip``: the handler, the shared ``taximl`` package and the runtime dependencies.

Usage::

    python lambda/build_zip.py                 # -> lambda.zip in the repository root
    python lambda/build_zip.py --pip           # fetch dependencies with pip for the Lambda platform

By default the dependencies pinned in ``lambda/requirements.txt`` (and what they need) are
copied from the current environment: they are pure Python, so this is fast and offline. ``--pip``
installs them with ``pip install --target`` for manylinux / Python 3.13 instead. boto3 and
botocore are left out (the Lambda Python runtime provides them); so is xgboost (the model runs in
SageMaker). The zip is reproducible (sorted entries, fixed timestamps) and checked against the
Lambda limits: 50 MB zipped for a direct upload, 250 MB unzipped.
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED_PACKAGE = REPO / "taximl"
REQUIREMENTS = HERE / "requirements.txt"
DEFAULT_OUT = REPO / "lambda.zip"
#: Provided by the Lambda Python runtime: never bundled.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer"}
MAX_ZIPPED = 50 * 1024 * 1024
MAX_UNZIPPED = 250 * 1024 * 1024
_FIXED_TIME = (2024, 1, 1, 0, 0, 0)
_SKIP = re.compile(r"(__pycache__|\.pyc$|\.pyo$)")


class BuildError(Exception):
    """When the package cannot be built or is over a Lambda limit."""


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path = REQUIREMENTS) -> dict[str, str]:
    """``{name: version}`` from a requirements file of ``name==version`` lines."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[_norm(name)] = version.strip()
    return pins


def _requirement_names(dist: metadata.Distribution) -> list[str]:
    names = []
    for req in dist.requires or []:
        if "extra ==" in req:
            continue
        marker_free = req.split(";", 1)[0]
        names.append(_norm(re.split(r"[<>=!~\[ (]", marker_free, maxsplit=1)[0]))
    return names


def resolve_installed(pins: dict[str, str]) -> list[metadata.Distribution]:
    """The pinned distributions and their dependencies, from the current environment."""
    seen: dict[str, metadata.Distribution] = {}
    todo = list(pins)
    while todo:
        name = todo.pop()
        if name in seen or name in RUNTIME_PROVIDED:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError as exc:
            raise BuildError(f"{name} is not installed here: run `pip install -r "
                             f"{REQUIREMENTS.relative_to(REPO)}` or build with --pip") from exc
        if name in pins and pins[name] and dist.version != pins[name]:
            raise BuildError(f"{name} {dist.version} is installed but {pins[name]} is pinned: "
                             "install the pinned version or build with --pip")
        seen[name] = dist
        todo += _requirement_names(dist)
    return [seen[k] for k in sorted(seen)]


def _copy_installed(dists: list[metadata.Distribution], target: Path) -> None:
    for dist in dists:
        base = Path(dist.locate_file(""))
        for rel in dist.files or []:
            if (rel.parts and rel.parts[0] in ("..", "bin")) or _SKIP.search(str(rel)):
                continue
            src = base / rel
            if src.is_file():
                dest = target / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest)


def _pip_install(target: Path) -> None:
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target),
           "--platform", "manylinux2014_x86_64", "--implementation", "cp",
           "--python-version", "3.13", "--only-binary=:all:", "-r", str(REQUIREMENTS)]
    if subprocess.run(cmd, check=False).returncode != 0:
        raise BuildError("pip install failed (see above)")
    for name in RUNTIME_PROVIDED:
        for path in target.glob(f"{name}*"):
            shutil.rmtree(path, ignore_errors=True)


def _copy_sources(target: Path) -> None:
    for src in sorted(HERE.glob("*.py")):
        if src.name != Path(__file__).name:
            shutil.copy2(src, target / src.name)
    shutil.copytree(SHARED_PACKAGE, target / "taximl",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def _zip(source: Path, out: Path) -> tuple[int, int, int]:
    files = sorted(p for p in source.rglob("*") if p.is_file() and not _SKIP.search(str(p)))
    unzipped = 0
    tmp = out.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(source).as_posix(), _FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = path.read_bytes()
            unzipped += len(data)
            archive.writestr(info, data)
    tmp.replace(out)
    return out.stat().st_size, unzipped, len(files)


def build(out: Path = DEFAULT_OUT, use_pip: bool = False) -> dict[str, int]:
    """Build the zip at ``out``; returns its sizes. Raises BuildError over a Lambda limit."""
    with tempfile.TemporaryDirectory(prefix="lambda-build-") as tmp:
        staging = Path(tmp)
        if use_pip:
            _pip_install(staging)
        else:
            _copy_installed(resolve_installed(read_pins()), staging)
        _copy_sources(staging)
        zipped, unzipped, count = _zip(staging, out)
    if zipped > MAX_ZIPPED:
        raise BuildError(f"{out} is {zipped / 1e6:.1f} MB zipped: over the 50 MB direct-upload "
                         "limit (upload it to S3 and use --code S3Bucket=...,S3Key=...)")
    if unzipped > MAX_UNZIPPED:
        raise BuildError(f"{out} is {unzipped / 1e6:.1f} MB unzipped: over the 250 MB limit")
    return {"zipped": zipped, "unzipped": unzipped, "files": count}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build lambda.zip for the scoring Lambda.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="zip path (lambda.zip)")
    parser.add_argument("--pip", action="store_true",
                        help="install dependencies with pip for manylinux/Python 3.13")
    args = parser.parse_args(argv)
    try:
        sizes = build(args.out, use_pip=args.pip)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"Built {args.out} ({sizes['files']} files): {sizes['zipped'] / 1e6:.2f} MB zipped "
          f"(limit 50 MB), {sizes['unzipped'] / 1e6:.2f} MB unzipped (limit 250 MB).")
    print("Handler: lambda_function.lambda_handler  Runtime: python3.13")
    print("Next: aws lambda create-function ... --zip-file fileb://lambda.zip "
          "(docs/streaming.md, step 4)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
