"""Supervised SimCSE through train.py + Hydra on a tiny random BERT: NLI triplets with hard negatives, chosen
by config alone (data=nli loss=infonce_hard_negatives); a bad row stops the run naming its line."""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from simcse_pl.training.run import run
from simcse_pl.errors import DataError

REPO = Path(__file__).resolve().parents[2]
WORDS = "a the man woman dog cat plays runs eats guitar ball in on park red big".split()
COMMON = [
    "model=tiny", "data=nli", "loss=infonce_hard_negatives", "trainer=cpu", "trainer.max_steps=2",
    "trainer.val_check_interval=2", "data.num_workers=0", "data.batch_size=8",
]


def write_nli(path: Path, n: int, bad_line: int | None = None) -> Path:
    """``n`` triplets (CRLF, quoted fields with commas); row at file line ``bad_line`` gets an empty sent1."""
    rng = random.Random(0)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow(["sent0", "sent1", "hard_neg"])
        for line in range(2, n + 2):
            row = [", ".join(rng.choices(WORDS, k=rng.randint(3, 8))) for _ in range(3)]
            if line == bad_line:
                row[1] = ""
            writer.writerow(row)
    return path


def train(data_dir: Path, nli: Path, run_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    args = [
        sys.executable, str(REPO / "train.py"), *COMMON, "logger=csv", f"paths.data_dir={data_dir}",
        f"data.source.path={nli}", f"hydra.run.dir={run_dir}", *overrides,
    ]
    env = {**os.environ, "HYDRA_FULL_ERROR": "1"}
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_supervised_run_trains_on_triplets_and_exports(tiny_data: Path, tmp_path: Path):
    nli = write_nli(tmp_path / "nli.csv", 40)
    done = train(tiny_data, nli, tmp_path / "run", "model.mlp_only_train=false")
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["final"]["step"] == 2
    assert -100 <= results["test"]["test/stsb_spearman"] <= 100
    config = json.loads((tmp_path / "run" / "model" / "simcse_pl.json").read_text())
    assert config == {"pooler": "cls", "mlp": True}  # the supervised recipe keeps the MLP at inference
    modules = json.loads((tmp_path / "run" / "model" / "modules.json").read_text())
    assert [m["type"].rsplit(".", 1)[-1] for m in modules] == ["Transformer", "Pooling", "Dense"]


def test_bad_row_stops_the_run_naming_file_and_line(tiny_data: Path, tmp_path: Path):
    """In process (composed like train.py does) to save a second interpreter start in the default suite."""
    nli = write_nli(tmp_path / "nli.csv", 40, bad_line=7)
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[
            *COMMON, "validate_before=false", "logger=none", f"paths.data_dir={tiny_data}",
            f"data.source.path={nli}", f"paths.output_dir={tmp_path / 'run'}",
        ])
    with pytest.raises(DataError, match=rf"{nli}:7: empty sent1"):
        run(cfg)
