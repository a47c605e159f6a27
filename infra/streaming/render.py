"""Fill in the JSON configs of steps 3-5 with your resource names and account id.

Usage (after ``eval "$(python -m taximl.config)"``; locally also ``source .local-stack/env.sh``)::

    python infra/streaming/render.py

Reads ``infra/iam/{lambda,firehose}-*.json`` and ``infra/streaming/*.json`` and writes them,
with every ``${NAME}`` replaced, to ``build/infra/iam/`` and ``build/infra/streaming/`` for the CLI
(``file://build/infra/...``). Values come from the environment, then from
:class:`taximl.config.Settings` (names derived from ``PROJECT_PREFIX``), then from the defaults
below; ``ACCOUNT_ID`` from ``aws sts get-caller-identity`` when unset.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from taximl.config import Settings  # noqa: E402

#: (folder, file patterns) of the templates this script renders.
TEMPLATES = (
    (REPO / "infra" / "iam", ("lambda-*.json", "firehose-*.json")),
    (REPO / "infra" / "streaming", ("*.json",)),
)
DEFAULT_OUT = REPO / "build" / "infra"
PLACEHOLDER = re.compile(r"\$\{([A-Z0-9_]+)\}")

#: Names that are not in Settings, as ``{prefix}`` templates, and plain defaults.
DERIVED = {
    "LAMBDA_ROLE_NAME": "{prefix}-lambda-scorer",
    "FIREHOSE_ROLE_NAME": "{prefix}-firehose",
    "OPENSEARCH_DOMAIN": "{prefix}",
}
DEFAULTS = {"FIREHOSE_BUFFER_SECONDS": "60", "THRESHOLD_MODE": "auto"}


def variables(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every value a template may use (environment > Settings > derived > defaults)."""
    env = dict(os.environ if env is None else env)
    settings = Settings.from_env(env)
    values = dict(DEFAULTS)
    values.update({k: v.format(prefix=settings.project_prefix) for k, v in DERIVED.items()})
    values.update(settings.as_env())
    values["AWS_REGION"] = settings.region
    values.update({k: v for k, v in env.items() if k in values or k in ("ACCOUNT_ID",
                                                                         "OPENSEARCH_ENDPOINT")})
    if "ACCOUNT_ID" not in values:
        import boto3

        values["ACCOUNT_ID"] = boto3.client("sts", region_name=settings.region)\
            .get_caller_identity()["Account"]
    return values


def render_text(text: str, values: Mapping[str, str], source: str = "template") -> str:
    missing = sorted({m for m in PLACEHOLDER.findall(text) if m not in values})
    if missing:
        raise KeyError(f"{source}: set {', '.join(missing)} (e.g. export {missing[0]}=...)")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def render_all(out: Path = DEFAULT_OUT, values: Mapping[str, str] | None = None) -> list[Path]:
    """Render every template; returns the written files. Raises KeyError for a missing value."""
    values = variables() if values is None else values
    written = []
    for folder, patterns in TEMPLATES:
        for template in sorted({p for pattern in patterns for p in folder.glob(pattern)}):
            text = render_text(template.read_text(), values, str(template.relative_to(REPO)))
            json.loads(text)  # a broken template fails here, not in the AWS CLI
            target = out / folder.name / template.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    try:
        values = variables()
        files = render_all(args.out, values)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 1
    print(f"Rendered {len(files)} files into {args.out} for account {values['ACCOUNT_ID']}, "
          f"region {values['AWS_REGION']}, prefix {values['PROJECT_PREFIX']}:")
    for path in files:
        shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
        print(f"  file://{shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
