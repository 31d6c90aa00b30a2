"""Experiment tracking and sweeps end to end on a tiny random BERT: one offline wandb run per multirun job with
its own config, no secret in any output, an Optuna search, and simcse-report's table of the sweep."""

from __future__ import annotations

import csv
import json
import os
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from simcse_pl.cli.report import main as report_main

# slow: wandb and Optuna multiruns (~17 s)
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
FAKE_KEY = "fake0wandb0key0" + "7f3a9c1e5b" * 3  # 45 chars, like a real key; must never reach any output


def start(tiny_data: Path, sweep_dir: Path, *overrides: str, env: dict[str, str]) -> subprocess.Popen:
    args = [
        sys.executable, str(REPO / "train.py"), "-m",
        "model=tiny", "trainer=cpu", "data.num_workers=0", "data.batch_size=8", "trainer.max_steps=3",
        f"paths.data_dir={tiny_data}", f"data.source.path={tiny_data}/wiki/wiki.txt",
        f"hydra.sweep.dir={sweep_dir}", *overrides,
    ]
    return subprocess.Popen(
        args, cwd=REPO, env={**os.environ, "HYDRA_FULL_ERROR": "1", **env},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def wandb_records(path: Path) -> Iterator[Any]:
    """Records of an offline run file (``run-<id>.wandb``): a LevelDB-style log of 32 KiB blocks holding
    protobuf ``Record``s, each chunk behind a 7-byte header (crc32, length, type FULL/FIRST/MIDDLE/LAST)."""
    from wandb.proto import wandb_internal_pb2

    data, block, pos, pending = path.read_bytes(), 32768, 7, b""
    assert data[:4] == b":W&B", "not a wandb run file"
    while pos + 7 <= len(data):
        left = block - pos % block
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if left < 7 or (length == 0 and kind == 0):  # block trailer / padding
            pos += left
            continue
        pending += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST: a whole record
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def wandb_run(run_file: Path) -> dict[str, Any]:
    """The run's id, config (as wandb holds it), the metric keys logged to its history and artifact types."""
    out: dict[str, Any] = {"config": {}, "history": set(), "artifacts": []}
    for record in wandb_records(run_file):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            out["id"] = record.run.run_id
            out["config"].update({i.key: json.loads(i.value_json) for i in record.run.config.update})
        elif kind == "config":
            out["config"].update({i.key: json.loads(i.value_json) for i in record.config.update})
        elif kind == "artifact":
            out["artifacts"].append(record.artifact.type)
        elif kind == "history":
            out["history"].update(i.key or i.nested_key[0] for i in record.history.item)  # media: nested
    return out


@pytest.fixture(scope="module")
def sweeps(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Both sweeps, run side by side (they are mostly process start-up):
    - acceptance 1 with every logger at once and a fake API key in the environment, which a config override
      also interpolates under an innocent name (``+note``);
    - acceptance 2, three Optuna trials."""
    tmp = tmp_path_factory.mktemp("sweeps")
    procs = {
        "wandb": start(
            tiny_data, tmp / "wandb_sweep",
            "logger=many", "loss.tau=0.03,0.05", "trainer.val_check_interval=2", "trainer.log_every_n_steps=1",
            "logger.wandb.log_export=true", "+note=${oc.env:WANDB_API_KEY}",
            env={"WANDB_MODE": "offline", "WANDB_DIR": str(tmp / "wandb_dir"), "WANDB_API_KEY": FAKE_KEY},
        ),
        "optuna": start(
            tiny_data, tmp / "optuna", "hparams_search=optuna_simcse", "hydra.sweeper.n_trials=3",
            "validate_before=false", "export=false", "test=false", "logger=none",
            env={},
        ),
    }
    outputs = {name: proc.communicate(timeout=300)[0] for name, proc in procs.items()}
    for name, proc in procs.items():
        assert proc.returncode == 0, f"{name} sweep failed:\n{outputs[name][-3000:]}"
    return {"tmp": tmp, "dir": tmp / "wandb_sweep", "output": outputs["wandb"], "optuna": tmp / "optuna"}


def test_each_multirun_job_is_its_own_wandb_run_with_its_config(sweeps: dict[str, Any]):
    runs = {}
    for job in ("0", "1"):
        run_files = list((sweeps["dir"] / job / "wandb").glob("offline-run-*/run-*.wandb"))
        assert len(run_files) == 1, f"job {job}: {run_files}"
        runs[job] = wandb_run(run_files[0])
    assert runs["0"]["id"] != runs["1"]["id"]
    assert runs["0"]["config"]["loss"]["tau"] == 0.03
    assert runs["1"]["config"]["loss"]["tau"] == 0.05
    assert "loss.tau=0.03" in runs["0"]["config"]["overrides"]
    for run in runs.values():
        assert len(run["config"]["git"]["commit"]) == 40
        assert run["config"]["note"] == "<redacted>"
        assert {"train/loss", "lr-AdamW/pg1", "train/sentences_per_sec", "val/stsb_spearman",
                "val/stsb_spearman_best", "test/stsb_spearman", "test/table"} <= run["history"]
        assert "model" in run["artifacts"]  # logger.wandb.log_export=true: the exported model folder


def test_every_job_dir_records_config_overrides_and_commit(sweeps: dict[str, Any]):
    for job in ("0", "1"):
        job_dir = sweeps["dir"] / job
        assert {"config.yaml", "overrides.yaml", "hydra.yaml"} <= {p.name for p in (job_dir / ".hydra").iterdir()}
        info = json.loads((job_dir / "run_info.json").read_text())
        assert len(info["git"]["commit"]) == 40 and info["seed"] == 42
        assert f"loss.tau={('0.03', '0.05')[int(job)]}" in info["overrides"]
        results = json.loads((job_dir / "results.json").read_text())
        assert results["train"]["train/sentences_per_sec"] > 0
        assert results["final"]["val/stsb_spearman_best"] >= results["final"]["val/stsb_spearman"]
        assert (job_dir / "tensorboard").is_dir() and (job_dir / "csv" / "metrics.csv").exists()


def test_no_secret_in_any_output(sweeps: dict[str, Any]):
    assert FAKE_KEY not in sweeps["output"]
    leaks = [p for p in sweeps["tmp"].rglob("*") if p.is_file() and FAKE_KEY.encode() in p.read_bytes()]
    assert not leaks


def test_the_report_writes_a_sorted_table_and_plot_of_the_sweep(sweeps: dict[str, Any], tmp_path: Path):
    assert report_main([str(sweeps["dir"]), "--out", str(tmp_path)]) == 0
    with (tmp_path / "runs.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert sorted(float(r["loss.tau"]) for r in rows) == [0.03, 0.05]
    objectives = [float(r["objective"]) for r in rows]
    assert objectives == sorted(objectives, reverse=True)
    assert all(len(r["git_commit"]) == 10 for r in rows)
    assert "| run | loss.tau | untrained |" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_optuna_search_runs_trials_and_writes_best_value(sweeps: dict[str, Any]):
    sweep_dir = sweeps["optuna"]
    best = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    objectives = [
        json.loads((sweep_dir / str(i) / "results.json").read_text())["best"]["val/stsb_spearman"] for i in range(3)
    ]
    assert best["best_value"] == pytest.approx(max(objectives))
    # data.batch_size is fixed by the command line here: an override beats the search space
    assert set(best["best_params"]) == {"loss.tau", "optim.lr"}
