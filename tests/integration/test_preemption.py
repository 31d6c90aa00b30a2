"""The kill test: SIGTERM (or SIGUSR1, or SIGINT: Ctrl-C) to a model=tiny run's whole process group at a random step before its first
periodic checkpoint, with 0 and 2 dataloader workers, and once between two epochs; the run writes last.ckpt, says
how to resume, exits 128+signal without a worker stack trace, and ``ckpt_path=last`` finishes with the weights of
a run never stopped. The Ctrl-C case presses it twice: the second SIGINT arrives while the first one's save is
being written, and changes nothing.

The step is drawn at random (1-50) in every session and printed in each assertion message, so a failure names
the step to reproduce it with (``SIMCSE_TEST_STOP_STEP=9 pytest tests/integration/test_preemption.py``; 9 stops
inside a validation, 31 at the end of an epoch).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from simcse_pl.training.run_lock import LOCK_NAME
from tests.run_control import start

REPO = Path(__file__).resolve().parents[2]
STEP = int(os.environ.get("SIMCSE_TEST_STOP_STEP") or random.randint(1, 50))
STEPS = 64  # 2 epochs of 32 steps (256 sentences, batch 8); periodic checkpoints every 500: none before the stop


def command(data: Path, run_dir: Path, workers: int, *overrides: str) -> list[str]:
    return [
        sys.executable, str(REPO / "train.py"),
        "model=tiny", "trainer=cpu", "trainer.deterministic=true", f"trainer.max_steps={STEPS}", "trainer.max_epochs=2",
        "trainer.val_check_interval=10", "+trainer.enable_progress_bar=false", f"data.num_workers={workers}",
        "data.batch_size=8", f"paths.data_dir={data}", f"data.source.path={data}/wiki/wiki.txt",
        f"hydra.run.dir={run_dir}", "validate_before=false", "export=false", "test=false", *overrides,
    ]


FAULTS = "tests.integration.faults"
# name: (dataloader workers, signal, the fault's overrides, the step the state is saved at)
CASES = {
    "sigterm_no_workers": (0, "SIGTERM", [f"+callbacks.stop._target_={FAULTS}.SignalAtStep", f"+callbacks.stop.step={STEP}"], STEP + 1),
    "sigterm_2_workers": (2, "SIGTERM", [f"+callbacks.stop._target_={FAULTS}.SignalAtStep", f"+callbacks.stop.step={STEP}"], STEP + 1),
    "sigusr1_2_workers": (2, "SIGUSR1", [f"+callbacks.stop._target_={FAULTS}.SignalAtStep", f"+callbacks.stop.step={STEP}",
                                         "+callbacks.stop.signal=SIGUSR1"], STEP + 1),
    # Ctrl-C in the terminal (SIGINT to the process group), and again while last.ckpt is being written
    "sigint_2_workers": (2, "SIGINT", [f"+callbacks.stop._target_={FAULTS}.SignalAtStep", f"+callbacks.stop.step={STEP}",
                                       "+callbacks.stop.signal=SIGINT",
                                       f"trainer.plugins=[{{_target_: {FAULTS}.InterruptMidSave}}]"], STEP + 1),
    # between two epochs: after the last step's save point, before the next epoch starts
    "sigterm_at_epoch_end": (0, "SIGTERM", [f"+callbacks.stop._target_={FAULTS}.SignalAtEpochEnd", "+callbacks.stop.epoch=0"], 32),
}


def weights(run_dir: Path) -> tuple[int, dict[str, torch.Tensor]]:
    state = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    return state["global_step"], state["state_dict"]


@pytest.fixture(scope="module")
def runs(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """The uninterrupted run and the stopped runs side by side, then the resumes side by side."""
    dirs = {name: tmp_path_factory.mktemp(name) for name in ["uninterrupted", *CASES]}
    procs = {"uninterrupted": start(command(tiny_data, dirs["uninterrupted"], 0), new_session=True)}
    procs.update({name: start(command(tiny_data, dirs[name], w, *fault), new_session=True) for name, (w, _, fault, _) in CASES.items()})
    results = {}
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=300)
        results[name] = {"dir": dirs[name], "status": proc.returncode, "stderr": err}
        if name in CASES:
            results[name]["stopped_step"] = weights(dirs[name])[0]
            results[name]["lock_left"] = (dirs[name] / LOCK_NAME).exists()
    resumes = {name: start(command(tiny_data, dirs[name], CASES[name][0], "ckpt_path=last"), new_session=True) for name in CASES}
    for name, proc in resumes.items():
        _, err = proc.communicate(timeout=300)
        results[name]["resumed_status"], results[name]["resumed_stderr"] = proc.returncode, err
    return results


@pytest.mark.parametrize("case", list(CASES))
def test_a_stop_signal_saves_last_ckpt_and_exits_non_zero(runs: dict[str, dict], case: str):
    run, (_, signal, _, saved_at) = runs[case], CASES[case]
    where = f"(signal sent as step {STEP} started)"
    assert runs["uninterrupted"]["status"] == 0, runs["uninterrupted"]["stderr"][-3000:]
    assert run["status"] == {"SIGTERM": 143, "SIGUSR1": 138, "SIGINT": 130}[signal], f"{where}\n{run['stderr'][-3000:]}"
    assert run["stopped_step"] == saved_at, where  # the step under way finished, then the state was saved
    last_line = run["stderr"].strip().splitlines()[-1]
    assert last_line.startswith(f"stopped by {signal} at step {saved_at}; the training state is in "), where
    assert last_line.endswith(f"hydra.run.dir={run['dir']} ckpt_path=last"), where
    assert "Traceback" not in run["stderr"] and "DataLoader worker" not in run["stderr"], where
    assert not run["lock_left"], where


@pytest.mark.parametrize("case", list(CASES))
def test_resuming_the_stopped_run_ends_with_the_uninterrupted_weights(runs: dict[str, dict], case: str):
    run = runs[case]
    assert run["resumed_status"] == 0, run["resumed_stderr"][-3000:]
    step, resumed = weights(run["dir"])
    _, reference = weights(runs["uninterrupted"]["dir"])
    assert step == STEPS
    worst = max((resumed[k] - reference[k]).abs().max().item() for k in reference)
    assert worst <= 1e-6, f"stopped at step {STEP}: resumed weights differ by up to {worst:g}"


def test_once_the_stop_is_reported_the_process_exits_within_seconds(tiny_data: Path, tmp_path: Path):
    """After last.ckpt and the resume line, the interpreter's shutdown (its garbage collection) kept a full-size
    run alive for minutes, past the ~30 s a scheduler waits before SIGKILL; here an object that takes 10 minutes
    to collect stands in for it."""
    marker = tmp_path / "signalled"
    proc = start(command(tiny_data, tmp_path / "run", 0, f"+callbacks.stop._target_={FAULTS}.SignalAtStepSlowToExit",
                         "+callbacks.stop.step=3", f"+callbacks.stop.marker={marker}"), new_session=True)
    try:
        _, err = proc.communicate(timeout=400)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    waited = time.time() - float(marker.read_text())
    assert proc.returncode == 143, err[-3000:]
    assert err.strip().splitlines()[-1].startswith("stopped by SIGTERM at step 4; the training state is in ")
    assert waited < 60, f"exited {waited:.0f} s after SIGTERM"
