"""The local stack's live dashboard: ``viz/dashboard.py`` run as a stack service.

Run: ``python -m local.services.dashboard --host 127.0.0.1 --port 4573 --state-dir DIR``.
Reads ``OPENSEARCH_ENDPOINT`` (and ``OPENSEARCH_INDEX``/``PROJECT_PREFIX`` when set) from the
environment the stack gives it; its URL is ``DASHBOARD_URL`` in ``.local-stack/env.sh``.
``GET /_health`` answers 200.
"""

from __future__ import annotations

import sys

from local.services.serving import configure_logging, serve_until_signal, service_parser
from local.settings import REPO_ROOT

VIZ = REPO_ROOT / "viz"
if str(VIZ) not in sys.path:
    sys.path.insert(0, str(VIZ))

import dashboard  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = service_parser("Local live dashboard (viz/dashboard.py)")
    parser.add_argument("--refresh", type=float, default=5.0)
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    from taximl.config import Settings

    board = dashboard.Dashboard.from_settings(Settings.from_env(), args.refresh)
    for name in dashboard.missing_vendor_files():
        dashboard.log.warning("%s is missing: the page cannot render (run: make setup)", name)
    serve_until_signal("dashboard", dashboard.make_server(board, args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
