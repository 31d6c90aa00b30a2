"""A run folder as ``train.py`` leaves it, in miniature, for the ``simcse-serve`` tests: the tiny export under
``model/``, ``run_info.json`` naming the tiny random BERT and a seed (what ``--compare untrained`` rebuilds) and a
``results.json`` with before / best / test scores (the page's card)."""

from __future__ import annotations

import json
from pathlib import Path

from onnx_fixtures import export_tiny
from simcse_pl.serving.limits import Limits
from tiny_model import WIDE_INIT_BERT

RESULTS = {"metric": "val/stsb_spearman", "before": {"val/stsb_spearman": 31.5},
           "best": {"step": 40, "val/stsb_spearman": 58.25}, "test": {"test/stsb_spearman": 55.12}}
LIMITS = Limits(max_texts=8, max_chars=200, max_corpus=20, max_top_k=10)  # tight, so the tests can reach them
CORPUS = ["a man plays the guitar", "a dog runs in the park", "the woman eats fish", "a cat sleeps on the house",
          "the big red ball", "a small blue fish", "the man runs", "a woman plays with the dog"]


def tiny_run(root: Path) -> Path:
    """``root`` filled as a finished run folder (export, config, scores)."""
    export_tiny(root / "model")
    model = {"name_or_path": None, "random_init": WIDE_INIT_BERT, "pooler": "cls", "mlp_only_train": True}
    (root / "run_info.json").write_text(json.dumps({"config": {"seed": 1, "model": model}}), encoding="utf-8")
    (root / "results.json").write_text(json.dumps(RESULTS), encoding="utf-8")
    return root
