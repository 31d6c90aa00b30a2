"""``simcse-validate`` on good files of each kind: it reads every row with the reader training or evaluation uses and
says what it holds (the bad files and their lines: tests/unit/docs/test_data_formats_page.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simcse_pl.cli.validate import main


def test_each_training_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    (tmp_path / "text.txt").write_text("a sentence\nanother\n")
    (tmp_path / "nli.csv").write_text('sent0,sent1,hard_neg\n"a, quoted",b,c\n')
    (tmp_path / "pairs.tsv").write_text("sentence1\tsentence2\tscore\na\tb\t1.5\nc\td\t0\n")
    rows = [{"query": "q", "positive": "p", "negative_1": "n"}, {"query": "r", "positive": "s", "negative_1": "t"}]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for kind, name, count in [("text", "text.txt", 2), ("nli", "nli.csv", 1), ("pairs", "pairs.tsv", 2),
                              ("retrieval", "rows.jsonl", 2)]:
        assert main([kind, str(tmp_path / name)]) == 0
        assert f"{tmp_path / name}: {count} examples" in capsys.readouterr().out


def test_an_evaluation_task_by_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    (tmp_path / "my_dev.tsv").write_text("sentence1\tsentence2\tscore\na b\tb c\t1.5\nc d\td e\t0\ne f\tf g\t3\n")
    assert main(["task", str(tmp_path / "my_dev.tsv")]) == 0
    assert "readable as an evaluation task" in capsys.readouterr().out


def test_a_bad_file_is_one_line_and_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    (tmp_path / "pairs.tsv").write_text("sentence1\tsentence2\tscore\na\tb\tx\n")
    assert main(["pairs", str(tmp_path / "pairs.tsv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("simcse-validate: error: ") and err.count("\n") == 1 and ":2:" in err
