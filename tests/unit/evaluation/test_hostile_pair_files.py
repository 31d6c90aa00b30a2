"""Issue 23 item 8: pair files given to simcse-eval (and data.val_tasks) under hostile input. Gold scores that cannot
be correlated with (one pair, or every pair with the same score) used to give ``nan`` Spearman with only scipy's
warning; they are now one line naming the file. A BOM before a quoted csv header with embedded quotes, a comma and
a newline inside fields reads as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from simcse_pl.cli.evaluate import eval_main
from simcse_pl.errors import DataError
from simcse_pl.evaluation.sts import load_pair_file


@pytest.mark.parametrize("rows, message", [
    ("a b\tc d\t1\ne f\tg h\t1\ni j\tk l\t1\n", "every one of its 3 pairs has the score 1; Spearman and Pearson"),
    ("a b\tc d\t3\n", "only 1 scored pair; a correlation needs at least 2"),
])
def test_gold_scores_without_variation_are_one_line(rows: str, message: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture):
    path = tmp_path / "same.tsv"
    path.write_text("sentence1\tsentence2\tscore\n" + rows, encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{path}: {message}"):
        load_pair_file(str(path))
    assert eval_main(["no-model-needed", "--tasks", str(path)]) == 2  # tasks load before the model
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_bom_quotes_commas_and_newlines_inside_csv_fields(tmp_path: Path):
    path = tmp_path / "quoted.csv"
    path.write_bytes(b'\xef\xbb\xbf"sentence1","sentence2","score"\n"a, ""b""","c\nd\td",0.5\nx,y,4\n')
    task = load_pair_file(str(path))
    assert task.pairs == [('a, "b"', "c\nd\td"), ("x", "y")] and list(task.scores) == [0.5, 4.0]
