"""Exact resume after a crash: train.py is killed with SIGKILL after a step, or in the middle of writing a
checkpoint, resumed with ``ckpt_path=last``, and must end with the weights of a run never interrupted.

16 steps (2 epochs of 8, batch 32, a checkpoint every 4 steps) of the tiny model, deterministic, one thread
per run. The five runs go two or three at a time: the time is mostly Python imports.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.run_control import finish, kill_when_frozen, start

REPO = Path(__file__).resolve().parents[2]
FAULTS = "tests.integration.faults"
SECRETS = {"WANDB_API_KEY": "wandb-secret-0123456789abcdef", "HF_TOKEN": "hf_secretTOKEN0123456789"}


def command(data: Path, run_dir: Path, *overrides: str) -> list[str]:
    return [
        sys.executable, str(REPO / "train.py"),
        "model=tiny", "trainer=cpu", "trainer.deterministic=true", "trainer.max_epochs=2",
        "+trainer.enable_progress_bar=false", "data.num_workers=0", "data.batch_size=32",
        f"paths.data_dir={data}", f"data.source.path={data}/wiki/wiki.txt", f"hydra.run.dir={run_dir}",
        "callbacks.resume_checkpoint.every_n_train_steps=4", "trainer.log_every_n_steps=1",
        "validate_before=false", "export=false", "test=false", *overrides,
    ]


def start_run(data: Path, run_dir: Path, *overrides: str, **env: str) -> subprocess.Popen:
    return start(command(data, run_dir, *overrides), **env)


def resume(data: Path, run_dir: Path) -> subprocess.Popen:
    steps = run_dir / "steps.txt"
    return start_run(data, run_dir, "ckpt_path=last", f"+callbacks.steps._target_={FAULTS}.RecordSteps", f"+callbacks.steps.path={steps}")


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def runs(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three runs side by side (one thread each): uninterrupted, killed before step 14, killed during the 3rd
    save (step 12) with half of it written. The killed runs' last.ckpt is kept as killed.ckpt, then both resume."""
    dirs = {name: tmp_path_factory.mktemp(name) for name in ("uninterrupted", "after_step", "mid_save")}
    markers = {name: dirs[name] / "frozen" for name in dirs}
    reference = start_run(tiny_data, dirs["uninterrupted"], **SECRETS)  # secrets in the environment must not leak
    after_step = start_run(tiny_data, dirs["after_step"], f"+callbacks.fault._target_={FAULTS}.FreezeAtStep",
                       "+callbacks.fault.step=14", f"+callbacks.fault.marker={markers['after_step']}")
    mid_save = start_run(tiny_data, dirs["mid_save"],
                     f"trainer.plugins=[{{_target_: {FAULTS}.FreezeMidSave, save: 3, marker: '{markers['mid_save']}'}}]")
    kill_when_frozen(after_step, markers["after_step"])
    kill_when_frozen(mid_save, markers["mid_save"])
    for name in ("after_step", "mid_save"):
        checkpoints = dirs[name] / "checkpoints"
        shutil.copy(checkpoints / "last.ckpt", dirs[name] / "killed.ckpt")
        if (checkpoints / "last.ckpt.partial").exists():
            (dirs[name] / "partial_left").touch()
    resumed = [resume(tiny_data, dirs[name]) for name in ("after_step", "mid_save")]
    for proc in (reference, *resumed):
        finish(proc)
    return dirs


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    state = load(run_dir / "checkpoints" / "last.ckpt")
    assert state["global_step"] == 16
    return state["state_dict"]


def assert_same_weights(resumed: dict[str, torch.Tensor], reference: dict[str, torch.Tensor]) -> None:
    assert resumed.keys() == reference.keys()
    worst = max((resumed[k].float() - reference[k].float()).abs().max().item() for k in reference)
    assert worst <= 1e-6, f"resumed weights differ from the uninterrupted run by up to {worst:g}"


def steps_run(run_dir: Path) -> list[int]:
    return [int(s) for s in (run_dir / "steps.txt").read_text().split()]


def test_kill9_after_a_step_then_resume_matches_uninterrupted_run(runs: dict[str, Path]):
    killed = load(runs["after_step"] / "killed.ckpt")
    assert killed["global_step"] == 12  # 4 steps into the second epoch
    assert killed["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [{"epoch": 1, "steps": 4}]
    assert steps_run(runs["after_step"]) == [12, 13, 14, 15]
    last = runs["after_step"] / "checkpoints" / "last.ckpt"
    assert f"resuming from step 12 of 16 ({last})" in (runs["after_step"] / "train.log").read_text()  # issue 24 item 10
    assert_same_weights(final_weights(runs["after_step"]), final_weights(runs["uninterrupted"]))


def test_kill9_during_a_checkpoint_write_keeps_last_and_resumes(runs: dict[str, Path]):
    assert (runs["mid_save"] / "partial_left").exists()  # the interrupted write of step 12
    killed = load(runs["mid_save"] / "killed.ckpt")  # loads: a whole file, the one before
    assert killed["global_step"] == 8  # saved after the last batch of epoch 1: the restart crosses epochs
    assert steps_run(runs["mid_save"]) == list(range(8, 16))
    assert f"resuming from step 8 of 16 ({runs['mid_save'] / 'checkpoints' / 'last.ckpt'})" in (
        runs["mid_save"] / "train.log").read_text()
    assert_same_weights(final_weights(runs["mid_save"]), final_weights(runs["uninterrupted"]))


def test_no_secret_from_the_environment_in_run_files(runs: dict[str, Path]):
    files = [p for p in runs["uninterrupted"].rglob("*") if p.is_file()]
    assert any(p.name == "results.json" for p in files) and any(p.name == "config.yaml" for p in files)
    for path in files:
        content = path.read_bytes()
        for name, secret in SECRETS.items():
            assert secret.encode() not in content, f"{name} leaked into {path}"


def loss_steps(run_dir: Path) -> list[int]:
    with open(run_dir / "csv" / "metrics.csv", newline="") as f:
        return [int(row["step"]) for row in csv.DictReader(f) if row.get("train/loss")]


@pytest.mark.parametrize("killed", ["after_step", "mid_save"])
def test_the_resumed_run_keeps_the_history_of_both_segments(runs: dict[str, Path], killed: str):
    """metrics.csv continues (each step's loss once, as in the run never killed); run_info.json and .hydra/ keep
    the first segment's record beside the resumed one's."""
    assert loss_steps(runs[killed]) == loss_steps(runs["uninterrupted"])
    info = json.loads((runs[killed] / "run_info.json").read_text())
    assert "ckpt_path=last" not in info["overrides"] and [r["overrides"][-1] for r in info["resumed"]] == ["+callbacks.steps.path=" + str(runs[killed] / "steps.txt")]
    first = (runs[killed] / ".hydra" / "segment-1" / "overrides.yaml").read_text()
    second = (runs[killed] / ".hydra" / "segment-2" / "overrides.yaml").read_text()
    assert "ckpt_path=last" not in first and "ckpt_path=last" in second
