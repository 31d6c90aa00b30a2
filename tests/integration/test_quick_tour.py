"""The README's quick tour, command by command as written there, in order, in a scratch copy of the layout;
train.py commands get the tiny model and a few steps appended (the real ones take minutes on a CPU)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def tour_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    block = re.search(r"## Quick tour\n.*?```bash\n(.*?)```", readme, re.S).group(1)
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


def as_test(command: str, data: Path) -> list[str] | None:
    """The argv that runs ``command`` here; None for the venv activation (the test runs in the venv already)."""
    if command.startswith("source "):
        return None
    argv = shlex.split(command)
    if argv[0] == "python":
        argv[0] = sys.executable
    elif (BIN / argv[0]).exists():
        argv[0] = str(BIN / argv[0])
    if "train.py" in argv and "--help" not in argv:
        argv += ["model=tiny", "trainer.max_steps=4", "trainer.val_check_interval=2", f"paths.data_dir={data}",
                 f"data.source.path={data}/wiki/wiki.txt", "data.num_workers=0", "data.batch_size=16"]
    if argv[0].endswith("simcse-eval"):
        argv += ["--data-dir", str(data)]
    return argv


@pytest.fixture(scope="module")
def tour(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[subprocess.CompletedProcess]]:
    """Each command run in a scratch folder holding train.py, conf/ and scripts/ (outputs land there)."""
    work = tmp_path_factory.mktemp("tour")
    for name in ("train.py", "conf", "scripts"):
        (work / name).symlink_to(REPO / name)
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    done = []
    for command in tour_commands():
        argv = as_test(command, tiny_data)
        if argv is None:
            continue
        result = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{command}\n{result.stderr[-3000:]}"
        done.append(result)
    return work, done


def test_the_tour_has_the_documented_steps():
    commands = tour_commands()
    assert commands[1].startswith("python train.py experiment=quickstart") and commands[-1] == "python train.py --help"


def test_train_evaluate_infer_resume_sweep_summarize(tour):
    work, done = tour
    run = work / "outputs" / "tour"
    results = json.loads((run / "results.json").read_text())
    assert results["final"]["step"] == 4 and (run / "model" / "config.json").exists()
    assert "STS-B" in done[1].stdout  # simcse-eval's table
    assert -1.0 <= float(done[2].stdout.strip()) <= 1.0  # the similarity
    assert len(json.loads((run / "run_info.json").read_text())["resumed"]) == 1
    assert "already trained (4 of 4 steps): validating and testing only" in done[3].stdout + done[3].stderr
    assert sorted(p.name for p in (work / "multirun" / "tour").iterdir() if p.name.isdigit()) == ["0", "1"]
    assert re.search(r"^best: job [01] \(loss\.tau=0\.(03|1)\) STS-B dev Spearman -?\d+\.\d\d ", done[4].stdout, re.M)
    assert "| run | loss.tau |" in (work / "multirun" / "tour" / "report.md").read_text()  # simcse-report's
    assert "Config groups" in done[-1].stdout
