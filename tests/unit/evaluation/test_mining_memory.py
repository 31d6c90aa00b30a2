"""A corpus larger than memory without faiss (issue 21, acceptance 5): the chunked path's memory does not grow with
the corpus. With parts of CHUNK texts encoded at a time and CHUNK documents searched at a time, mining a
corpus 4x larger allocates (tracemalloc: Python and numpy, the cache parts and the search's
chunk copies) about the same peak, far below the extra vectors it would hold at once; every top-k of the torch search
(torch allocations are not traced) sees at most queries x chunk_size scores. That an interrupted run resumes from
the cache's parts is test_mining.py's test_an_interrupted_encoding_resumes_from_the_parts_written."""

from __future__ import annotations

import random
import tracemalloc
from pathlib import Path

import pytest
import torch

from simcse_pl.evaluation.mining import MiningOptions, mine
from simcse_pl.export.writer import export_model
from simcse_pl.inference import SimCSE
from simcse_pl.losses import InfoNCE
from simcse_pl.training.module import SimCSEModule
from tiny_model import TINY_BERT

WIDTH = 128  # 512 bytes a vector: the corpus's vectors dwarf the per-document bookkeeping (an 8-byte digest)
CHUNK, QUERIES = 128, 16
WORDS = "cell gene protein tumor dose risk virus drug brain heart blood mouse human liver immune signal".split()


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> SimCSE:
    torch.manual_seed(0)
    shape = {**TINY_BERT, "hidden_size": WIDTH, "num_attention_heads": 2, "num_hidden_layers": 1}
    module = SimCSEModule(model={"name_or_path": None, "random_init": shape, "pooler": "avg",
                                 "mlp_only_train": False}, loss=InfoNCE()).eval()
    out = tmp_path_factory.mktemp("wide_model")
    export_model(module.sentence_encoder, str(out))
    return SimCSE.from_pretrained(out, device="cpu")


def corpus(size: int) -> list[str]:
    rng = random.Random(size)
    return [" ".join(rng.choices(WORDS, k=5)) + f" {i}" for i in range(size)]


def peak_while_mining(encoder: SimCSE, texts: list[str], cache: Path) -> int:
    queries = [f"query {i} " + texts[i * 7] for i in range(QUERIES)]
    tracemalloc.start()
    try:
        mine(encoder, queries, [[i * 7] for i in range(QUERIES)], texts, MiningOptions(num_negatives=3, range_min=5),
             "wide", str(cache), batch_size=64, chunk_size=CHUNK, use_faiss=False, part_size=CHUNK)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_mining_memory_does_not_grow_with_the_corpus(encoder: SimCSE, tmp_path: Path, monkeypatch):
    widest = []
    topk = torch.topk

    def recording_topk(scores, *args, **kwargs):
        widest.append(scores.numel())
        return topk(scores, *args, **kwargs)

    small, large = corpus(600), corpus(2400)  # held before tracing: the caller's texts (simcse-mine: a TextIndex)
    peak_while_mining(encoder, corpus(200), tmp_path / "warm")  # first-call allocations (tokenizer, caches) out
    small_peak = peak_while_mining(encoder, small, tmp_path / "small")
    monkeypatch.setattr(torch, "topk", recording_topk)
    large_peak = peak_while_mining(encoder, large, tmp_path / "large")
    extra_vectors = (len(large) - len(small)) * WIDTH * 4  # 0.9 MB: what holding the corpus at once would add
    assert large_peak - small_peak < extra_vectors / 4, (small_peak, large_peak, extra_vectors)
    assert widest and max(widest) <= QUERIES * CHUNK, max(widest)
