"""scripts/benchmark_mining.py runs end to end on a tiny model and a small BEIR folder: the speed table (ours beside
sentence-transformers') and the memory lines of a small synthetic corpus (a smoke test: no timing is asserted, only
the fields and what follows from the sizes)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from onnx_fixtures import export_tiny
from scripts_module import load_script

pytest.importorskip("sentence_transformers")
NUMBER = r"\d+\.\d"


def small_beir(root: Path) -> Path:
    root.mkdir()
    (root / "corpus.jsonl").write_text("".join(
        json.dumps({"_id": f"d{i}", "title": f"title {i}", "text": f"a short document number {i} about cells"}) + "\n"
        for i in range(40)))
    (root / "queries.jsonl").write_text("".join(json.dumps({"_id": f"q{i}", "text": f"cells {i}"}) + "\n"
                                                for i in range(12)))
    return root


@pytest.mark.slow  # two encoders, then a fresh process for the memory run
def test_benchmark_prints_speed_beside_sentence_transformers_and_the_memory_run(tmp_path: Path,
                                                                                capsys: pytest.CaptureFixture[str]):
    model = export_tiny(tmp_path / "model", pooler="avg")
    data = small_beir(tmp_path / "beir")
    args = ["--model", str(model), "--data", str(data), "--documents", "30", "--queries", "10", "--repeats", "1",
            "--top-k", "5", "--synthetic", "3000", "--synthetic-queries", "20", "--chunk-size", "512"]
    assert load_script("benchmark_mining").main(args) == 0
    out = capsys.readouterr().out
    assert re.search(r"^corpus: 30 documents, 10 queries \(.*beir\); model .*model, max_length \d+, batch 64, \d+ "
                     r"threads$", out, re.M), out
    assert re.search(rf"^encoding documents/s +{NUMBER} +{NUMBER}$", out, re.M), out
    assert re.search(rf"^search top-5 queries/s +{NUMBER} +{NUMBER} +\(simcse-pl: (faiss|chunked torch); "
                     r"sentence-transformers: util.semantic_search\)$", out, re.M), out
    assert re.search(r"^memory: 3000 synthetic documents, 20 queries, chunked torch search \(chunk 512\), mined in "
                     r"\d+ s \(20 rows\)$", out, re.M), out
    before = float(re.search(rf"before mining \(libraries \+ model\): ({NUMBER}) MB \(model parameters {NUMBER} MB\)$",
                             out, re.M).group(1))
    peak = float(re.search(rf"^  peak while mining: ({NUMBER}) MB \(\+-?{NUMBER} MB\)$", out, re.M).group(1))
    vectors, whole = re.search(rf"^  every vector in float32 at once: ({NUMBER}) MB \(3000 x 32 x 4 bytes\); with the "
                               rf"process above: ({NUMBER}) MB$", out, re.M).groups()
    assert peak >= before and float(vectors) == pytest.approx(3000 * 32 * 4 / 2**20, abs=0.05)
    assert float(whole) == pytest.approx(before + float(vectors), abs=0.15)
    assert re.search(r"^  peak / all-at-once: \d+\.\d\d$", out, re.M), out


def test_a_folder_without_a_corpus_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert load_script("benchmark_mining").main(["--data", str(tmp_path), "--synthetic", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("benchmark_mining: error:") and "corpus.jsonl" in err and "\n" not in err
