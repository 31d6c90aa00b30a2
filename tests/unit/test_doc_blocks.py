"""The docs' code blocks are all accounted for: each names its language, each shell/Python block is run by a test
(a test file claims its page with ``runnable("<page>")``) or says on the line before it why it is not run."""

from __future__ import annotations

import re

import pytest

from doc_blocks import REPO, RUNNABLE, blocks, doc_pages, runnable

CLAIM = re.compile(r"""runnable\(\s*["']([^"']+)["']\s*\)""")


def claimed_pages() -> set[str]:
    claimed: set[str] = set()
    for path in (REPO / "tests").rglob("*.py"):
        if path.name in {"doc_blocks.py", "test_doc_blocks.py"}:
            continue
        claimed.update(CLAIM.findall(path.read_text(encoding="utf-8")))
    return claimed


@pytest.mark.parametrize("page", doc_pages())
def test_every_fence_names_its_language(page: str):
    unnamed = [b.where for b in blocks(page) if not b.lang]
    assert not unnamed, f"fences with no language (```bash, ```python, ```text, ```yaml …): {unnamed}"


@pytest.mark.parametrize("page", doc_pages())
def test_a_not_run_reason_says_something_and_marks_a_command_block(page: str):
    for block in blocks(page):
        if block.not_run is not None:
            assert len(block.not_run) >= 10, f"{block.where}: say why the block is not run"
            assert block.lang in RUNNABLE, f"{block.where}: not-run marks a {block.lang} block, which is never run"


def test_each_page_with_runnable_blocks_is_run_by_a_test():
    claimed = claimed_pages()
    unclaimed = [page for page in doc_pages() if runnable(page) and page not in claimed]
    assert not unclaimed, f"pages whose blocks no test runs (claim one with runnable(\"<page>\")): {unclaimed}"
    assert not claimed - set(doc_pages()), f"tests claim pages that do not exist: {sorted(claimed - set(doc_pages()))}"
