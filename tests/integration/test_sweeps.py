"""Sweeps that do not repeat work and report failures: the untrained model is validated once per sweep, and a job
that fails on bad input keeps its error in its train.log, the sweep goes on, ends with one `error:` line per
failed job and status 2, after one line naming the best job; and simcse-report shows each failed job's error."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from train_runs import run_train

from simcse_pl.cli.report import main


@pytest.fixture(scope="module")
def sweep(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    """Three jobs: two that train (τ 0.03 and 0.05), one whose data file is missing."""
    sweep_dir = tmp_path_factory.mktemp("sweep")
    done = run_train(
        sweep_dir, "loss.tau=0.03,0.05", "trainer.max_steps=2", "export=false", "test=false",
        "+callbacks.count._target_=tests.integration.faults.CountValidations",
        f"+callbacks.count.path={sweep_dir}/validations.txt",
        data_dir=tiny_data, source=f"{tiny_data}/wiki/wiki.txt,{sweep_dir}/missing.txt", multirun=True, check=False,
        full_error=False, timeout=600,
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


def test_the_sweep_ends_with_its_best_job(sweep):
    """Issue 24 item 4: ``best: job N (<swept overrides>) <metric> <value> (<job folder>)``, the job whose
    results.json has the highest objective."""
    sweep_dir, done = sweep
    objectives = {job: json.loads((sweep_dir / job / "results.json").read_text())["best"]["val/stsb_spearman"]
                  for job in "0123" if (sweep_dir / job / "results.json").exists()}
    job = max(objectives, key=objectives.get)
    overrides = dict(o.partition("=")[::2] for o in yaml.safe_load((sweep_dir / job / ".hydra" / "overrides.yaml").read_text()))
    swept = ", ".join(f"{k}={overrides[k]}" for k in overrides if k in ("loss.tau", "data.source.path"))
    [line] = [line for line in done.stdout.splitlines() if line.startswith("best: ")]
    assert line == f"best: job {job} ({swept}) STS-B dev Spearman {objectives[job]:.2f} ({sweep_dir / job})"


def test_the_report_shows_each_failed_jobs_error(sweep):
    sweep_dir, _ = sweep
    assert main([str(sweep_dir)]) == 0
    report = (sweep_dir / "report.md").read_text()
    assert report.count(f"failed: {sweep_dir}/missing.txt: no such file (data.source.path).") == 2
