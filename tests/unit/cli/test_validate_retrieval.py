"""simcse-validate retrieval: what a BEIR folder, a row file and a mining corpus hold, or the first bad line in one
line (exit status 2), read by data=retrieval's and simcse-mine's own readers with no model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simcse_pl.cli.validate import main


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


def test_a_beir_folder_a_row_file_and_a_corpus_are_described(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    folder = beir(tmp_path / "b")
    assert main(["retrieval", str(folder)]) == 0
    assert capsys.readouterr().out.startswith(f"{folder}: 3 examples (query, positive), readable by data=retrieval")
    file = rows(tmp_path / "rows.jsonl", [3, 3])
    assert main(["retrieval", str(file), "--num-negatives", "2", "--corpus", str(folder / "corpus.jsonl")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{file}: 2 examples (query, positive, negative_1, negative_2), readable by data=retrieval",
                   f"{folder / 'corpus.jsonl'}: 3 documents, readable by simcse-mine"]


@pytest.mark.parametrize("case, message", [
    ("missing document", "train.tsv:2: document 'd9' is not in"),
    ("short row", "rows.jsonl:2: 1 negatives"),
    ("not BEIR", "corpus.jsonl:1: not a BEIR line"),
])
def test_bad_retrieval_data_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, message: str):
    if case == "missing document":
        data = beir(tmp_path / "b", "q1\td9\t1\n")
    elif case == "short row":
        data = rows(tmp_path / "rows.jsonl", [3, 1])
    else:
        data = beir(tmp_path / "b")
        (data / "corpus.jsonl").write_text('{"id": 1, "body": "x"}\n')
    assert main(["retrieval", str(data)] + (["--num-negatives", "3"] if case == "short row" else [])) == 2
    err = capsys.readouterr().err
    assert err.startswith("simcse-validate: error: ") and message in err and err.count("\n") == 1, err
