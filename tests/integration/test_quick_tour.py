"""The README's quick tour, command by command as written there, in order, in a scratch copy of the checkout's
layout. Nothing is added but the tiny model and a few steps on the ``train.py`` lines (the real ones take minutes on
a CPU): the data root comes from the ``.data-root`` file ``make`` writes, as it does for a reader who ran
``make train``, so every tool must find the data by itself."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from doc_blocks import commands, runnable

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TINY_RUN = ["debug=fast", "trainer.max_steps=4", "trainer.val_check_interval=2"]


def tour_commands() -> list[str]:
    [block] = runnable("README.md")
    assert block.heading == "Quick tour"
    return commands(block)


def as_test(command: str) -> list[str] | None:
    """The argv that runs ``command`` here; None for the venv activation (the test runs in the venv already)."""
    if command.startswith("source "):
        return None
    argv = shlex.split(command)
    if argv[0] == "python":
        argv[0] = sys.executable
    elif (BIN / argv[0]).exists():
        argv[0] = str(BIN / argv[0])
    if "train.py" in argv and "--help" not in argv:
        argv += TINY_RUN
    return argv


@pytest.fixture(scope="module")
def tour(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[subprocess.CompletedProcess]]:
    """Each command run in a scratch folder holding train.py, conf/ and scripts/ (outputs land there) and the
    ``.data-root`` that ``make`` leaves, naming a data root elsewhere (as ``../shared/data`` is) with the quickstart's
    file names: no tool finds it under ``./data`` by chance."""
    work = tmp_path_factory.mktemp("tour")
    for name in ("train.py", "conf", "scripts"):
        (work / name).symlink_to(REPO / name)
    data = tmp_path_factory.mktemp("shared") / "data"
    shutil.copytree(tiny_data, data)
    (data / "wiki" / "wiki.txt").rename(data / "wiki" / "wiki1m_head11914.txt")
    (work / ".data-root").write_text(f"{data}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("HYDRA_FULL_ERROR", "SIMCSE_DATA_DIR")}
    done = []
    for command in tour_commands():
        argv = as_test(command)
        if argv is None:
            continue
        result = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{command}\n{result.stderr[-3000:]}"
        done.append(result)
    return work, done


def test_the_tour_has_the_documented_steps():
    commands = tour_commands()
    assert len(commands) == 6, "the README promises a 6-line quick tour"
    assert commands[0] == "source .venv/bin/activate" and commands[1].startswith("python train.py experiment=quickstart")


def test_train_evaluate_infer_sweep_report(tour):
    work, done = tour
    run = work / "outputs" / "tour"
    results = json.loads((run / "results.json").read_text())
    assert results["final"]["step"] == 4 and (run / "model" / "config.json").exists()
    assert "STS-B" in done[1].stdout  # simcse-eval's table
    assert -1.0 <= float(done[2].stdout.strip()) <= 1.0  # the similarity
    assert sorted(p.name for p in (work / "multirun" / "tour").iterdir() if p.name.isdigit()) == ["0", "1"]
    assert re.search(r"^best: job [01] \(loss\.tau=0\.(03|1)\) STS-B dev Spearman -?\d+\.\d\d ", done[3].stdout, re.M)
    assert "| run | loss.tau |" in (work / "multirun" / "tour" / "report.md").read_text()  # runs told apart
