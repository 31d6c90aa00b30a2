"""A run folder made before the package was grouped into wings (tests/fixtures/run_before_wings/FIXTURE.md: the
flat layout, stopped by SIGTERM at step 6 of 16) still resumes, exports and evaluates with today's code. Its data
is the suite's ``tiny_data`` wiki file, the same bytes at another path: the resume guard compares the file's
content, not where it lies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from train_runs import run_train

from simcse_pl.cli.evaluate import eval_main
from simcse_pl.cli.export import main as export_main
from simcse_pl.export.checkpoint import read_checkpoint

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "run_before_wings"
# the fixture's command, less what run_train sets itself (tests/train_runs.py)
OVERRIDES = ("trainer.deterministic=true", "trainer.max_steps=16", "test=false", "export=false",
             "trainer.val_check_interval=8", "data.max_samples=null")


@pytest.fixture
def old_run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run)
    return run


def test_the_fixture_was_written_by_the_flat_layout():
    config = (FIXTURE / ".hydra" / "config.yaml").read_text()
    assert "simcse_pl.checkpointing.ResumeCheckpoint" in config and "simcse_pl.sources.TextLines" in config
    assert read_checkpoint(str(FIXTURE / "checkpoints" / "last.ckpt"))["global_step"] == 6


def test_an_old_run_resumes_from_its_last_checkpoint(old_run: Path, tiny_data: Path):
    done = run_train(old_run, *OVERRIDES, "ckpt_path=last", data_dir=tiny_data)
    assert "Restoring states from the checkpoint" in done.stderr or "resum" in done.stderr.lower()
    state = read_checkpoint(str(old_run / "checkpoints" / "last.ckpt"))
    assert state["global_step"] == 16
    results = json.loads((old_run / "results.json").read_text())
    assert results["final"]["step"] == 16 and torch.isfinite(torch.tensor(results["final"]["val/stsb_spearman"]))


def test_an_old_run_exports_and_its_export_evaluates(old_run: Path, tiny_data: Path,
                                                     capsys: pytest.CaptureFixture[str]):
    assert export_main([str(old_run)]) == 0
    model = old_run / "model"
    assert (model / "simcse_pl.json").is_file() and (model / "README.md").is_file()
    capsys.readouterr()
    out = old_run / "eval.json"
    assert eval_main([str(model), "--tasks", "stsb", "--data-dir", str(tiny_data), "--output", str(out)]) == 0
    scores = json.loads(out.read_text())
    assert "stsb" in json.dumps(scores)
