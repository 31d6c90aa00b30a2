"""train.py through Hydra on a tiny random BERT: the whole job, exports that reload, sweeps."""

from __future__ import annotations

import csv
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from train_runs import run_train

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trained(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("run")
    run_train(run_dir, "trainer.max_steps=6", "trainer.val_check_interval=3", data_dir=tiny_data)
    return run_dir


def test_run_writes_results_checkpoints_and_export(trained: Path):
    results = json.loads((trained / "results.json").read_text())
    assert set(results) >= {"before", "final", "best", "export_dir", "test"}
    assert results["final"]["step"] == 6
    assert results["best"]["val/stsb_spearman"] >= results["final"]["val/stsb_spearman"]
    assert results["best"]["val/stsb_spearman"] >= max(
        results["before"]["val/stsb_spearman"], float("-inf")
    ) or results["best"]["step"] > 0
    assert -100 <= results["test"]["test/stsb_spearman"] <= 100
    assert (trained / "checkpoints" / "last.ckpt").exists()
    assert results["export_dir"] == str(trained / "model")
    assert (trained / ".hydra" / "config.yaml").exists()


def test_export_reloads_in_hf_and_sentence_transformers_format(trained: Path):
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel, AutoTokenizer

    model_dir = trained / "model"
    sentences = ["the man plays guitar", "a dog runs in the park"]
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    encoder = AutoModel.from_pretrained(model_dir).eval()
    with torch.no_grad():
        cls = encoder(**tokenizer(sentences, padding=True, return_tensors="pt")).last_hidden_state[:, 0]
    st = SentenceTransformer(str(model_dir), device="cpu")
    assert torch.allclose(st.encode(sentences, convert_to_tensor=True), cls, atol=1e-5)
    # the pooler as inference runs it ([CLS] alone), the name simcse-eval's JSON and the card use (issue 24.9)
    assert json.loads((model_dir / "simcse_pl.json").read_text()) == {"pooler": "cls_before_pooler", "mlp": False}


@pytest.mark.slow  # a train.py run (~12 s)
def test_kept_mlp_head_exports_as_dense_layer(tiny_data: Path, tmp_path: Path):
    from sentence_transformers import SentenceTransformer

    run_train(tmp_path, "trainer.max_steps=2", "model.mlp_only_train=false", "validate_before=false", "test=false",
              data_dir=tiny_data)
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["state_dict"]
    st = SentenceTransformer(str(tmp_path / "model"), device="cpu")
    cls = st[0].auto_model.eval()(**st.tokenize(["a cat sleeps"])).last_hidden_state[:, 0]
    expected = torch.tanh(cls @ ckpt["pooler.mlp.dense.weight"].T + ckpt["pooler.mlp.dense.bias"])
    assert torch.allclose(st.encode(["a cat sleeps"], convert_to_tensor=True), expected[0].detach(), atol=1e-5)


@pytest.mark.slow  # a 2-job multirun (~12 s); the quick tour and test_sweeps sweep too
def test_multirun_sweeps_tau(tiny_data: Path, tmp_path: Path):
    run_train(tmp_path, "loss.tau=0.03,0.05", "trainer.max_steps=2", "test=false", "export=false", data_dir=tiny_data,
              multirun=True)
    taus = sorted(
        float(line.split("=")[1])
        for job in ("0", "1")
        for line in (tmp_path / job / ".hydra" / "overrides.yaml").read_text().split("\n")
        if "loss.tau" in line
    )
    assert taus == [0.03, 0.05]
    assert all((tmp_path / job / "results.json").exists() for job in ("0", "1"))


def test_cfg_job_prints_composed_config():
    done = subprocess.run(
        [sys.executable, "train.py", "model=bert-base", "loss.tau=0.05", "--cfg", "job"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "name_or_path: bert-base-uncased" in done.stdout and "tau: 0.05" in done.stdout


def test_a_nan_validation_metric_never_selects_a_checkpoint(tiny_data: Path, tmp_path: Path):
    """Constant gold scores give a NaN Spearman (a correlation with a constant is undefined): no validation may
    then make its checkpoint "best" and have it exported."""
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    dev = data / "stsb" / "sts-dev.csv"
    dev.write_text("".join(
        "\t".join(cols[:4] + ["2.500"] + cols[5:]) + "\n" for cols in (l.split("\t") for l in dev.read_text().splitlines())
    ))
    run_dir = tmp_path / "run"
    done = run_train(run_dir, "trainer.max_steps=4", "trainer.val_check_interval=2", f"paths.data_dir={data}",
                     "test=false", data_dir=tiny_data)
    results = json.loads((run_dir / "results.json").read_text())
    assert math.isnan(results["final"]["val/stsb_spearman"])
    # no best-*.ckpt: the selected (final) weights are last.ckpt's, and results.json names it (issue 24 item 11)
    assert results["best"]["checkpoint"] == str(run_dir / "checkpoints" / "last.ckpt")
    assert not list((run_dir / "checkpoints").glob("best-*.ckpt"))
    assert "val/stsb_spearman is nan at step 2: this validation cannot select a checkpoint" in done.stdout + done.stderr


def test_the_run_says_what_its_checkpoints_hold_and_best_can_be_weights_only(tiny_data: Path, tmp_path: Path):
    """Issue 24 item 11: a checkpoint three times the model's size is the optimizer's state; the end of the run
    says so, and ``save_weights_only`` keeps it out of best-*.ckpt while last.ckpt keeps it for an exact resume."""
    done = run_train(tmp_path, "trainer.max_steps=4", "trainer.val_check_interval=2", "test=false", "export=false",
                     "callbacks.model_checkpoint.save_weights_only=true", data_dir=tiny_data)
    [best] = (tmp_path / "checkpoints").glob("best-*.ckpt")
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert "optimizer_states" not in torch.load(best, weights_only=True)
    assert "optimizer_states" in torch.load(last, weights_only=True)
    assert json.loads((tmp_path / "results.json").read_text())["best"]["checkpoint"] == str(best)
    [line] = [l for l in (done.stdout + done.stderr).splitlines() if "checkpoints/: last.ckpt " in l]
    assert f", {best.name} " in line and "the rest is the optimizer's state, which last.ckpt keeps" in line
    assert best.stat().st_size < last.stat().st_size / 2


@pytest.mark.slow  # a train.py run (~12 s); test_guide_extending trains the same objective
def test_the_readme_objective_example_trains_as_written(tiny_data: Path, tmp_path: Path):
    run_train(tmp_path, "loss=align_uniform", "trainer.max_steps=2", "validate_before=false", "test=false",
              "export=false", data_dir=tiny_data)
    assert json.loads((tmp_path / "results.json").read_text())["final"]["step"] == 2


def validation_steps(run_dir: Path) -> list[int]:
    with open(run_dir / "csv" / "metrics.csv", newline="") as f:
        return [int(row["step"]) for row in csv.DictReader(f) if row.get("val/stsb_spearman")]


def test_a_resumed_run_reads_its_untrained_validation_instead_of_redoing_it(tiny_data: Path, tmp_path: Path):
    """The first segment records the step-0 validation in the run folder; the resumed one reads it (no second
    step-0 row in the history, which would go back in time after the checkpoint's step)."""
    run_dir = tmp_path / "run"
    common = ("trainer.max_steps=4", "trainer.val_check_interval=2", "export=false", "test=false")
    run_train(run_dir, *common, data_dir=tiny_data)
    record = json.loads((run_dir / "untrained_validation.json").read_text())
    first = validation_steps(run_dir)
    assert "val/stsb_spearman" in record and first[0] == 0
    done = run_train(run_dir, *common, "ckpt_path=last", data_dir=tiny_data)
    assert f"(recorded before the interruption: {run_dir / 'untrained_validation.json'})" in done.stdout
    assert json.loads((run_dir / "results.json").read_text())["before"] == record
    steps = validation_steps(run_dir)
    assert steps[:len(first)] == first and steps.count(0) == 1, steps
