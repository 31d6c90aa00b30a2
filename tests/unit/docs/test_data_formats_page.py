"""docs/data-formats.md: each shell block (it makes a file and runs ``simcse-validate`` on it) runs as written in a
scratch folder, and prints exactly the ``text`` block that follows it, with the exit status its last line implies
(``error:``: 2, else 0). So every error line the page documents is the one a reader gets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from doc_blocks import Block, blocks, runnable
from simcse_pl.cli.validate import TRAINING

PAGE = "docs/data-formats.md"
BIN = Path(sys.executable).parent


def examples() -> list[tuple[Block, Block]]:
    """Each runnable block with the ``text`` block right after it (what it prints)."""
    every = blocks(PAGE)
    pairs = []
    for block in runnable("docs/data-formats.md"):
        after = every[every.index(block) + 1]
        assert after.lang == "text", f"{block.where}: follow it with a ```text block of what it prints"
        pairs.append((block, after))
    return pairs


@pytest.mark.parametrize(("command", "output"), examples(), ids=lambda b: f"line{b.line}")
def test_the_documented_line(command: Block, output: Block, tmp_path: Path):
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("SIMCSE_DATA_DIR", None)
    done = subprocess.run(["bash", "-c", command.code], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)
    expected = output.code.rstrip("\n")
    assert done.stdout.rstrip("\n") == expected, f"{command.where} prints:\n{done.stdout}"
    assert done.returncode == (2 if "error:" in expected else 0)


def test_every_kind_of_the_validator_is_on_the_page():
    page = (Path(__file__).resolve().parents[3] / PAGE).read_text(encoding="utf-8")
    assert all(f"| `{kind}` |" in page for kind in [*TRAINING, "task"])
