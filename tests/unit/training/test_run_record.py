"""Run record and logger helpers: secrets redacted by key name and by value, git commit, the test table, and the
best-metric callback."""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

import torch

from simcse_pl.training.callbacks import BestMetric
from simcse_pl.training.loggers import log_test_table, tabulate_test_metrics
from simcse_pl.training.tracking import REDACTED, git_info, redact, secret_values


def test_secret_values_come_from_secret_looking_env_names_only():
    env = {"WANDB_API_KEY": "k" * 40, "HF_TOKEN": "hf_" + "x" * 30, "TOKENIZERS_PARALLELISM": "falsefalse",
           "HOME": "/home/someone", "GITHUB_TOKEN": "short"}
    assert set(secret_values(env)) == {"k" * 40, "hf_" + "x" * 30}


def test_redact_keys_values_and_assignments_but_not_lookalikes():
    secret = "s3cr3t-value-0123456789"
    obj = {
        "logger": {"wandb": {"api_key": "anything", "project": "p"}},
        "hf_token": "x",
        "note": f"key is {secret}",
        "model": {"tokenizer_name": "bert", "max_tokens": 32},
        "argv": ["train.py", "+logger.wandb.api_key=abc", "loss.tau=0.05"],
    }
    assert redact(obj, [secret]) == {
        "logger": {"wandb": {"api_key": REDACTED, "project": "p"}},
        "hf_token": REDACTED,
        "note": f"key is {REDACTED}",
        "model": {"tokenizer_name": "bert", "max_tokens": 32},
        "argv": ["train.py", f"+logger.wandb.api_key={REDACTED}", "loss.tau=0.05"],
    }


def test_git_info_outside_a_checkout_is_null(tmp_path):
    assert git_info(tmp_path) == {"commit": None, "dirty": None}


def test_git_info_of_an_installed_package_inside_another_git_tree_is_null(tmp_path):
    """A wheel in a project's .venv: the project's commit is not the code's."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q",
                    "--allow-empty", "-m", "x"], check=True)
    site_packages = tmp_path / ".venv" / "lib" / "site-packages"
    site_packages.mkdir(parents=True)
    assert git_info(site_packages) == {"commit": None, "dirty": None}
    (tmp_path / "pyproject.toml").touch()
    assert git_info(tmp_path)["commit"] is not None


def test_test_table_has_one_row_per_task():
    columns, rows = tabulate_test_metrics(
        {"test/stsb_spearman": 80.0, "test/stsb_pearson": 79.0, "test/sickr_spearman": 70.0}
    )
    assert columns == ["task", "pearson", "spearman"]
    assert rows == [["sickr", None, 70.0], ["stsb", 79.0, 80.0]]


def test_test_table_logs_a_task_missing_a_metric(caplog):
    caplog.set_level("INFO")
    log_test_table([], {"test/stsb_spearman": 80.0, "test/stsb_pearson": 79.0, "test/sickr_spearman": 70.0})
    assert "| sickr |  | 70.00 |" in caplog.text


def test_best_metric_keeps_the_running_max_of_trained_weights():
    logged: list[tuple[dict, int]] = []
    logger = SimpleNamespace(log_metrics=lambda metrics, step: logged.append((metrics, step)))
    trainer = SimpleNamespace(
        callback_metrics={}, loggers=[logger], sanity_checking=False, global_step=0,
        fit_loop=SimpleNamespace(epoch_loop=SimpleNamespace(_batches_that_stepped=0)),
    )
    callback = BestMetric("val/m")
    # step 0 is the untrained model, a NaN is no score: both ignored
    for step, value in [(0, 90.0), (2, 50.0), (4, 70.0), (6, 60.0), (8, float("nan"))]:
        trainer.global_step = trainer.fit_loop.epoch_loop._batches_that_stepped = step
        trainer.callback_metrics["val/m"] = torch.tensor(value)
        callback.on_validation_end(trainer, None)
    assert [m["val/m_best"] for m, _ in logged] == [50.0, 70.0, 70.0]
    assert float(trainer.callback_metrics["val/m_best"]) == 70.0
