"""What a run prints when stdout is not a terminal (nohup, SLURM, CI): a config summary, one line per validation,
plain progress lines, the test table, where things went; none of the libraries' chatter."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from train_runs import run_train

NOISE = [
    "litlogger", "LeafSpec", "IterableDataset", "Loading weights", "Writing model shards", "GPU available",
    "TPU available", "Loading `train_dataloader`", "`Trainer.fit` stopped", "Saving model to", "\x1b[", "━",
]


@pytest.fixture(scope="module")
def console(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    run_dir = tmp_path_factory.mktemp("console")
    done = run_train(run_dir, "trainer.max_steps=6", "trainer.val_check_interval=3",
                     "callbacks.console_report.every_seconds=0", data_dir=tiny_data, full_error=False)
    return done.stdout + done.stderr


def test_one_line_per_validation_with_the_best_so_far(console: str):
    assert re.search(r"step 0 \(untrained\): STS-B dev Spearman -?\d+\.\d\d\n", console)
    for step in (3, 6):
        assert re.search(rf"step {step}: STS-B dev Spearman -?\d+\.\d\d \(best -?\d+\.\d\d at step [36]\)\n", console)


def test_plain_progress_lines_instead_of_a_bar(console: str):
    assert re.search(r"step 6/6 \(100%\), \d+ sentences/s, loss \d+\.\d+, ETA 0m00s", console)


def test_summary_at_the_start_and_where_things_were_written_at_the_end(console: str):
    assert "model: random bert {'hidden_size': 32" in console and "objective: InfoNCE(tau=0.05" in console
    assert re.search(r"written to .*: results.json, model/", console)
    assert "| stsb |" in console  # the test table


def test_no_library_noise_and_few_warnings(console: str):
    found = [noise for noise in NOISE if noise in console]
    assert not found, found
    warnings = [line for line in console.splitlines() if "WARNING" in line or "Warning:" in line]
    assert len(warnings) <= 3, warnings


def test_each_wait_of_the_start_is_announced_before_it(console: str):
    """A first start spent minutes with nothing on the console (imports, the data, the model, wandb, the untrained
    validation): each wait now has its line, in order, before its result."""
    lines = ["loading torch, Lightning and the training code", "reading the training data: ", "loading the model: random bert",
             "step 0 (untrained): validating on stsb", "step 0 (untrained): STS-B dev Spearman"]
    positions = [console.find(line) for line in lines]
    assert -1 not in positions and positions == sorted(positions), dict(zip(lines, positions))
