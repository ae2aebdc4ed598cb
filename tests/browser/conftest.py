"""Browser tests: Debian's Chromium (``apt-get install chromium``) driven by Playwright.

No browser is downloaded at test time: Playwright launches the system's Chromium. Where it
is missing the tests skip, except in CI (``CI=true``), where they fail: CI must run them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

#: Chromium's flags for a headless run that talks to nothing but the test's servers.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    found = os.environ.get("LIENTHONG_CHROMIUM") or shutil.which("chromium")
    if found and Path(found).exists():
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}: CI must run the browser tests (.ci/run installs chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """A headless Chromium (the system's), for the module's tests."""
    executable = chromium_path()
    if executable is None:
        _missing("no chromium (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("no playwright (pip install -r requirements.txt)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_FLAGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()
