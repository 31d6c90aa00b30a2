"""Sweeps that do not repeat work and report failures: the untrained model is validated once per sweep, and a job
that fails on bad input keeps its error in its train.log, the sweep goes on, ends with one `error:` line per
failed job and status 2, and the summary shows the error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sweep(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    """Three jobs: two that train (τ 0.03 and 0.05), one whose data file is missing."""
    sweep_dir = tmp_path_factory.mktemp("sweep")
    corpus = f"{tiny_data}/wiki/wiki.txt"
    done = subprocess.run(
        [sys.executable, str(REPO / "train.py"), "-m", "model=tiny", "trainer=cpu", "data.num_workers=0",
         "data.batch_size=16", f"paths.data_dir={tiny_data}", f"data.source.path={corpus},{sweep_dir}/missing.txt",
         "loss.tau=0.03,0.05", "trainer.max_steps=2", "export=false", "test=false", f"hydra.sweep.dir={sweep_dir}",
         "+callbacks.count._target_=tests.integration.faults.CountValidations",
         f"+callbacks.count.path={sweep_dir}/validations.txt"],
        cwd=REPO, env={k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}, capture_output=True,
        text=True, timeout=600,
    )
    return sweep_dir, done


def test_the_untrained_model_is_validated_once_per_sweep(sweep):
    sweep_dir, done = sweep
    steps = (sweep_dir / "validations.txt").read_text().split()
    assert steps.count("0") == 1, steps  # 2 training jobs, one pre-training validation
    assert steps.count("2") == 2  # each job's own validation after training
    assert "computed once for this sweep" in done.stdout + done.stderr


def test_failed_jobs_are_reported_and_the_sweep_exits_2(sweep):
    sweep_dir, done = sweep
    missing = f"{sweep_dir}/missing.txt: no such file (data.source.path)."
    assert done.returncode == 2, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: job ")]
    assert len(errors) == 2 and all(missing in line for line in errors), errors
    assert sum((sweep_dir / job / "results.json").exists() for job in "0123") == 2


def test_the_summary_shows_each_failed_jobs_error(sweep):
    sweep_dir, _ = sweep
    subprocess.run([sys.executable, str(REPO / "scripts" / "summarize_runs.py"), str(sweep_dir)], check=True, timeout=120)
    summary = (sweep_dir / "summary.md").read_text()
    assert summary.count(f"failed: {sweep_dir}/missing.txt: no such file (data.source.path).") == 2
