"""Long csv/tsv fields: a passage over the csv module's default limit (128 KiB) reads in every csv reader of the
package, in the main process and in a worker that never ran the index scan; a file that runs on past
``CSV_FIELD_LIMIT`` (a quote opened and never closed) is one ``DataError`` line naming the file and line."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from simcse_pl.data import files
from simcse_pl.evaluation.clustering import load_clustering
from simcse_pl.evaluation.retrieval import load_beir
from simcse_pl.data.pair_files import read_pairs
from simcse_pl.errors import DataError
from simcse_pl.data.sources.nli import NLITriplets

PYTHON_DEFAULT = 131072  # csv.field_size_limit() of a fresh interpreter
LONG = " ".join(f"word{i}" for i in range(30_000))  # ~230 KB, one passage
assert len(LONG) > PYTHON_DEFAULT


@pytest.fixture(autouse=True)
def fresh_limit() -> Iterator[None]:
    """Each test starts at the csv module's default, as a fresh or spawned process does."""
    previous = csv.field_size_limit(PYTHON_DEFAULT)
    yield
    csv.field_size_limit(previous)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("p.csv", f'sentence1,sentence2,score\n"{LONG}, quoted",b,1\nc,d,2\n'),
        ("p.tsv", f"sentence1\tsentence2\tscore\n{LONG}, quoted\tb\t1\nc\td\t2\n"),
        ("headerless.tsv", f"{LONG}, quoted\tb\t1\nc\td\t2\n"),
        ("sts-train.csv", f"g\tf\ty\t1\t1.0\t{LONG}, quoted\tb\ng\tf\ty\t2\t2.0\tc\td\n"),
    ],
)
def test_pair_files_read_a_long_field_in_every_layout(tmp_path: Path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    found = read_pairs(str(path))
    assert found.pairs == [(f"{LONG}, quoted", "b"), ("c", "d")]


def test_nli_triplets_read_a_long_field_also_in_a_worker_that_never_indexed(tmp_path: Path):
    path = tmp_path / "nli.csv"
    path.write_text(f'sent0,sent1,hard_neg\n"{LONG}, with a comma",b,c\nd,e,f\n')
    source = NLITriplets(str(path))
    source.index()
    csv.field_size_limit(PYTHON_DEFAULT)  # a spawned dataloader worker starts here
    assert source[0] == (f"{LONG}, with a comma", "b", "c")
    assert len(source) == 2


def test_clustering_and_beir_files_read_long_fields(tmp_path: Path):
    clusters = tmp_path / "long.clusters.tsv"
    clusters.write_text(f"text\tlabel\n{LONG}\ta\nshort\tb\nother\ta\n")
    assert load_clustering(str(clusters)).texts == [LONG, "short", "other"]
    folder, long_id = tmp_path / "beir", "d" * (PYTHON_DEFAULT + 10)
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(json.dumps({"_id": long_id, "text": "a document"}) + "\n")
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "a query"}) + "\n")
    (folder / "qrels" / "test.tsv").write_text(f"query-id\tcorpus-id\tscore\nq1\t{long_id}\t1\n")
    assert load_beir(str(folder)).qrels == {"q1": {long_id: 1.0}}


RUNAWAY = (
    "a field longer than 1 MiB starts here: most likely a quote opened here and never closed, which runs on "
    "through the rest of the file"
)


@pytest.fixture
def one_mib_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The package's limit lowered to 1 MiB, so a runaway field is cheap to write."""
    monkeypatch.setattr(files, "CSV_FIELD_LIMIT", 2**20)


def rows_after(n_bytes: int, sep: str = ",") -> str:
    return "".join(f"row {i}{sep}more{sep}1\n" for i in range(n_bytes // 16))


def test_an_unclosed_quote_past_the_limit_names_file_and_line(tmp_path: Path, one_mib_limit: None):
    pairs = tmp_path / "p.csv"
    pairs.write_text('sentence1,sentence2,score\na,b,1\n"never closed,b,1\n' + rows_after(2**21))
    with pytest.raises(DataError) as exc:
        read_pairs(str(pairs))
    assert str(exc.value) == f"{pairs}:3: bad CSV record ({RUNAWAY})"
    nli = tmp_path / "nli.csv"
    nli.write_text('sent0,sent1,hard_neg\na,b,c\nd,e,f\n"never closed,b,c\n' + rows_after(2**21))
    with pytest.raises(DataError) as exc:
        NLITriplets(str(nli)).index()
    assert str(exc.value) == f"{nli}:4: bad CSV record ({RUNAWAY})"


def test_an_unquoted_line_past_the_limit_names_file_and_line(tmp_path: Path, one_mib_limit: None):
    clusters = tmp_path / "c.clusters.tsv"
    clusters.write_text("text\tlabel\nshort\ta\n" + "x" * (2**20 + 1) + "\tb\n")
    with pytest.raises(DataError) as exc:
        load_clustering(str(clusters))
    assert str(exc.value).startswith(f"{clusters}:3: bad CSV record (a field longer than 1 MiB")
    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(json.dumps({"_id": "d1", "text": "a document"}) + "\n")
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "a query"}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\t" + "d" * (2**20 + 1) + "\t1\n")
    with pytest.raises(DataError) as exc:
        load_beir(str(folder))
    assert str(exc.value).startswith(f"{folder / 'qrels' / 'test.tsv'}:3: bad CSV record (a field longer than 1 MiB")
