"""The fenced code blocks of the README and of the docs site (docs/**/*.md), for the tests that run them.

Every ```` ```bash ```` / ```` ```python ```` block is run by a test, as written (a test may append the tiny model and
a few steps to a ``train.py`` command, or substitute a scratch path for a placeholder such as ``MODEL``), or the line
before its fence gives the reason it is not run::

    <!-- not-run: the paper's recipe on a GPU (about an hour) -->

A test claims a page by calling ``runnable("docs/guides/x.md")`` with the page written out, and then runs every block
that call returns; tests/unit/test_doc_blocks.py checks that each page with runnable blocks is claimed, and that
every fence names its language (``text``, ``yaml``, ``json``… for blocks that are not commands).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNNABLE = frozenset({"bash", "sh", "shell", "python", "py"})
NOT_RUN = re.compile(r"^<!--\s*not-run:(.*?)-->\s*$")
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")


@dataclass(frozen=True)
class Block:
    page: str  # relative to the repository root
    line: int  # 1-based line of the opening fence
    lang: str  # "" when the fence names none
    code: str
    not_run: str | None  # the reason given on the line before the fence, when there is one
    heading: str  # the nearest heading above the block, without its #s

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def doc_pages() -> list[str]:
    """README.md and every page of the docs site."""
    return ["README.md", *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").rglob("*.md"))]


def blocks(page: str) -> list[Block]:
    """Every fenced block of ``page``, in order."""
    lines = (REPO / page).read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    heading = ""
    i = 0
    while i < len(lines):
        if lines[i].startswith("#"):
            heading = lines[i].lstrip("#").strip()
        opening = FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent, fence, lang = opening.groups()
        start = i
        i += 1
        body: list[str] = []
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        marker = NOT_RUN.match(lines[start - 1].strip()) if start > 0 else None
        reason = marker.group(1).strip() if marker else None
        found.append(Block(page, start + 1, lang, "\n".join(body) + "\n", reason, heading))
        i += 1
    return found


def runnable(page: str) -> list[Block]:
    """The blocks of ``page`` a test must run: shell and Python blocks without a not-run reason."""
    return [b for b in blocks(page) if b.lang in RUNNABLE and b.not_run is None]


def commands(block: Block) -> list[str]:
    """A shell block's commands: comments cut, backslash continuations joined, blank lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", block.code)
    out = []
    for line in joined.splitlines():
        line = re.split(r"\s+#\s|^#", line, maxsplit=1)[0].strip()
        if line:
            out.append(line)
    return out
