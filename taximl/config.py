"""Resource names and settings shared by every step (argument > environment > default).

Every name derives from one project prefix (``PROJECT_PREFIX``, default ``st1630-taxi``) so that
a student on AWS sets a single variable to get globally unique bucket names, and each name can
still be overridden on its own by its environment variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

from taximl import constants as c

# field name -> (environment variable, default derived from the prefix)
_NAMES: dict[str, tuple[str, str]] = {
    "raw_bucket": (c.ENV_RAW_BUCKET, "{prefix}-raw"),
    "processed_bucket": (c.ENV_PROCESSED_BUCKET, "{prefix}-processed"),
    "models_bucket": (c.ENV_MODELS_BUCKET, "{prefix}-models"),
    "gold_bucket": (c.ENV_GOLD_BUCKET, "{prefix}-gold"),
    "glue_database": (c.ENV_GLUE_DATABASE, "{prefix_sql}"),
    "raw_table": (c.ENV_RAW_TABLE, "raw_trips"),
    "training_table": (c.ENV_TRAINING_TABLE, "training_trips"),
    "stream_name": (c.ENV_STREAM_NAME, "{prefix}-trips"),
    "gold_delivery_stream": (c.ENV_GOLD_DELIVERY_STREAM, "{prefix}-scored"),
    "quarantine_delivery_stream": (c.ENV_QUARANTINE_DELIVERY_STREAM, "{prefix}-quarantine"),
    "endpoint_name": (c.ENV_ENDPOINT_NAME, "{prefix}-fare-endpoint"),
    "model_package_group": (c.ENV_MODEL_PACKAGE_GROUP, "{prefix}-fare-model"),
    "params_table": (c.ENV_PARAMS_TABLE, "{prefix}-params"),
    "opensearch_index": (c.ENV_OPENSEARCH_INDEX, c.DEFAULT_OPENSEARCH_INDEX),
}


@dataclass(frozen=True)
class Settings:
    """Names of every AWS resource the pipeline uses, plus a few tunables."""

    region: str
    project_prefix: str
    raw_bucket: str
    processed_bucket: str
    models_bucket: str
    gold_bucket: str
    glue_database: str
    raw_table: str
    training_table: str
    stream_name: str
    gold_delivery_stream: str
    quarantine_delivery_stream: str
    endpoint_name: str
    model_package_group: str
    params_table: str
    opensearch_index: str
    opensearch_endpoint: str | None
    fixed_threshold: float

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from keyword overrides, then ``env`` (``os.environ``), then defaults."""
        env = os.environ if env is None else env
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")

        def pick(name: str, env_var: str, default: object) -> object:
            if overrides.get(name) is not None:
                return overrides[name]
            return env.get(env_var) or default

        prefix = str(pick("project_prefix", c.ENV_PROJECT_PREFIX, c.DEFAULT_PROJECT_PREFIX))
        templates = {"prefix": prefix, "prefix_sql": prefix.replace("-", "_")}
        values: dict[str, object] = {
            "project_prefix": prefix,
            "region": pick(
                "region", c.ENV_REGION, env.get(c.ENV_DEFAULT_REGION) or c.DEFAULT_REGION
            ),
            "opensearch_endpoint": pick("opensearch_endpoint", c.ENV_OPENSEARCH_ENDPOINT, None),
            "fixed_threshold": float(
                pick("fixed_threshold", c.ENV_FIXED_THRESHOLD, c.DEFAULT_FIXED_THRESHOLD)
            ),
        }
        for name, (env_var, template) in _NAMES.items():
            values[name] = pick(name, env_var, template.format(**templates))
        if not float(values["fixed_threshold"]) > 0:  # type: ignore[arg-type]
            raise ValueError(f"{c.ENV_FIXED_THRESHOLD} must be a positive amount of dollars")
        return cls(**values)  # type: ignore[arg-type]

    def as_env(self) -> dict[str, str]:
        """The environment variables that reproduce these settings (for child processes)."""
        env = {c.ENV_PROJECT_PREFIX: self.project_prefix, c.ENV_REGION: self.region}
        for name, (env_var, _) in _NAMES.items():
            env[env_var] = str(getattr(self, name))
        if self.opensearch_endpoint:
            env[c.ENV_OPENSEARCH_ENDPOINT] = self.opensearch_endpoint
        env[c.ENV_FIXED_THRESHOLD] = str(self.fixed_threshold)
        return env


def main() -> None:
    """Print ``export NAME=value`` lines: ``eval "$(python -m taximl.config)"`` in a shell."""
    import shlex

    for name, value in sorted(Settings.from_env().as_env().items()):
        print(f"export {name}={shlex.quote(value)}")


if __name__ == "__main__":
    main()
