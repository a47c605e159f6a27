"""The one output convention of the benchmarks: ``RESULT <name> <value>`` lines.

``benchmarks/run_all.py`` runs every ``benchmarks/bench_*.py`` and collects these lines into
``docs/benchmarks.md``; any other output is for people. A name is ``snake_case`` and ends with
its unit, so the report needs no other metadata:

``_s`` / ``_ms`` (time), ``_per_s`` (throughput), ``_mib`` (memory), ``_x`` (a ratio), ``_pct``
(a percentage), ``_count`` (a number of things).

Two more suffixes are compared by the report:

- ``naive_<name>`` next to ``<name>``: the same measure for the naive design (one request per
  record, ...); the report prints the ratio;
- ``<name>_per_s_per_shard``: records per second per shard, set against Kinesis' per-shard
  limits (1,000 records/s written, 2 MB/s read).

A benchmark may also declare ``QUICK_ARGS = [...]`` (a literal list at module level): the
arguments ``run_all.py --quick`` uses to make it small on a busy machine.
"""

from __future__ import annotations

import math
import re

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def result(name: str, value: float) -> None:
    """Print one ``RESULT`` line (the value with up to 6 significant digits)."""
    if not _NAME.match(name):
        raise ValueError(f"result name {name!r}: use snake_case ending with its unit")
    text = "nan" if isinstance(value, float) and math.isnan(value) else f"{value:.6g}"
    print(f"RESULT {name} {text}", flush=True)
