"""Open the dashboard in Debian's headless Chromium with Playwright (tests and screenshots).

Chromium is the system one (``/usr/bin/chromium``, installed by
``scripts/install_system_deps.sh``): Playwright's own browser download is never used. The flags
keep Chromium from calling home (this machine has no network beyond loopback), and every
request the page makes is recorded; one that leaves 127.0.0.1 is aborted and reported.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser",
                       "/usr/bin/google-chrome")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio",
         "--disable-dev-shm-usage"]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def chromium_path() -> str | None:
    """The system Chromium (``CHROMIUM`` overrides), or None when it is not installed."""
    override = os.environ.get("CHROMIUM")
    if override:
        return override
    for candidate in CHROMIUM_CANDIDATES:
        if os.path.exists(candidate):
            return candidate
    return shutil.which("chromium")


@dataclass
class PageLog:
    """Console errors, page errors and every request URL, and those that left loopback."""

    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)


@contextmanager
def open_page(url: str, width: int = 1500, height: int = 1100) -> Iterator[tuple[Any, PageLog]]:
    """A Playwright page on ``url`` (not loaded yet: call ``page.goto``), and its log."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        raise FileNotFoundError("Chromium is not installed: bash scripts/install_system_deps.sh "
                                "(Debian: apt-get install chromium)")
    record = PageLog()
    with sync_playwright() as pw:  # Playwright gives the browser a new, empty profile
        browser = pw.chromium.launch(executable_path=executable, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.on("console", lambda m: record.console_errors.append(m.text)
                    if m.type == "error" else None)
            page.on("pageerror", lambda e: record.console_errors.append(str(e)))

            def guard(route: Any) -> None:
                target = route.request.url
                record.requests.append(target)
                host = urlsplit(target).hostname
                if target.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
                    route.continue_()
                else:
                    record.external.append(target)
                    route.abort()

            page.route("**/*", guard)
            yield page, record
        finally:
            browser.close()


def wait_rendered(page: Any, refreshes: int = 1, timeout_ms: float = 60_000) -> None:
    """Wait until the page finished ``refreshes`` refresh cycles (every panel rendered)."""
    page.wait_for_function(
        f"Number(document.body.dataset.refreshes || 0) >= {refreshes}", timeout=timeout_ms)
