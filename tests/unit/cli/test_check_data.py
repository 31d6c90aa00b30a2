"""simcse-check-data: what a BEIR folder or a row file holds, or the first bad line in one line (exit status 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simcse_pl.cli.check_data import main


def beir(root: Path, qrels: str = "q1\td1\t1\nq2\td2\t1\nq2\td0\t1\n") -> Path:
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps({"_id": f"d{i}", "title": "", "text": f"doc {i}"}) + "\n"
                                               for i in range(3)))
    (root / "queries.jsonl").write_text("".join(json.dumps({"_id": f"q{i}", "text": f"query {i}"}) + "\n"
                                                for i in (1, 2)))
    (root / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\n" + qrels)
    return root


def rows(path: Path, negatives: list[int]) -> Path:
    path.write_text("".join(json.dumps({"query": f"q {i}", "positive": f"p {i}",
                                        **{f"negative_{j}": f"n {i} {j}" for j in range(1, k + 1)}}) + "\n"
                            for i, k in enumerate(negatives)))
    return path


def test_a_beir_folder_and_a_row_file_are_described(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    folder = beir(tmp_path / "b")
    assert main([str(folder)]) == 0
    assert capsys.readouterr().out == (f"{folder}: BEIR folder, 3 documents, 2 queries; qrels train: 3 judged pairs "
                                       "over 2 queries\nok: data=retrieval and simcse-mine can read it\n")
    file = rows(tmp_path / "rows.jsonl", [3, 3])
    assert main([str(file), "--num-negatives", "2", "--corpus", str(folder / "corpus.jsonl")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == [f"{file}: 2 rows (query, positive, 2 negatives)", f"{folder / 'corpus.jsonl'}: 3 documents"]


@pytest.mark.parametrize("case, message", [
    ("missing document", "train.tsv:2: document 'd9' is not in"),
    ("short row", "rows.jsonl:2: 1 negatives"),
    ("not BEIR", "corpus.jsonl:1: not a BEIR line"),
])
def test_bad_data_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, message: str):
    if case == "missing document":
        data = beir(tmp_path / "b", "q1\td9\t1\n")
    elif case == "short row":
        data = rows(tmp_path / "rows.jsonl", [3, 1])
    else:
        data = beir(tmp_path / "b")
        (data / "corpus.jsonl").write_text('{"id": 1, "body": "x"}\n')
    assert main([str(data)] + (["--num-negatives", "3"] if case == "short row" else [])) == 2
    err = capsys.readouterr().err
    assert err.startswith("simcse-check-data: error: ") and message in err and err.count("\n") == 1, err
