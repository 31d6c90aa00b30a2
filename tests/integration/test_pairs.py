"""Scored pairs through train.py + Hydra on a tiny random BERT: data=pairs with loss=cosent / loss=angle, chosen by
config alone; the scores reach the objective as labels; a bad row stops the run naming its line; an objective
that needs labels says so on unlabelled data."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from simcse_pl.training.run import run
from simcse_pl.errors import DataError
from simcse_pl.config import compose_config

REPO = Path(__file__).resolve().parents[2]
WORDS = "a the man woman dog cat plays runs eats guitar ball in on park red big".split()
COMMON = [
    "model=tiny", "data=pairs", "trainer=cpu", "trainer.max_steps=4", "trainer.val_check_interval=2",
    "data.num_workers=0", "data.batch_size=8",
]


def write_pairs(path: Path, n: int, layout: str = "csv", bad_line: int | None = None) -> Path:
    """``n`` scored pairs as csv with a header (scores 0-5) or jsonl; the row on file line ``bad_line`` gets a
    score that is not a number."""
    rng = random.Random(0)
    rows = []
    for _ in range(n):
        s1, s2 = (" ".join(rng.choices(WORDS, k=rng.randint(3, 8))) for _ in range(2))
        rows.append((s1, s2, f"{rng.uniform(0, 5):.2f}"))
    first_data_line = 2 if layout == "csv" else 1
    if bad_line is not None:
        s1, s2, _ = rows[bad_line - first_data_line]
        rows[bad_line - first_data_line] = (s1, s2, "n/a")
    if layout == "csv":
        text = "sentence1,sentence2,score\n" + "".join(f"{a},{b},{s}\n" for a, b, s in rows)
    else:
        text = "".join(json.dumps({"sentence1": a, "sentence2": b, "label": s}) + "\n" for a, b, s in rows)
    path.write_text(text, encoding="utf-8")
    return path


def test_cosent_trains_on_a_pairs_file_through_train_py(tiny_data: Path, tmp_path: Path):
    pairs = write_pairs(tmp_path / "pairs.csv", 40)
    run_dir = tmp_path / "run"
    args = [
        sys.executable, str(REPO / "train.py"), *COMMON, "loss=cosent", "logger=csv", f"paths.data_dir={tiny_data}",
        f"data.source.path={pairs}", "data.source.normalize=minmax", "data.source.score_range=[0,5]",
        "trainer.log_every_n_steps=1", f"hydra.run.dir={run_dir}",
    ]
    env = {**os.environ, "HYDRA_FULL_ERROR": "1"}
    done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((run_dir / "results.json").read_text())
    assert results["final"]["step"] == 4
    assert -100 <= results["test"]["test/stsb_spearman"] <= 100
    # CoSENT of a random batch of 8 scored pairs at λ = 20: far from 0 (no labels would have raised)
    assert math.isfinite(results["train"]["train/loss"]) and results["train"]["train/loss"] > 1.0
    composed = (run_dir / ".hydra" / "config.yaml").read_text()
    assert "_target_: simcse_pl.data.sources.scored_pairs.ScoredPairs" in composed and "_target_: simcse_pl.losses.cosent.CoSENT" in composed
    assert "pairs.csv: 40 pairs (header layout), scores 0" in done.stdout + done.stderr


def composed(tmp_path: Path, tiny_data: Path, *overrides: str):
    return compose_config(*COMMON, "logger=none", "validate_before=false", f"paths.data_dir={tiny_data}",
                          f"paths.output_dir={tmp_path / 'run'}", *overrides)


def test_angle_trains_on_jsonl_with_gradcache_in_process(tiny_data: Path, tmp_path: Path):
    """In process (composed like train.py does) to save a second interpreter start in the default suite."""
    pairs = write_pairs(tmp_path / "pairs.jsonl", 40, layout="jsonl")
    cfg = composed(tmp_path, tiny_data, "loss=angle", f"data.source.path={pairs}", "step.mini_batch_size=4",
                   "test=false", "export=false")
    run(cfg)
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["final"]["step"] == 4


def test_bad_row_stops_the_run_naming_file_and_line(tiny_data: Path, tmp_path: Path):
    pairs = write_pairs(tmp_path / "pairs.csv", 40, bad_line=9)
    cfg = composed(tmp_path, tiny_data, "loss=cosent", f"data.source.path={pairs}")
    with pytest.raises(DataError, match=rf"^{pairs}:9: score 'n/a' is not a number$"):
        run(cfg)


def test_cosent_on_unlabelled_text_asks_for_pairs_before_loading_anything(tiny_data: Path, tmp_path: Path, monkeypatch):
    from simcse_pl.training import run as run_module

    monkeypatch.setattr(run_module, "load_tokenizer", lambda **_: pytest.fail("loaded a tokenizer before the check"))
    cfg = composed(tmp_path, tiny_data, "data=wiki", "loss=cosent", f"data.source.path={tiny_data}/wiki/wiki.txt")
    with pytest.raises(ValueError) as exc:
        run(cfg)
    assert str(exc.value) == (
        "loss=CoSENT needs a score or label per example, which TextLines (data.source) does not give: train it on "
        "labelled pairs (data=pairs)"
    )


@pytest.mark.parametrize(
    ("preset", "loss", "batch_size", "epochs"),
    [("quickstart_cosent", "CoSENT", 32, 1), ("quickstart_angle", "AnglE", 32, 1), ("quickstart_cosent_16x4", "CoSENT", 16, 4),
     ("quickstart_cosent_matryoshka", "Matryoshka", 32, 1), ("quickstart_cosent_matryoshka_16x4", "Matryoshka", 16, 4)],
)
def test_quickstart_presets_are_the_compared_recipe(preset, loss, batch_size, epochs):
    """all-MiniLM-L6-v2 with mean pooling, all 5,749 STS-B train pairs, lr 2e-5, 10% warmup, max_len 64, seed 42."""
    from simcse_pl.config import check_config, compose_config

    cfg = compose_config(f"experiment={preset}")
    check_config(cfg)
    assert cfg.model.name_or_path == "sentence-transformers/all-MiniLM-L6-v2" and cfg.model.pooler == "avg"
    assert cfg.data.source._target_ == "simcse_pl.data.sources.scored_pairs.ScoredPairs"
    assert cfg.data.source.path.endswith("stsb/sts-train.csv") and cfg.data.source.normalize is None
    assert (cfg.data.batch_size, cfg.trainer.max_epochs, cfg.data.max_len, cfg.data.drop_last) == (batch_size, epochs, 64, False)
    assert (cfg.optim.lr, cfg.optim.warmup_ratio, cfg.optim.weight_decay, cfg.seed) == (2e-5, 0.1, 0.0, 42)
    assert cfg.loss._target_.endswith(loss) and cfg.trainer.accelerator == "cpu"
    assert (list(cfg.data.val_tasks), list(cfg.data.test_tasks)) == (["stsb"], ["stsb"])
    if loss == "AnglE":
        assert (cfg.loss.cosine_weight, cfg.loss.ibn_weight, cfg.loss.angle_weight) == (1.0, 1.0, 1.0)
        assert (cfg.loss.cosine_scale, cfg.loss.ibn_scale, cfg.loss.angle_scale) == (20.0, 20.0, 1.0)
    if loss == "Matryoshka":
        assert cfg.loss.inner._target_.endswith("CoSENT") and cfg.loss.inner.scale == 20.0
        assert (list(cfg.loss.dims), cfg.loss.weights) == ([384, 256, 128, 64], None)
