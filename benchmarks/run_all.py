"""Run every benchmark and write the report ``docs/benchmarks.md`` (anyone can re-measure).

Usage::

    python benchmarks/run_all.py                  # every benchmarks/bench_*.py, full sizes
    python benchmarks/run_all.py --quick          # each one's QUICK_ARGS (a busy machine)
    python benchmarks/run_all.py --only esm load  # some of them (names without bench_)
    python benchmarks/run_all.py --args pipeline="--trips 20000"   # arguments for one
    python benchmarks/run_all.py --dry-run        # the commands, nothing run

Benchmarks are discovered, not listed: every ``benchmarks/bench_<name>.py`` is run in its own
process, one after the other, and every ``RESULT <name> <value>`` line it prints becomes a
figure of the report (the convention is in ``benchmarks/results.py``). A new benchmark joins
the report by being there. For each one:

- a benchmark that takes ``--port-base`` starts its own throw-away stack: it gets this run's
  port base (``--port-base``, default ``LOCAL_STACK_PORT_BASE`` or 6866), so nothing collides
  with a developer's stack or another session;
- one that uses the stack named by the environment (``AWS_ENDPOINT_URL_*``) without taking
  ``--port-base`` runs against a throw-away stack this script starts (port base + 100);
- the others run with the local stack's variables removed from their environment.

The report states the machine, the date, the load average, each command with its figures,
ratios against the naive design (``naive_<x>`` next to ``<x>``) and against the AWS per-shard
limits (``*_records_per_s_per_shard``), and the end of the output of benchmarks that print no
``RESULT`` line.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_OUT = REPO / "docs" / "benchmarks.md"
RESULT_LINE = re.compile(r"^RESULT\s+([a-z][a-z0-9_]*)\s+(\S+)\s*$")
STACK_ENV = re.compile(r"^(AWS_ENDPOINT_URL(_\w+)?|OPENSEARCH_ENDPOINT|LOCAL_STACK_STATE_DIR)$")
#: AWS per-shard limits (docs: Kinesis Data Streams quotas; aws-semantics.md).
KINESIS_WRITE_RECORDS_PER_S = 1000
KINESIS_LIMITS = (
    ("escritura", "1.000 registros/s o 1 MB/s por shard"),
    ("lectura", "2 MB/s y 5 llamadas GetRecords/s por shard (hasta 10.000 registros cada una)"),
    ("Lambda (event source mapping)", "un lote en vuelo por shard (ParallelizationFactor 1; "
                                      "hasta 10)"),
    ("Firehose PutRecordBatch", "500 registros y 4 MiB por llamada, 1.000 KiB por registro"),
)
TAIL_LINES = 15


@dataclass
class Benchmark:
    """One ``bench_*.py``: what it is and how it is run."""

    name: str
    path: Path
    summary: str
    quick_args: list[str]
    takes_port_base: bool
    uses_env_stack: bool


@dataclass
class Run:
    benchmark: Benchmark
    command: list[str]
    seconds: float = 0.0
    load: float = 0.0  # 1-minute load average when it started
    exit_code: int | None = None
    results: dict[str, float] = field(default_factory=dict)
    tail: list[str] = field(default_factory=list)


def discover(folder: Path = HERE) -> list[Benchmark]:
    """Every ``bench_*.py`` of ``folder``, read (never imported): docstring, QUICK_ARGS, flags."""
    found = []
    for path in sorted(folder.glob("bench_*.py")):
        source = path.read_text()
        tree = ast.parse(source)
        doc = (ast.get_docstring(tree) or path.stem).strip().splitlines()[0]
        quick: list[str] = []
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "QUICK_ARGS" for t in node.targets):
                quick = [str(a) for a in ast.literal_eval(node.value)]
        takes_port_base = '"--port-base"' in source
        found.append(Benchmark(path.stem.removeprefix("bench_"), path, doc, quick,
                               takes_port_base,
                               not takes_port_base and "AWS_ENDPOINT_URL" in source))
    return found


def parse_results(lines: list[str]) -> dict[str, float]:
    """``RESULT <name> <value>`` lines -> {name: value} (a later line wins)."""
    out = {}
    for line in lines:
        match = RESULT_LINE.match(line.strip())
        if match:
            try:
                out[match.group(1)] = float(match.group(2))
            except ValueError:
                continue
    return out


def child_env(stack_env: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not STACK_ENV.match(k)}
    env["PYTHONUNBUFFERED"] = "1"
    if stack_env:
        env.update(stack_env)
    return env


def run_one(run: Run, env: dict[str, str], timeout_s: float) -> Run:
    """Run a benchmark, echoing its output; collect its RESULT lines."""
    started = time.monotonic()
    run.load = os.getloadavg()[0]
    lines: list[str] = []
    print(f"\n=== {run.benchmark.name}: {shlex.join(display(run.command))}", flush=True)
    with subprocess.Popen(run.command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        deadline = started + timeout_s
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            print(f"  {line}", end="", flush=True)
            if time.monotonic() > deadline:
                proc.kill()
                lines.append(f"(stopped by run_all after {timeout_s:.0f} s)")
                break
        run.exit_code = proc.wait()
    run.seconds = time.monotonic() - started
    run.results = parse_results(lines)
    run.tail = [line for line in lines if not RESULT_LINE.match(line.strip())][-TAIL_LINES:]
    return run


def display(command: list[str]) -> list[str]:
    """The command as a user types it (``python benchmarks/bench_x.py ...``)."""
    shown = ["python" if command[0] == sys.executable else command[0]]
    for part in command[1:]:
        path = Path(part)
        shown.append(str(path.relative_to(REPO)) if path.is_absolute()
                     and path.is_relative_to(REPO) else part)
    return shown


@contextlib.contextmanager
def env_stack(port_base: int, needed: bool) -> Iterator[dict[str, str] | None]:
    """A throw-away stack for the benchmarks that use the environment's, when any does."""
    if not needed:
        yield None
        return
    sys.path.insert(0, str(REPO))
    from local.settings import StackConfig
    from local.stack import Stack
    from local.temporary import temporary_stack

    with temporary_stack(port_base) as stack:
        assert isinstance(stack, Stack) and isinstance(stack.config, StackConfig)
        yield stack.env()


# --- the report ------------------------------------------------------------------------------
def machine() -> list[tuple[str, str]]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        memory = f"{kib / 2**20:.1f} GiB"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                            capture_output=True, text=True, check=False).stdout.strip()
    return [("CPU", f"{cpu}, {os.cpu_count()} núcleos"), ("memoria", memory),
            ("sistema", f"{platform.system()} {platform.release()}"),
            ("Python", platform.python_version()), ("commit", commit or "?")]


def fmt(value: float) -> str:
    if value != value:  # NaN
        return "n/d"
    if abs(value) >= 100:
        return f"{value:,.0f}".replace(",", ".")
    return f"{value:,.3g}".replace(".", ",")


def naive_ratios(results: dict[str, float]) -> list[str]:
    lines = []
    for name, naive in results.items():
        if not name.startswith("naive_") or name[6:] not in results or not naive:
            continue
        ours = results[name[6:]]
        lower_is_better = name.endswith(("_s", "_ms")) and not name.endswith("_per_s")
        ratio = naive / ours if lower_is_better else ours / naive
        lines.append(f"- `{name[6:]}` frente al diseño ingenuo (`{name}`): **{fmt(ratio)}x**")
    return lines


def shard_ratios(results: dict[str, float]) -> list[str]:
    lines = []
    limit = KINESIS_WRITE_RECORDS_PER_S
    for name, value in results.items():
        if name.endswith("_records_per_s_per_shard"):
            lines.append(f"- `{name}` = {fmt(value)} registros/s por shard: "
                         f"**{fmt(value / limit)}x** el límite de escritura de Kinesis "
                         f"({fmt(limit)} registros/s por shard)")
    return lines


def report(runs: list[Run], *, quick: bool, started: datetime, load: tuple[float, float],
           port_base: int) -> str:
    lines = [
        "# Benchmarks: cifras medidas y cómo repetirlas",
        "",
        "Este fichero lo escribe `python benchmarks/run_all.py` (no se edita a mano). Cada cifra",
        "sale de una línea `RESULT <nombre> <valor>` del benchmark (convención en",
        "[`benchmarks/results.py`](../benchmarks/results.py)); el sufijo del nombre es la unidad",
        "(`_s`, `_ms`, `_per_s`, `_mib`, `_x`, `_count`). Para medir de nuevo:",
        "",
        "```bash",
        "python benchmarks/run_all.py            # tamaños completos",
        "python benchmarks/run_all.py --quick    # tamaños reducidos (máquina cargada)",
        "```",
        "",
        "## Máquina y condiciones",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in machine()),
        f"| fecha (UTC) | {started:%Y-%m-%d %H:%M} |",
        f"| carga media (1 min) al empezar / al terminar | {load[0]:.1f} / {load[1]:.1f} |",
        f"| modo | {'--quick (tamaños reducidos)' if quick else 'tamaños completos'} |",
        f"| base de puertos | {port_base} |",
        "",
    ]
    busiest = max([*load, *(r.load for r in runs)])
    if busiest > (os.cpu_count() or 1):
        lines += [
            f"> **Máquina cargada:** la carga media llegó a {busiest:.1f} con "
            f"{os.cpu_count()} núcleos: otros procesos compartían la CPU, así que las cifras de "
            "tiempo y de rendimiento son pesimistas.",
            "",
        ]
    lines += ["Límites de AWS por shard con los que se comparan las cifras:", ""]
    lines += [f"- {what}: {limit}" for what, limit in KINESIS_LIMITS]
    lines.append("")
    for run in runs:
        b = run.benchmark
        status = "correcto" if run.exit_code == 0 else f"**terminó con código {run.exit_code}**"
        lines += [
            f"## {b.name}: {b.summary}",
            "",
            f"`{shlex.join(display(run.command))}` ({status}, {run.seconds:.0f} s, carga media "
            f"{run.load:.1f} al empezar)",
            "",
        ]
        if run.results:
            lines += ["| cifra | valor |", "|---|---:|"]
            lines += [f"| `{k}` | {fmt(v)} |" for k, v in run.results.items()]
            lines.append("")
            comparisons = naive_ratios(run.results) + shard_ratios(run.results)
            if comparisons:
                lines += [*comparisons, ""]
        if not run.results or run.exit_code != 0:
            lines += ["Final de la salida:", "", "```", *run.tail, "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="use each benchmark's QUICK_ARGS")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these")
    parser.add_argument("--skip", nargs="+", metavar="NAME", default=[], help="do not run these")
    parser.add_argument("--args", action="append", default=[], metavar='NAME="ARGS"',
                        help="arguments for one benchmark (replace QUICK_ARGS)")
    parser.add_argument("--port-base", type=int,
                        default=int(os.environ.get("LOCAL_STACK_PORT_BASE") or 6866))
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per benchmark")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args(argv)
    overrides = {}
    for item in args.args:
        name, _, value = item.partition("=")
        overrides[name.removeprefix("bench_")] = shlex.split(value)
    benchmarks = [b for b in discover() if (not args.only or b.name in args.only)
                  and b.name not in args.skip]
    unknown = set(args.only or []) - {b.name for b in discover()}
    if unknown:
        print(f"error: no benchmark named {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    runs = []
    for b in benchmarks:
        extra = overrides.get(b.name, b.quick_args if args.quick else [])
        command = [sys.executable, str(b.path), *extra]
        if b.takes_port_base and "--port-base" not in extra:
            command += ["--port-base", str(args.port_base)]
        runs.append(Run(b, command))
    if args.dry_run:
        for run in runs:
            print(shlex.join(display(run.command)))
        return 0
    started = datetime.now(UTC)
    load_before = os.getloadavg()[0]
    with env_stack(args.port_base + 100, any(r.benchmark.uses_env_stack for r in runs)) as stack:
        for run in runs:
            env = child_env(stack if run.benchmark.uses_env_stack else None)
            run_one(run, env, args.timeout)
    text = report(runs, quick=args.quick, started=started,
                  load=(load_before, os.getloadavg()[0]), port_base=args.port_base)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    failed = [r.benchmark.name for r in runs if r.exit_code != 0]
    print(f"\nwrote {args.out} ({len(runs)} benchmarks, "
          f"{sum(len(r.results) for r in runs)} figures)"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
