"""CLI: ``python -m local start|stop|status|reset|env|setup``."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from local import node
from local.envfile import render
from local.settings import ENV_PORT_BASE, ENV_STATE_DIR, StackConfig
from local.stack import Stack, StackError, recorded_port_base


def _table(stack: Stack) -> str:
    rows = [("SERVICE", "PORT", "PID", "HEALTHY")]
    for row in stack.status():
        pid = str(row.pid) if row.pid else "-"
        healthy = "yes" if row.healthy else ("no" if row.running else row.note or "stopped")
        rows.append((row.name, str(row.port), pid, healthy))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local", description=(
        "Local AWS stack (moto, kinesalite, osmem-server and the project's stand-ins) "
        "on 127.0.0.1."))
    parser.add_argument("command", choices=["start", "stop", "status", "reset", "env", "setup"])
    parser.add_argument("--port-base", type=int, default=None,
                        help=f"first port (default 4566, env {ENV_PORT_BASE})")
    parser.add_argument("--state-dir", default=None,
                        help=f"data, logs and pids (default .local-stack/, env {ENV_STATE_DIR})")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        config = StackConfig.from_env(args.port_base, args.state_dir)
        if args.port_base is None and ENV_PORT_BASE not in os.environ:
            # stop/status/env of a stack started with --port-base N need not repeat it
            recorded = recorded_port_base(config.state_dir)
            if recorded is not None:
                config = StackConfig.from_env(recorded, config.state_dir)
    except ValueError as exc:
        parser.error(str(exc))
    stack = Stack(config)
    cfg = stack.config
    try:
        if args.command == "setup":
            node.npm_ci()
            print("Node.js dependencies installed (local/node_modules).")
        elif args.command == "start":
            result = stack.start()
            if result.already_running:
                print(f"The local stack is already running (state: {cfg.state_dir}).")
            else:
                print(f"Local stack healthy in {result.seconds:.1f} s (state: {cfg.state_dir}).")
            if result.skipped:
                print(f"Not available yet (skipped): {', '.join(result.skipped)}")
            print(_table(stack))
            print(f"\nDashboard: {cfg.url('dashboard')}/ (live view of the scored trips)")
            print(f"Logs: {cfg.logs_dir}/\nEnvironment ({cfg.env_file}):\n")
            print(render(stack.env()), end="")
            print(f"\nUse it in this shell:  source {cfg.env_file}")
        elif args.command == "stop":
            stopped = stack.stop()
            print(f"Stopped: {', '.join(stopped)}." if stopped else "The stack was not running.")
        elif args.command == "status":
            print(_table(stack))
            if not stack.running():
                print("\nThe stack is not running: python -m local start")
        elif args.command == "reset":
            stack.reset()
            print(f"Stack stopped and state wiped ({cfg.state_dir}).")
        elif args.command == "env":
            print(render(stack.env()), end="")
    except (StackError, node.NodeMissingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`
        sys.stderr.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
