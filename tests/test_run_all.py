"""benchmarks/run_all.py: discovery, RESULT lines, the report's comparisons (no stack needed)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import run_all  # noqa: E402

FAKE = '''"""Benchmark: a fake one for the tests.

Takes "--port-base" like the real ones.
"""
import sys
QUICK_ARGS = ["--rows", "10"]
print("warming up")
print("RESULT things_per_s 2000")
print("RESULT naive_things_per_s 40")
print("RESULT things_records_per_s_per_shard 1500.5")
print("RESULT latency_s 0.5")
print("RESULT naive_latency_s 2")
print("RESULT not a result line")
print("args", sys.argv[1:])
'''


def test_every_benchmark_is_discovered_with_its_summary() -> None:
    found = {b.name: b for b in run_all.discover()}
    assert {"esm", "load", "sagemaker_invoke", "stack_start", "athena", "generate"} <= set(found)
    assert found["load"].quick_args[:2] == ["--seconds", "20"]
    assert found["esm"].takes_port_base and not found["generate"].takes_port_base
    assert found["firehose"].uses_env_stack or found["firehose"].takes_port_base
    assert all(b.summary for b in found.values())


def test_a_new_benchmark_joins_the_report_without_edits(tmp_path) -> None:
    # GIVEN a new bench_*.py in the folder  WHEN run_all discovers and runs it
    (tmp_path / "bench_fake.py").write_text(FAKE)
    [bench] = run_all.discover(tmp_path)
    assert bench.quick_args == ["--rows", "10"] and bench.takes_port_base
    run = run_all.run_one(run_all.Run(bench, [sys.executable, str(bench.path), "--rows", "10"]),
                          run_all.child_env(None), timeout_s=60)
    # THEN its RESULT lines are its figures, compared with the naive design and AWS limits
    assert run.exit_code == 0
    assert run.results == {"things_per_s": 2000.0, "naive_things_per_s": 40.0,
                           "things_records_per_s_per_shard": 1500.5, "latency_s": 0.5,
                           "naive_latency_s": 2.0}
    text = run_all.report([run], quick=True, started=datetime(2026, 1, 1, tzinfo=UTC),
                          load=(9.0, 9.0), port_base=7566)
    assert "## fake: Benchmark: a fake one for the tests." in text
    assert "`things_per_s` frente al diseño ingenuo (`naive_things_per_s`): **50x**" in text
    assert "`latency_s` frente al diseño ingenuo (`naive_latency_s`): **4x**" in text
    assert "**1,5x** el límite de escritura de Kinesis (1.000 registros/s por shard)" in text
    assert "| `things_per_s` | 2.000 |" in text
    assert "Máquina cargada" in text and "--quick" in text


def test_the_environment_of_a_benchmark_has_no_stack_variables(monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_KINESIS", "http://127.0.0.1:1")
    monkeypatch.setenv("OPENSEARCH_ENDPOINT", "http://127.0.0.1:2")
    env = run_all.child_env(None)
    assert "AWS_ENDPOINT_URL_KINESIS" not in env and "OPENSEARCH_ENDPOINT" not in env
    assert run_all.child_env({"AWS_ENDPOINT_URL": "x"})["AWS_ENDPOINT_URL"] == "x"
