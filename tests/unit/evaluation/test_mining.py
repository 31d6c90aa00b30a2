"""simcse-mine: the same negatives as sentence-transformers' mine_hard_negatives (acceptance 1), the cache and
its resume, and bad input in one line each."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from simcse_pl.cli import mine as cli
from simcse_pl.evaluation.embedding_cache import cached_embeddings
from simcse_pl.evaluation.mining import MiningOptions, mine
from simcse_pl.evaluation.search import top_k
from simcse_pl.export.writer import export_model
from simcse_pl.inference import SimCSE
from simcse_pl.losses import InfoNCE
from simcse_pl.training.module import SimCSEModule
from tiny_model import WIDE_INIT_BERT

WORDS = "a the man woman dog cat plays runs eats sleeps guitar ball fish in on park house red blue big small".split()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    module = SimCSEModule(model={"name_or_path": None, "random_init": WIDE_INIT_BERT, "pooler": "avg",
                                 "mlp_only_train": False}, loss=InfoNCE()).eval()
    out = tmp_path_factory.mktemp("model")
    export_model(module.sentence_encoder, str(out))
    return out


@pytest.fixture(scope="module")
def pairs() -> tuple[list[str], list[str], list[str]]:
    rng = random.Random(0)
    corpus = list(dict.fromkeys(" ".join(rng.choices(WORDS, k=rng.randint(4, 12))) for _ in range(60)))
    queries = [" ".join(rng.choices(WORDS, k=3)) for _ in range(12)]
    positives = [corpus[rng.randrange(len(corpus))] for _ in queries]
    return queries + queries[:3], positives + [corpus[i] for i in range(3)], corpus


OPTIONS = [
    MiningOptions(num_negatives=3),
    MiningOptions(num_negatives=3, range_min=2, range_max=30, relative_margin=0.0005),
    MiningOptions(num_negatives=2, absolute_margin=0.001, max_score=0.995, min_score=0.8),
]


@pytest.fixture(scope="module")
def both_miners(model_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """sentence-transformers' model and ours, loaded once, and one embedding cache each: the corpus is encoded once
    by each side, whatever the options (each side's cache is keyed by model and texts)."""
    from sentence_transformers import SentenceTransformer

    return (SentenceTransformer(str(model_dir), device="cpu"), SimCSE.from_pretrained(model_dir, device="cpu"),
            tmp_path_factory.mktemp("their_cache"), tmp_path_factory.mktemp("our_cache"))


@pytest.mark.parametrize("options", OPTIONS, ids=["defaults", "range+relative", "absolute+scores"])
def test_same_negatives_as_sentence_transformers(both_miners, pairs, options: MiningOptions):
    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives

    their_model, our_model, their_cache, our_cache = both_miners
    queries, positives, corpus = pairs
    theirs = mine_hard_negatives(
        Dataset.from_dict({"query": queries, "positive": positives}), their_model,
        corpus=corpus, num_negatives=options.num_negatives, range_min=options.range_min, range_max=options.range_max,
        absolute_margin=options.absolute_margin, relative_margin=options.relative_margin, max_score=options.max_score,
        min_score=options.min_score, output_format="n-tuple", output_scores=True, use_faiss=False, verbose=False,
        cache_folder=str(their_cache))
    unique, docs, full = cli.positions(queries, positives, corpus, by_id=False)
    result = mine(our_model, unique, docs, full, options, "tiny", str(our_cache), use_faiss=False)
    ours = {}
    for q, query in enumerate(result.queries):
        if result.complete(q):
            ours[query] = ([full[d] for d in result.negatives[q].tolist()], result.negative_scores[q].tolist())
    mined = {row["query"]: ([row[f"negative_{i}"] for i in range(1, options.num_negatives + 1)], row["scores"][1:])
             for row in theirs}
    assert mined.keys() == ours.keys()
    assert len(ours) >= 3  # the options leave most queries their negatives: the comparison is not vacuous
    for query, (texts, scores) in mined.items():
        assert ours[query][0] == texts, query
        np.testing.assert_allclose(ours[query][1], scores, atol=1e-4)


def test_chunked_search_is_exact_and_pads():
    torch.manual_seed(0)
    docs = torch.nn.functional.normalize(torch.randn(1000, 16), dim=-1).numpy()
    queries = torch.nn.functional.normalize(torch.randn(7, 16), dim=-1)
    scores, indices = top_k(queries, docs, 25, chunk_size=64, use_faiss=False)
    expected = torch.topk(queries @ torch.from_numpy(docs).T, 25, dim=1)
    assert torch.equal(indices, expected.indices) and torch.allclose(scores, expected.values)
    scores, indices = top_k(queries, docs[:5], 8, use_faiss=False)
    assert (indices[:, 5:] == -1).all() and torch.isinf(scores[:, 5:]).all()


def test_an_interrupted_encoding_resumes_from_the_parts_written(tmp_path: Path):
    texts = [f"text {i}" for i in range(10)]
    calls: list[int] = []

    def encode(batch: list[str]) -> np.ndarray:
        calls.append(len(batch))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return np.ones((len(batch), 4), dtype=np.float32) * len(calls)

    with pytest.raises(KeyboardInterrupt):
        cached_embeddings(tmp_path, "key", texts, encode, chunk=4)
    assert sorted(p.name for p in (tmp_path / "key").iterdir()) == [
        "part-000000000000-000000000004.npy", "part-000000000004-000000000008.npy"]
    vectors = cached_embeddings(tmp_path, "key", texts, encode, chunk=4)
    assert calls == [4, 4, 2, 2] and vectors.shape == (10, 4) and vectors[0, 0] == 1 and vectors[-1, 0] == 4
    again = cached_embeddings(tmp_path, "key", texts, lambda b: pytest.fail("re-encoded"), chunk=4)
    assert np.array_equal(again, vectors)


def beir(root: Path, corpus: list[str], queries: list[str], qrels: list[str]) -> Path:
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("".join(line + "\n" for line in corpus))
    (root / "queries.jsonl").write_text("".join(line + "\n" for line in queries))
    (root / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(q + "\n" for q in qrels))
    return root


DOCS = [json.dumps({"_id": f"d{i}", "title": f"t{i}", "text": f"doc {i} " + WORDS[i]}) for i in range(12)]
QUERIES = [json.dumps({"_id": "q1", "text": "a dog"}), json.dumps({"_id": "q2", "text": "a cat"})]


def test_cli_mines_a_beir_folder_and_writes_rows_and_statistics(model_dir: Path, tmp_path: Path, capsys):
    data = beir(tmp_path / "b", DOCS, QUERIES, ["q1\td1\t1", "q2\td2\t1", "q2\td3\t1"])
    out = tmp_path / "rows.jsonl"
    assert cli.main([str(model_dir), str(data), "--output", str(out), "--num-negatives", "2", "--faiss", "no"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 3 and {r["query"] for r in rows} == {"a dog", "a cat"}
    assert all(r["positive"] not in (r["negative_1"], r["negative_2"]) for r in rows)
    stats = json.loads(out.with_suffix(".mining.json").read_text())
    assert stats["rows_written"] == 3 and stats["settings"]["num_negatives"] == 2 and "mean" in stats["positive_scores"]
    assert "positive scores: mean" in capsys.readouterr().out


@pytest.mark.parametrize("corpus, queries, qrels, extra, message", [
    (DOCS, QUERIES, ["q1\tmissing\t1"], [], "train.tsv:2: document 'missing' is not in"),
    (DOCS, QUERIES, ["q9\td1\t1"], [], "train.tsv:2: query 'q9' is not in"),
    (DOCS, QUERIES, ["q1\td1\t1", "q2\td2\t0"], [], "train.tsv:3: query 'q2' has no positive"),
    ([], QUERIES, ["q1\td1\t1"], [], "corpus.jsonl: empty"),
    (DOCS + [DOCS[0]], QUERIES, ["q1\td1\t1"], [], "corpus.jsonl:13: duplicate id 'd0' (first at line 1)"),
    (['{"id": 1, "body": "x"}'], QUERIES, ["q1\td1\t1"], [], "corpus.jsonl:1: not a BEIR line"),
    (DOCS, QUERIES, ["q1\td1\t1"], ["--num-negatives", "5", "--range-max", "3"], "num_negatives=5 > range_max"),
])
def test_bad_input_is_one_line(model_dir: Path, tmp_path: Path, capsys, corpus, queries, qrels, extra, message):
    data = beir(tmp_path / "b", corpus, queries, qrels)
    assert cli.main([str(model_dir), str(data), "--output", str(tmp_path / "o.jsonl"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("simcse-mine: error:") and message in err and "\n" not in err
    assert not (tmp_path / "o.jsonl").exists()
