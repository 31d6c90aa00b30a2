"""scripts/compare_sentence_transformers.py runs end to end on a tiny sentence-transformers folder: it trains with
sentence-transformers' own losses and prints the time and one STS-B test score per size (a smoke test; the real
numbers are the README's)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from onnx_fixtures import export_tiny
from scripts_module import load_script
from conftest import write_stsb

pytest.importorskip("sentence_transformers")


@pytest.fixture(scope="module")
def data(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("compare_data")
    shutil.copytree(tiny_data / "stsb", root / "stsb")
    write_stsb(root / "stsb" / "sts-train.csv", 48, seed=3)
    return root


@pytest.mark.parametrize("loss", ["angle", "matryoshka"])  # matryoshka wraps cosent
def test_each_loss_trains_and_scores_every_size(loss: str, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    model = export_tiny(tmp_path / "model", pooler="avg")
    args = ["--loss", loss, "--data-dir", str(data), "--model", str(model), "--max-steps", "2", "--batch-size", "8",
            "--dims", "32", "16", "--out", str(tmp_path / "trained")]
    assert load_script("compare_sentence_transformers").main(args) == 0
    out = capsys.readouterr().out
    assert re.search(rf"^sentence-transformers {loss}, batch 8, 1 epoch\(s\), 48 pairs: trained in \d+ s$", out, re.M)
    scores = re.findall(r"^STS-B test Spearman x100 at (\d+) dims: (-?\d+\.\d\d)$", out, re.M)
    assert [d for d, _ in scores] == ["32", "16"], out
    assert (tmp_path / "trained" / "modules.json").exists()


def test_bad_dims_and_missing_data_are_one_line(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    model = export_tiny(tmp_path / "model", pooler="avg")
    capsys.readouterr()
    assert load_script("compare_sentence_transformers").main(["--data-dir", str(data), "--model", str(model), "--dims", "16", "32"]) == 2
    assert capsys.readouterr().err.strip() == (
        "compare_sentence_transformers: error: --dims 16 32: give strictly descending sizes starting at the model's 32"
    )
    assert load_script("compare_sentence_transformers").main(["--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "stsb/sts-train.csv: no such file (--data-dir)" in err[0], err
