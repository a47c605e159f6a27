"""Resource names and settings shared by every step (argument > environment > default).

Where the course template names a resource, that name is the default (stream
``taxi-trips-stream``, Firehose ``taxi-predictions-firehose``, Glue database ``nyc_db``, endpoint
``taxi-fare-xgb-endpoint``, function ``taxi-kinesis-infer``, index ``taxi-predictions-*``; the
quarantine index family is ``taxi-quarantine-*``), and
the template's variable names (``KINESIS_STREAM_NAME``, ``FIREHOSE_STREAM``,
``SAGEMAKER_ENDPOINT``, ``THRESHOLD``) are accepted next to the project's. Buckets and the
resources the template does not name derive from one project prefix (``PROJECT_PREFIX``,
default ``st1630-taxi``), so that a student on AWS sets a single variable to get globally unique
bucket names. Each name can still be overridden on its own by its environment variable.

:meth:`Settings.namespaced` derives *every* name from a prefix instead: several copies of the
pipeline can then share one account or one local stack (tests and benchmarks do this).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

from taximl import constants as c

# field name -> (environment variable, default, default when namespaced by a prefix)
_NAMES: dict[str, tuple[str, str, str]] = {
    "raw_bucket": (c.ENV_RAW_BUCKET, "{prefix}-raw", "{prefix}-raw"),
    "processed_bucket": (c.ENV_PROCESSED_BUCKET, "{prefix}-processed", "{prefix}-processed"),
    "models_bucket": (c.ENV_MODELS_BUCKET, "{prefix}-models", "{prefix}-models"),
    "gold_bucket": (c.ENV_GOLD_BUCKET, "{prefix}-gold", "{prefix}-gold"),
    "glue_database": (c.ENV_GLUE_DATABASE, "nyc_db", "{prefix_sql}"),
    "raw_table": (c.ENV_RAW_TABLE, "raw_trips", "raw_trips"),
    "training_table": (c.ENV_TRAINING_TABLE, "training_trips", "training_trips"),
    "stream_name": (c.ENV_STREAM_NAME, "taxi-trips-stream", "{prefix}-trips-stream"),
    "gold_delivery_stream": (
        c.ENV_GOLD_DELIVERY_STREAM, "taxi-predictions-firehose", "{prefix}-predictions-firehose"
    ),
    "quarantine_delivery_stream": (
        c.ENV_QUARANTINE_DELIVERY_STREAM, "taxi-quarantine-firehose",
        "{prefix}-quarantine-firehose",
    ),
    "endpoint_name": (c.ENV_ENDPOINT_NAME, "taxi-fare-xgb-endpoint", "{prefix}-fare-xgb-endpoint"),
    "function_name": (c.ENV_FUNCTION_NAME, "taxi-kinesis-infer", "{prefix}-kinesis-infer"),
    "model_package_group": (c.ENV_MODEL_PACKAGE_GROUP, "{prefix}-fare-model",
                            "{prefix}-fare-model"),
    "params_table": (c.ENV_PARAMS_TABLE, "{prefix}-params", "{prefix}-params"),
    "opensearch_index": (c.ENV_OPENSEARCH_INDEX, c.DEFAULT_OPENSEARCH_INDEX,
                         "{prefix}-predictions"),
    "quarantine_index": (c.ENV_QUARANTINE_INDEX, c.DEFAULT_QUARANTINE_INDEX,
                         "{prefix}-quarantine"),
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
    function_name: str
    model_package_group: str
    params_table: str
    opensearch_index: str
    quarantine_index: str
    opensearch_endpoint: str | None
    fixed_threshold: float

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, namespaced: bool = False,
        **overrides: object,
    ) -> Settings:
        """Settings from keyword overrides, then ``env`` (``os.environ``), then defaults.

        ``namespaced=True`` derives every default name from the project prefix (see
        :meth:`namespaced`). Raises ValueError when a project variable and its course-template
        alias (e.g. ``STREAM_NAME`` and ``KINESIS_STREAM_NAME``) are both set and disagree.
        """
        env = os.environ if env is None else env
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")

        def pick(name: str, env_var: str, default: object) -> object:
            if overrides.get(name) is not None:
                return overrides[name]
            return _from_env(env, env_var) or default

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
        for name, (env_var, default, default_namespaced) in _NAMES.items():
            template = default_namespaced if namespaced else default
            values[name] = pick(name, env_var, template.format(**templates))
        if not float(values["fixed_threshold"]) > 0:  # type: ignore[arg-type]
            raise ValueError(f"{c.ENV_FIXED_THRESHOLD} must be a positive amount of dollars")
        return cls(**values)  # type: ignore[arg-type]

    @classmethod
    def namespaced(
        cls, prefix: str, env: Mapping[str, str] | None = None, **overrides: object
    ) -> Settings:
        """Settings whose every resource name derives from ``prefix`` (``<prefix>-trips-stream``,
        database ``<prefix>`` with ``_`` for ``-``, ...): one copy of the pipeline among several.

        Only the names come from ``prefix``; region, endpoints and the threshold still follow
        ``env`` and ``overrides``.
        """
        base = {k: v for k, v in (os.environ if env is None else env).items()
                if k not in _name_variables()}
        return cls.from_env(base, namespaced=True, **{**overrides, "project_prefix": prefix})

    def as_env(self) -> dict[str, str]:
        """The environment variables that reproduce these settings (for child processes).

        The course template's aliases (``KINESIS_STREAM_NAME``, ...) are included with the same
        values, so that the template's commands work after ``eval "$(python -m taximl.config)"``.
        """
        env = {c.ENV_PROJECT_PREFIX: self.project_prefix, c.ENV_REGION: self.region}
        for name, (env_var, _, _) in _NAMES.items():
            env[env_var] = str(getattr(self, name))
        if self.opensearch_endpoint:
            env[c.ENV_OPENSEARCH_ENDPOINT] = self.opensearch_endpoint
        env[c.ENV_FIXED_THRESHOLD] = str(self.fixed_threshold)
        for env_var, alias in c.TEMPLATE_ALIASES.items():
            env[alias] = env[env_var]
        return env


def _from_env(env: Mapping[str, str], env_var: str) -> str | None:
    """The value of ``env_var`` or of its course-template alias; an error when they disagree."""
    value = env.get(env_var) or None
    alias = c.TEMPLATE_ALIASES.get(env_var)
    alias_value = (env.get(alias) or None) if alias else None
    if value and alias_value and _normal(value) != _normal(alias_value):
        raise ValueError(
            f"{env_var}={value!r} and {alias}={alias_value!r} disagree: they name the same "
            f"setting (the course template calls it {alias}); unset one of them"
        )
    return value or alias_value


def _normal(value: str) -> str:
    try:
        return repr(float(value))
    except ValueError:
        return value


def _name_variables() -> set[str]:
    names = {env_var for env_var, _, _ in _NAMES.values()} | {c.ENV_PROJECT_PREFIX}
    return names | {c.TEMPLATE_ALIASES[v] for v in names if v in c.TEMPLATE_ALIASES}


def main() -> None:
    """Print ``export NAME=value`` lines: ``eval "$(python -m taximl.config)"`` in a shell."""
    import shlex

    for name, value in sorted(Settings.from_env().as_env().items()):
        print(f"export {name}={shlex.quote(value)}")


if __name__ == "__main__":
    main()
