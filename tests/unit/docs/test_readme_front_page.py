"""The README is a front page (issue 24): at most 150 lines, the two commands, a link to every guide and to the
reference, and no link to a page that does not exist. The long content lives on the docs site."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
README = (REPO / "README.md").read_text(encoding="utf-8")
LINKS = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README)


def test_it_is_short():
    assert len(README.splitlines()) <= 150


def test_the_two_commands_come_first():
    two = README.index("## Two commands")
    assert two < README.index("## Quick tour") and "make train" in README[two:] and "make test" in README[two:]


def test_it_links_every_guide_and_reference_page():
    pages = {p.relative_to(REPO).as_posix() for p in (REPO / "docs").rglob("*.md") if "hooks" not in p.parts}
    wanted = {p for p in pages if p.startswith(("docs/guides/", "docs/reference/", "docs/getting-started/install"))}
    assert wanted <= set(LINKS), f"not linked from the README: {sorted(wanted - set(LINKS))}"


def test_every_local_link_resolves():
    local = [link for link in LINKS if not link.startswith(("http://", "https://"))]
    assert local and all((REPO / link).exists() for link in local), [l for l in local if not (REPO / l).exists()]
