"""Screenshot of the live dashboard (``docs/img/dashboard.png`` comes from here, after the demo).

Usage::

    make demo                         # the pipeline runs and the stack's dashboard has data
    python viz/screenshot.py          # writes docs/img/dashboard.png from $DASHBOARD_URL

Opens the page in headless Chromium (:mod:`browser`), waits until every panel has rendered with
the data, and saves a full-page PNG. Fails if a panel shows an error, the page logs an error, or
a request leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from browser import open_page, wait_rendered  # noqa: E402

DEFAULT_OUT = REPO / "docs" / "img" / "dashboard.png"


def take(url: str, out: Path, range_key: str = "15m", width: int = 1500) -> list[str]:
    """Save the screenshot; returns the problems seen (empty when the page is clean)."""
    with open_page(url, width=width) as (page, record):
        page.goto(f"{url.rstrip('/')}/?range={range_key}")
        wait_rendered(page)
        errors = page.eval_on_selector_all(
            "[data-state='error']", "nodes => nodes.map(n => n.textContent)")
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out), full_page=True)
    return [*errors, *record.console_errors, *(f"external request {u}" for u in record.external)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Screenshot of the live dashboard.")
    parser.add_argument("--url", default=os.environ.get("DASHBOARD_URL"),
                        help="dashboard URL (default: $DASHBOARD_URL from .local-stack/env.sh)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--range", default="15m", choices=["15m", "1h", "all"])
    args = parser.parse_args(argv)
    if not args.url:
        print("error: set DASHBOARD_URL (source .local-stack/env.sh) or pass --url",
              file=sys.stderr)
        return 1
    problems = take(args.url, args.out, args.range)
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    print(f"screenshot of {args.url} ({args.range}) written to {args.out}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
