"""The playground's browser (Debian's headless chromium, ``apt-get install chromium``, driven by playwright) and its
two boxes the tests read back: two sentences' score, a search's hits. Skipped only outside CI when chromium is
absent; in CI (CI=true) that fails, as ``.ci/run`` installs it."""

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


def score_pair(tab: Any, a: str, b: str, model: str = "run") -> str:
    """The two-sentence box's score for ``model`` as the page shows it, once it answered."""
    tab.fill("#a", a)
    tab.fill("#b", b)
    tab.click("#pair-go")
    return tab.wait_for_selector(f'#pair-out .column[data-model="{model}"] .pair-score').inner_text()


def search(tab: Any, query: str, top_k: int, model: str = "run", other: str = "untrained") -> list[str]:
    """The texts of ``model``'s hits in the search box, best first, once ``other``'s column answered too."""
    tab.fill("#query", query)
    tab.fill("#topk", str(top_k))
    tab.click("#search-go")
    tab.wait_for_selector(f'#search-out .column[data-model="{other}"] li.hit')
    return tab.locator(f'#search-out .column[data-model="{model}"] li.hit .text').all_inner_texts()
