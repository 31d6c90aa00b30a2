"""Sentence-pair files with gold scores (simcse_pl/pair_files.py) in every layout, every bad row as a one-line
``file:line`` error, and the ``ScoredPairs`` source built on them (normalisation, max_samples, pickling,
batches with labels)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from simcse_pl.data.batching import ShardedBatches
from simcse_pl.data.collate import Collator
from simcse_pl.encoders.backbone import load_tokenizer
from simcse_pl.data.pair_files import detect_layout, read_pairs
from simcse_pl.errors import DataError
from simcse_pl.data.sources.base import Labeled
from simcse_pl.data.sources.scored_pairs import ScoredPairs

STSB_TRAIN = Path(__file__).resolve().parents[4] / "shared" / "data" / "stsb" / "sts-train.csv"
PAIRS = [("a man plays", "a man is playing", 4.5), ("the cat sleeps", "a dog runs", 0.25), ("x y", "x z", 2.0)]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def senteval(rows=PAIRS) -> str:
    return "".join(f"main-news\tMSRvid\t2012test\t{i:04d}\t{s}\t{a}\t{b}\n" for i, (a, b, s) in enumerate(rows))


def headerless(rows=PAIRS) -> str:
    return "".join(f"{a}\t{b}\t{s}\n" for a, b, s in rows)


def as_tuples(found):
    return [(a, b, s) for (a, b), s in zip(found.pairs, found.scores)]


# ---------------------------------------------------------------------------------------------- the layouts


def test_csv_with_header_quoted_fields_extra_columns_and_crlf(tmp_path):
    path = write(tmp_path, "pairs.csv", (
        "id,sentence2,score,sentence1\r\n"
        '1,a man is playing,4.5,a man plays\r\n'
        '2,"a dog, running",0.25,"the cat\r\nsleeps"\r\n'
        "3,x z,2,x y"  # no final newline
    ))
    found = read_pairs(str(path))
    assert found.layout == "header"
    assert as_tuples(found) == [("a man plays", "a man is playing", 4.5), ("the cat\r\nsleeps", "a dog, running", 0.25),
                                ("x y", "x z", 2.0)]
    assert found.lines == [2, 3, 5]


def test_tsv_with_header_and_label_column_keeps_quotes_as_text(tmp_path):
    path = write(tmp_path, "pairs.tsv", 'sentence1\tsentence2\tlabel\nhe said "hi\ta greeting\t1\n\nx\ty\t0\n')
    found = read_pairs(str(path))
    assert found.layout == "header"
    assert as_tuples(found) == [('he said "hi', "a greeting", 1.0), ("x", "y", 0.0)]
    assert found.blank_lines == 1 and found.lines == [2, 4]


def test_score_column_wins_over_label(tmp_path):
    path = write(tmp_path, "pairs.csv", "sentence1,sentence2,label,score\na,b,1,0.5\n")
    assert read_pairs(str(path)).scores == [0.5]


def test_jsonl_with_numbers_and_numeric_strings(tmp_path):
    lines = [
        {"sentence1": "a man plays", "sentence2": "a man is playing", "score": 4.5, "id": 7},
        {"sentence1": " the cat sleeps ", "sentence2": "a dog runs", "label": "0.25"},
        {"sentence1": "x y", "sentence2": "x z", "label": 2},
    ]
    path = write(tmp_path, "pairs.jsonl", "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n\n")
    found = read_pairs(str(path))
    assert found.layout == "jsonl"
    assert as_tuples(found) == PAIRS
    assert found.blank_lines == 1


def test_senteval_stsb_layout(tmp_path):
    path = write(tmp_path, "sts-train.csv", senteval() + "genre\tfile\tyear\t9\t3.0\tp\tq\textra\tcolumns\n")
    found = read_pairs(str(path))
    assert found.layout == "senteval"
    assert as_tuples(found) == [*PAIRS, ("p", "q", 3.0)]


def test_headerless_chinese_sts_layout(tmp_path):
    rows = [("一个男人在弹吉他", "一个人在演奏乐器", 1), ("猫在睡觉", "狗在跑", 0)]
    path = write(tmp_path, "ATEC.train.data", "\ufeff" + headerless(rows))  # BOM before line 1
    found = read_pairs(str(path))
    assert found.layout == "headerless"
    assert as_tuples(found) == [("一个男人在弹吉他", "一个人在演奏乐器", 1.0), ("猫在睡觉", "狗在跑", 0.0)]


@pytest.mark.parametrize("name", ["pairs.txt", "pairs.tsv", "pairs.csv"])
def test_headerless_is_detected_whatever_the_extension(tmp_path, name):
    assert detect_layout(str(write(tmp_path, name, "\n" + headerless()))) == "headerless"


def test_real_stsb_train_is_senteval():
    if not STSB_TRAIN.exists():
        pytest.skip("real data not found")
    found = read_pairs(str(STSB_TRAIN))
    assert (found.layout, len(found), found.blank_lines) == ("senteval", 5749, 0)
    assert found.pairs[0] == ("a plane is taking off .", "an air plane is taking off .") and found.scores[0] == 5.0
    assert min(found.scores) == 0.0 and max(found.scores) == 5.0


def test_explicit_layout_overrides_detection(tmp_path):
    # three tab-separated fields ending in a number look headerless; read as SentEval they are too few columns
    path = write(tmp_path, "pairs.tsv", headerless())
    with pytest.raises(DataError) as err:
        read_pairs(str(path), layout="senteval")
    assert str(err.value) == (
        f"{path}:1: expected at least 7 tab-separated fields (SentEval STS-B: genre, file, year, id, score, "
        "sentence1, sentence2), found 3"
    )


def test_max_pairs_stops_early(tmp_path):
    found = read_pairs(str(write(tmp_path, "p.tsv", headerless() + "bad row\n")), max_pairs=2)
    assert len(found) == 2


# ---------------------------------------------------------------------------------------------- the errors


def error(path: Path, layout: str = "auto") -> str:
    with pytest.raises(DataError) as err:
        read_pairs(str(path), layout=layout)
    return str(err.value)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        # csv / tsv with a header
        ("p.csv", "sentence1,sentence2,score\na,b,1\nc,d\n", "{path}:3: expected 3 fields (as the header 'sentence1,sentence2,score'), found 2"),
        ("p.csv", "sentence1,sentence2,score\na,b,1,9\n", "{path}:2: expected 3 fields (as the header 'sentence1,sentence2,score'), found 4"),
        ("p.csv", "sentence1,sentence2,score\n\"x\ny\",b,1\na, ,2\n", "{path}:4: empty sentence2"),
        ("p.csv", "sentence1,sentence2,score\na,b,high\n", "{path}:2: score 'high' is not a number"),
        ("p.csv", "sentence1,sentence2,score\na,b,\n", "{path}:2: score '' is not a number"),
        ("p.csv", "sentence1,sentence2,score\na,b,nan\n", "{path}:2: score 'nan' is not a finite number"),
        ("p.csv", "sentence1,sentence2,score\na,b,inf\n", "{path}:2: score 'inf' is not a finite number"),
        ("p.csv", 'sentence1,sentence2,score\na,"b,1\n', "{path}:2: bad CSV record (a quote opened here is never closed: the record runs on to the end of the file)"),
        ("p.csv", "sentence1,text,score\na,b,1\n",
         "{path}:1: the header 'sentence1,text,score' has no column 'sentence2' (a header row naming sentence1, "
         "sentence2 and score or label is required for this layout)"),
        ("p.csv", "sentence1,sentence2,similarity\na,b,1\n",
         "{path}:1: the header 'sentence1,sentence2,similarity' has no column 'score or label' (a header row naming "
         "sentence1, sentence2 and score or label is required for this layout)"),
        ("p.csv", "sentence1,sentence2,score,sentence1\na,b,1,c\n",
         "{path}:1: duplicate column 'sentence1' in the header 'sentence1,sentence2,score,sentence1' (rename one)"),
        ("p.tsv", "sentence1\tsentence2\tscore\n", "{path}: no sentence pairs (the file is empty or has only blank lines, or only a header)"),
        # jsonl
        ("p.jsonl", '{"sentence1": "a", "sentence2": "b", "score": 1}\n{"sentence1": "a",\n',
         "{path}:2: invalid JSON (Expecting property name enclosed in double quotes at column 19)"),
        ("p.jsonl", '["a", "b", 1]\n', "{path}:1: expected a JSON object with sentence1, sentence2 and score or label, found list"),
        ("p.jsonl", '{"sentence1": "a", "score": 1}\n', "{path}:1: no key 'sentence2' (each line needs sentence1, sentence2 and score or label)"),
        ("p.jsonl", '{"sentence1": "a", "sentence2": "b"}\n', "{path}:1: no key 'score or label' (each line needs sentence1, sentence2 and score or label)"),
        ("p.jsonl", '{"sentence1": "a", "sentence2": 3, "score": 1}\n', "{path}:1: sentence2 is int, not a string"),
        ("p.jsonl", '{"sentence1": "  ", "sentence2": "b", "score": 1}\n', "{path}:1: empty sentence1"),
        ("p.jsonl", '{"sentence1": "a", "sentence2": "b", "score": null}\n', "{path}:1: score None is not a number"),
        ("p.jsonl", '{"sentence1": "a", "sentence2": "b", "score": true}\n', "{path}:1: score True is not a number"),
        ("p.jsonl", '{"sentence1": "a", "sentence2": "b", "label": "NaN"}\n', "{path}:1: score 'NaN' is not a finite number"),
        # SentEval STS-B
        ("sts-dev.csv", senteval() + "g\tf\ty\t9\t3.0\tonly one sentence\n",
         "{path}:4: expected at least 7 tab-separated fields (SentEval STS-B: genre, file, year, id, score, sentence1, "
         "sentence2), found 6"),
        ("sts-dev.csv", senteval() + "g\tf\ty\t9\tfive\tp\tq\n", "{path}:4: score 'five' is not a number"),
        ("sts-dev.csv", senteval() + "g\tf\ty\t9\t1.0\t\tq\n", "{path}:4: empty sentence1"),
        # headerless s1<TAB>s2<TAB>label
        ("p.txt", headerless() + "a\tb\tc\t1\n", "{path}:4: expected 3 tab-separated fields (sentence1, sentence2, label), found 4"),
        ("p.txt", headerless() + "a\tb\n", "{path}:4: expected 3 tab-separated fields (sentence1, sentence2, label), found 2"),
        ("p.txt", headerless() + "a\tb\tyes\n", "{path}:4: score 'yes' is not a number"),
        ("p.txt", headerless() + "\t\t1\n", "{path}:4: empty sentence1, sentence2"),
        # what auto cannot tell, and files with nothing to read
        ("p.txt", "just one sentence per line\n",
         "{path}:1: cannot tell the layout: this line is neither a header naming sentence1, sentence2 and score or "
         "label, nor SentEval's STS-B row (7 tab-separated columns, score in the 5th), nor "
         "sentence1<TAB>sentence2<TAB>label; set data.source.layout=header|jsonl|senteval|headerless"),
        ("p.tsv", "\n  \n", "{path}: no sentence pairs (the file is empty or has only blank lines)"),
        ("p.jsonl", "", "{path}: no sentence pairs (the file is empty or has only blank lines, or only a header)"),
    ],
)
def test_bad_row_is_one_line_naming_file_and_line(tmp_path, name, text, message):
    path = write(tmp_path, name, text)
    assert error(path) == message.format(path=path)


def test_encoding_errors_name_the_line(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_bytes(headerless().encode() + b"caf\xe9\tb\t1\n")
    assert error(path) == f"{path}:4: not valid UTF-8 (byte 0xe9 at column 4)"
    path.write_bytes(headerless().encode() + b"a\x00\tb\t1\n")
    assert error(path) == f"{path}:4: contains a NUL byte (column 2); is this a binary file?"


def test_missing_file_directory_and_unknown_layout(tmp_path):
    assert error(tmp_path / "nope.csv").startswith(f"{tmp_path / 'nope.csv'}: no such file (data.source.path).")
    assert error(tmp_path) == f"{tmp_path}: is a directory, not a file (data.source.path)"
    assert error(write(tmp_path, "p.tsv", headerless()), layout="xml") == (
        "data.source.layout='xml' is not one of auto, header, jsonl, senteval, headerless"
    )


# ---------------------------------------------------------------------------------------------- ScoredPairs


def source(path: Path, max_samples=None, **kwargs) -> ScoredPairs:
    pairs = ScoredPairs(str(path), **kwargs)
    pairs.index(max_samples)
    return pairs


def test_scored_pairs_yields_labeled_pairs_with_raw_scores(tmp_path):
    pairs = source(write(tmp_path, "p.tsv", "\n" + headerless()))
    assert len(pairs) == 3 and pairs.blank_lines == 1 and pairs.read_layout == "headerless"
    assert pairs[0] == Labeled(("a man plays", "a man is playing"), 4.5)
    assert [pairs[i].label for i in range(3)] == [4.5, 0.25, 2.0]
    assert len(source(write(tmp_path, "q.tsv", headerless()), max_samples=2)) == 2


def test_minmax_maps_the_declared_range_or_the_files_own(tmp_path):
    path = write(tmp_path, "p.tsv", headerless())
    assert [x.label for x in source(path, normalize="minmax", score_range=[0, 5])] == [0.9, 0.05, 0.4]
    own = [x.label for x in source(path, normalize="minmax")]
    assert own == pytest.approx([1.0, 0.0, (2.0 - 0.25) / 4.25])


def test_score_outside_the_declared_range_names_its_line(tmp_path):
    path = write(tmp_path, "p.tsv", headerless() + "a\tb\t7\n" + "c\td\t-1\n")
    with pytest.raises(DataError) as err:
        source(path, score_range=[0, 5])
    assert str(err.value) == (
        f"{path}:4: score 7 is outside data.source.score_range [0, 5] (2 such rows; a wrong column, or another scale?)"
    )


def test_constant_scores_cannot_be_minmaxed(tmp_path):
    path = write(tmp_path, "p.tsv", "a\tb\t1\nc\td\t1\n")
    with pytest.raises(DataError) as err:
        source(path, normalize="minmax")
    assert str(err.value) == (
        f"{path}: every score is 1, so normalize=minmax has no range to map; set data.source.score_range or normalize=null"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"layout": "xml"}, "data.source.layout='xml' is not one of auto, header, jsonl, senteval, headerless"),
        ({"normalize": "zscore"}, "data.source.normalize='zscore' is not one of null, minmax"),
        ({"score_range": [5, 0]}, "data.source.score_range=[5.0, 0.0]: must be [low, high] with low < high"),
        ({"score_range": [0]}, "data.source.score_range=[0.0]: must be [low, high] with low < high"),
    ],
)
def test_bad_settings_fail_before_reading(kwargs, message):
    with pytest.raises(DataError) as err:
        ScoredPairs("/nonexistent.tsv", **kwargs)
    assert str(err.value) == message


def test_pickles_for_dataloader_workers(tmp_path):
    pairs = source(write(tmp_path, "p.tsv", headerless()), normalize="minmax", score_range=[0, 5])
    copy = pickle.loads(pickle.dumps(pairs))
    assert [copy[i] for i in range(3)] == [pairs[i] for i in range(3)]


def test_batches_carry_the_scores_as_labels(tmp_path):
    rows = [(f"left {i}", f"right {i}", i / 4) for i in range(12)]
    pairs = source(write(tmp_path, "p.tsv", headerless(rows)))
    batches = ShardedBatches(pairs, 4, Collator(load_tokenizer(None), max_len=8), seed=3)
    seen = []
    for batch in batches:
        assert batch["input_ids"].shape[:2] == (4, 2)
        assert batch["labels"].dtype == torch.float32
        seen += batch["labels"].tolist()
    assert sorted(seen) == [i / 4 for i in range(12)]
    assert seen != sorted(seen)  # shuffled


def mixed_scales(n_unit: int, n_five: int) -> str:
    """A 0-1 file (``n_unit`` rows) joined to a 0-5 one (``n_five`` rows), as a headerless pair file."""
    unit = [f"u{i}\tv{i}\t{(i % 10) / 10:g}\n" for i in range(n_unit)]
    five = [f"f{i}\tg{i}\t{(i * 7 % 51) / 10:g}\n" for i in range(n_five)]
    return "".join(unit + five)


def test_two_scales_in_one_file_are_warned_about_in_one_line(tmp_path, caplog):
    """Some 0-1 rows, some 0-5, in one file: a warning naming the lines; with score_range [0, 1] the first 0-5 row
    above 1 is refused by line."""
    path = write(tmp_path, "mixed.tsv", mixed_scales(60, 40))
    with caplog.at_level("WARNING", logger="simcse_pl.data.sources.scored_pairs"):
        pairs = source(path)
    assert len(pairs) == 100 and pairs[61].label == 0.7  # used as they are
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warning.startswith(f"{path}: lines 1-") and "two scales in one file" in warning and "up to 5" in warning
    with pytest.raises(DataError, match=rf"^{path}:63: score 1\.4 is outside data.source.score_range \[0, 1\]"):
        source(path, score_range=[0, 1])


@pytest.mark.parametrize("text", [mixed_scales(30, 70), mixed_scales(0, 200), mixed_scales(80, 0)],
                         ids=["short-stretch", "one-scale-0-5", "one-scale-0-1"])
def test_one_scale_or_a_short_stretch_is_not_warned_about(tmp_path, caplog, text):
    with caplog.at_level("WARNING", logger="simcse_pl.data.sources.scored_pairs"):
        source(write(tmp_path, "p.tsv", text))
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_a_file_sorted_by_score_is_not_two_scales(tmp_path, caplog):
    rows = sorted(mixed_scales(60, 40).splitlines(keepends=True), key=lambda r: float(r.split("\t")[2]))
    with caplog.at_level("WARNING", logger="simcse_pl.data.sources.scored_pairs"):
        source(write(tmp_path, "sorted.tsv", "".join(rows)))
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_real_stsb_train_is_one_scale(caplog):
    if not STSB_TRAIN.exists():
        pytest.skip("real data not found")
    with caplog.at_level("WARNING", logger="simcse_pl.data.sources.scored_pairs"):
        assert len(source(STSB_TRAIN)) == 5749
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
