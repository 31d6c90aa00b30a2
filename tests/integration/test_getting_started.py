"""The getting-started pages' blocks, as written, in order, in a scratch copy of the checkout's layout after one
quickstart run (the tiny model and a few steps appended to the ``train.py`` line, the data root from ``.data-root``
as ``make`` leaves it): docs/getting-started/quickstart.md trains and loads the export three ways,
docs/getting-started/run-folder.md lists the folder and reads its scores."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from doc_blocks import Block, commands, runnable

# slow: a second quickstart run beside the quick tour's (~25 s)
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
TINY_RUN = ["debug=fast", "trainer.max_steps=4", "trainer.val_check_interval=2"]


def run_block(block: Block, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("HYDRA_FULL_ERROR", "SIMCSE_DATA_DIR")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    if block.lang == "python":
        argv = [sys.executable, "-c", block.code]
    elif "train.py" in block.code:
        [command] = commands(block)
        argv = [sys.executable if word == "python" else word for word in shlex.split(command)] + TINY_RUN
    else:
        argv = ["bash", "-c", block.code]
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{block.where}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def checkout(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """train.py and conf/ beside the ``.data-root`` of a data root with the quickstart's file names."""
    work = tmp_path_factory.mktemp("checkout")
    for name in ("train.py", "conf"):
        (work / name).symlink_to(REPO / name)
    data = tmp_path_factory.mktemp("shared") / "data"
    shutil.copytree(tiny_data, data)
    (data / "wiki" / "wiki.txt").rename(data / "wiki" / "wiki1m_head11914.txt")
    (work / ".data-root").write_text(f"{data}\n")
    return work


@pytest.fixture(scope="module")
def quickstart(checkout: Path) -> list[subprocess.CompletedProcess]:
    return [run_block(block, checkout) for block in runnable("docs/getting-started/quickstart.md")]


def test_the_quickstart_trains_and_its_export_loads_three_ways(quickstart):
    train, load = quickstart
    assert "STS-B dev Spearman" in train.stderr + train.stdout
    assert -1.0 <= float(load.stdout.strip().splitlines()[-1]) <= 1.0


def test_the_run_folder_page(checkout: Path, quickstart):
    listing, scores = [run_block(block, checkout) for block in runnable("docs/getting-started/run-folder.md")]
    shown = set(listing.stdout.split())
    documented = (REPO / "docs" / "getting-started" / "run-folder.md").read_text(encoding="utf-8")
    assert {"results.json", "model", "checkpoints", "csv", "train.log", ".hydra", "run_info.json"} <= shown
    assert all(f"`{name}" in documented for name in shown), "a file of the run folder the page does not explain"
    assert "step" in scores.stdout
