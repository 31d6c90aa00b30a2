"""NLITriplets: SimCSE's supervised CSV (quoting, line endings, pairs, bad rows) and its use by ShardedBatches."""

from __future__ import annotations

import logging
import pickle
from collections import Counter
from pathlib import Path

import pytest

from simcse_pl.data.batching import ShardedBatches, StreamedBatches
from simcse_pl.errors import DataError
from simcse_pl.data.sources.hf import HFNLI
from simcse_pl.data.sources.nli import NLITriplets

HEAD72 = Path(__file__).resolve().parents[4] / "shared" / "data" / "nli" / "nli_for_simcse_head72.csv"


def as_list(examples, rng=None):
    return list(examples)


def write(tmp_path: Path, text: str, newline: str = "\n") -> Path:
    path = tmp_path / "nli.csv"
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


def load(path: Path, **kwargs) -> NLITriplets:
    source = NLITriplets(str(path), **kwargs)
    source.index()
    return source


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_triplets_with_quoted_commas_quotes_and_newlines(tmp_path, newline):
    path = write(
        tmp_path,
        "sent0,sent1,hard_neg\n"
        'a man plays,"a man, playing","nobody plays"\n'
        '"she said ""hi""",a greeting,"two\nlines"\n'
        "last,row,here",  # no final newline
        newline,
    )
    source = load(path)
    assert source.columns == ("sent0", "sent1", "hard_neg")
    assert len(source) == 3
    assert source[0] == ("a man plays", "a man, playing", "nobody plays")
    assert source[1] == ('she said "hi"', "a greeting", f"two{newline}lines")
    assert source[2] == ("last", "row", "here")
    assert source[1] == source[1]  # reads by seeking, so repeatable in any order


def test_pairs_without_hard_negative_column(tmp_path):
    source = load(write(tmp_path, "sent0,sent1\nx,y\nu,v\n"))
    assert source.columns == ("sent0", "sent1")
    assert [source[i] for i in range(len(source))] == [("x", "y"), ("u", "v")]


def test_columns_choose_and_order_fields(tmp_path):
    source = load(write(tmp_path, "label,hard_neg,sent1,sent0\n1,n,p,a\n"), columns=["sent0", "sent1"])
    assert source[0] == ("a", "p")


def test_blank_lines_are_skipped_and_counted(tmp_path):
    source = load(write(tmp_path, "sent0,sent1,hard_neg\n\na,b,c\n\n\nd,e,f\n"))
    assert [source[i] for i in range(2)] == [("a", "b", "c"), ("d", "e", "f")]
    assert source.blank_lines == 3


@pytest.mark.parametrize(
    ("row", "problem"),
    [("a,,c", "empty sent1"), ("a,b,  ", "empty hard_neg"), ("a,b", "expected 3 fields, found 2"),
     ("a,b,c,d", "expected 3 fields, found 4")],
)
def test_bad_row_is_an_error_naming_file_and_line(tmp_path, row, problem):
    # the bad row is on line 4: a quoted field spanning lines 2-3 comes first
    path = write(tmp_path, f'sent0,sent1,hard_neg\n"x\ny",z,w\n{row}\nok,ok,ok\n')
    with pytest.raises(DataError, match=rf"nli\.csv:4: {problem}.*on_bad_row=skip"):
        load(path)


def test_skip_policy_drops_and_counts_bad_rows(tmp_path, caplog):
    path = write(tmp_path, "sent0,sent1,hard_neg\na,b,c\n,b,c\nd,e\nf,g,h\n")
    with caplog.at_level(logging.WARNING):
        source = load(path, on_bad_row="skip")
    assert [source[i] for i in range(len(source))] == [("a", "b", "c"), ("f", "g", "h")]
    assert source.skipped_rows == 2
    assert "skipped 2 rows" in caplog.text


def test_unknown_policy_is_rejected():
    with pytest.raises(DataError, match="on_bad_row='drop'"):
        NLITriplets("x.csv", on_bad_row="drop")


def test_missing_column_names_the_header(tmp_path):
    with pytest.raises(DataError, match=r"nli\.csv:1: the header 'premise,hypothesis' has no column 'sent0', 'sent1'"):
        load(write(tmp_path, "premise,hypothesis\na,b\n"))
    with pytest.raises(DataError, match=r"no column 'hard_neg'"):
        load(write(tmp_path, "sent0,sent1\na,b\n"), columns=["sent0", "sent1", "hard_neg"])


def test_unbalanced_quote_names_the_line_where_the_record_starts(tmp_path):
    path = write(tmp_path, 'sent0,sent1,hard_neg\na,b,c\n"open,b,c\nd,e,f\n')
    with pytest.raises(DataError, match=r"nli\.csv:3: bad CSV record \(a quote opened here is never closed"):
        load(path)


def test_empty_file_missing_file_and_bad_utf8(tmp_path):
    with pytest.raises(DataError, match="empty file"):
        load(write(tmp_path, ""))
    with pytest.raises(DataError, match="no such file"):
        load(tmp_path / "absent.csv")
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"sent0,sent1\na,b\ncaf\xe9,x\n")
    with pytest.raises(DataError, match=r"latin1\.csv:3: not valid UTF-8"):
        load(path)


def test_max_samples_stops_the_scan(tmp_path):
    source = NLITriplets(str(write(tmp_path, "sent0,sent1\n" + "".join(f"a{i},b{i}\n" for i in range(10)))))
    source.index(max_samples=4)
    assert len(source) == 4 and source[3] == ("a3", "b3")


def test_sharded_batches_see_every_triplet_once_across_ranks_and_pickles(tmp_path):
    rows = [(f"p{i}", f"e {i}, quoted", f"c{i}") for i in range(24)]
    source = load(write(tmp_path, "sent0,sent1,hard_neg\r\n" + "".join(f'{a},"{b}",{c}\r\n' for a, b, c in rows)))
    seen = Counter()
    for rank in (0, 1):
        batches = ShardedBatches(pickle.loads(pickle.dumps(source)), 4, as_list, rank=rank, world_size=2, seed=1)
        seen.update(example for batch in batches for example in batch)
    assert seen == Counter(rows)


@pytest.mark.skipif(not HEAD72.exists(), reason="shared data not present")
def test_reads_simcse_head72_sample():
    source = load(HEAD72)
    assert len(source) == 72 and source.columns == ("sent0", "sent1", "hard_neg")
    assert all(len(source[i]) == 3 and all(source[i]) for i in range(72))


def test_streamed_nli_from_a_local_csv_with_datasets(tmp_path):
    path = write(tmp_path, 'sent0,sent1,hard_neg\na,"b, c",d\n"e\nf",g,h\ni,,k\n', "\r\n")
    with pytest.raises(DataError, match="empty sent1 in row"):
        [batch for batch in StreamedBatches(HFNLI("csv", data_files=str(path), shuffle_buffer=1), 2, as_list)]
    stream = StreamedBatches(HFNLI("csv", data_files=str(path), on_bad_row="skip", shuffle_buffer=1), 2, as_list)
    assert [example for batch in stream for example in batch] == [("a", "b, c", "d"), ("e\r\nf", "g", "h")]
    assert stream.blank_lines == 1
    pairs = StreamedBatches(HFNLI("csv", data_files=str(path), columns=["sent1", "sent0"], shuffle_buffer=1), 1, as_list)
    assert next(iter(pairs)) == [("b, c", "a")]
