"""The playground's browser: Debian's headless chromium (``apt-get install chromium``) driven by playwright. Skipped
only outside CI when it is absent; in CI (CI=true) that fails, as ``.ci/run`` installs it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@contextmanager
def playground(url: str) -> Iterator[Any]:
    """A tab on the page at ``url``, once its script has read ``/info`` (``body[data-ready=true]``)."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1000, "height": 1300})
        tab.goto(url)
        tab.wait_for_selector("body[data-ready=true]")
        yield tab
        browser.close()
