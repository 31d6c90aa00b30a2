"""scripts/compare_sentence_transformers.py runs end to end on a tiny sentence-transformers folder: it trains with
sentence-transformers' own losses and prints the time and one STS-B test score per size, or (``--loss mnrl``) mines
a small BEIR folder with ``mine_hard_negatives``, trains with MultipleNegativesRankingLoss and prints the SciFact dev
nDCG@10 scored by simcse-pl's retrieval task (a smoke test; the real numbers are the docs')."""

from __future__ import annotations

import json
import random
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


@pytest.fixture(scope="module")
def scifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root whose scifact/ is a small BEIR folder: 60 documents, 24 train queries, 6 dev queries."""
    rng = random.Random(0)
    words = "cell gene protein tumor dose risk virus drug brain heart blood mouse human".split()
    root = tmp_path_factory.mktemp("scifact_root")
    folder = root / "scifact"
    (folder / "qrels").mkdir(parents=True)
    docs = [" ".join(rng.choices(words, k=8)) for _ in range(60)]
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": f"d{i}", "title": "", "text": f"{t} {i}"}) + "\n"
                                                 for i, t in enumerate(docs)))
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": f"q{i}", "text": docs[i][:20] + f" q{i}"}) + "\n"
                                                  for i in range(30)))
    for split, queries in (("train", range(24)), ("dev", range(24, 30))):
        (folder / "qrels" / f"{split}.tsv").write_text(
            "query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\td{i}\t1\n" for i in queries))
    return root


def test_the_retrieval_recipe_mines_trains_and_scores_scifact_dev(scifact: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture):
    model = export_tiny(tmp_path / "model", pooler="avg")
    args = ["--loss", "mnrl", "--data-dir", str(scifact), "--model", str(model), "--batch-size", "8",
            "--range-min", "2", "--range-max", "20", "--epochs", "1", "--relative-margin", "0", "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "trained")]
    assert load_script("compare_sentence_transformers").main(args) == 0
    out = capsys.readouterr().out
    found = re.search(r"^sentence-transformers mnrl, batch 8, lr 0.0001, 1 epoch\(s\), 24 pairs, (\d+) mined rows: mined in \d+ s, "
                      r"trained in \d+ s$", out, re.M)
    assert found and 0 < int(found.group(1)) <= 24, out
    assert re.search(r"^SciFact dev nDCG@10 x100: \d+\.\d\d \(MRR@10 \d+\.\d\d, Recall@100 \d+\.\d\d\)$", out, re.M), out
    assert (tmp_path / "trained" / "modules.json").exists() and any((tmp_path / "cache").iterdir())


def test_the_retrieval_recipe_without_scifact_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture):
    assert load_script("compare_sentence_transformers").main(["--loss", "mnrl", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("compare_sentence_transformers: error:") and "corpus.jsonl" in err[0], err
