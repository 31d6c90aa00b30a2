"""data=retrieval: BEIR folders and row files as (query, positive, negatives) rows, per-role lengths and prompts in
the Collator, duplicate-free steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simcse_pl.data.collate import Collator
from simcse_pl.data.samplers.no_duplicates import NoDuplicates
from simcse_pl.data.sources.retrieval import RetrievalRows
from simcse_pl.encoders.backbone import load_tokenizer
from simcse_pl.errors import DataError


def beir(root: Path) -> Path:
    (root / "qrels").mkdir(parents=True)
    docs = [{"_id": f"d{i}", "title": f"title {i}", "text": f"text of document {i}"} for i in range(6)]
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (root / "queries.jsonl").write_text("".join(json.dumps({"_id": f"q{i}", "text": f"query {i}"}) + "\n"
                                                for i in range(4)))
    (root / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\nq0\td0\t1\nq0\td1\t1\nq1\td1\t1\n"
                                              "q2\td2\t1\nq3\td3\t1\n")
    return root


def test_a_beir_folder_gives_one_row_per_judged_pair(tmp_path: Path):
    rows = RetrievalRows(str(beir(tmp_path)))
    rows.index()
    assert len(rows) == 5 and rows.columns == ("query", "positive")
    assert rows[0] == ("query 0", "title 0 text of document 0") and rows[1] == ("query 0", "title 1 text of document 1")
    assert rows.corpus is not None and len(rows.corpus.offsets) == 6  # offsets, not strings


def test_duplicate_free_steps_keep_shared_queries_and_positives_apart(tmp_path: Path):
    rows = RetrievalRows(str(beir(tmp_path)))
    rows.index()
    for epoch in range(5):
        for step in NoDuplicates().steps(rows, epoch, 0, 2, 1, True):
            texts = [t for i in step for t in rows[int(i)]]
            assert len(texts) == len(set(texts))


@pytest.mark.parametrize("name, content", [
    ("rows.jsonl", '{"query": "q", "positive": "p", "negative_1": "n1", "negative_2": "n2"}\n'
                   '{"query": "r", "positive": "s", "negatives": ["m1", "m2", "m3"]}\n'),
    ("rows.tsv", "anchor\tpositive\tnegative_1\tnegative_2\nq\tp\tn1\tn2\nr\ts\tm1\tm2\n"),
    ("rows.csv", 'query,positive,negative_1,negative_2\nq,p,n1,n2\nr,s,m1,"m2"\n'),
])
def test_row_files(tmp_path: Path, name: str, content: str):
    path = tmp_path / name
    path.write_text(content)
    rows = RetrievalRows(str(path))
    rows.index()
    assert rows[0] == ("q", "p", "n1", "n2") and rows[1] == ("r", "s", "m1", "m2")
    one = RetrievalRows(str(path), num_negatives=1)
    one.index()
    assert one[1] == ("r", "s", "m1")


@pytest.mark.parametrize("content, message", [
    ('{"query": "q", "positive": "p", "negative_1": "n"}\n{"query": "r", "positive": "s"}\n', "rows.jsonl:2: 0 negatives"),
    ('{"text": "not a row"}\n', "rows.jsonl:1: expected a JSON object with 'query', 'positive'"),
    ("", "rows.jsonl: no rows"),
])
def test_bad_row_files_are_one_line(tmp_path: Path, content: str, message: str):
    (tmp_path / "rows.jsonl").write_text(content)
    with pytest.raises(DataError, match=message.replace("(", r"\(")):
        RetrievalRows(str(tmp_path / "rows.jsonl")).index()


def test_negatives_asked_of_a_beir_folder_point_to_the_miner(tmp_path: Path):
    with pytest.raises(DataError, match="simcse-mine"):
        RetrievalRows(str(beir(tmp_path)), num_negatives=2).index()


def test_collator_gives_each_role_its_prompt_and_length():
    tokenizer = load_tokenizer(None, random_init={"hidden_size": 32})
    collate = Collator(tokenizer, max_len=8, document_max_len=20, prompts={"query": "q: ", "document": "d: "})
    long = "x " * 40
    batch = collate([(long, long, "short")])
    ids, mask = batch["input_ids"][0], batch["attention_mask"][0]
    assert mask[0].sum() == 8 and mask[1].sum() == 20 and ids.shape[-1] == 20
    assert tokenizer.decode(ids[0][mask[0].bool()], skip_special_tokens=True).replace(" ", "").startswith("q:")
    assert tokenizer.decode(ids[2][mask[2].bool()], skip_special_tokens=True).replace(" ", "") == "d:short"
    assert batch["truncated"] == 2
