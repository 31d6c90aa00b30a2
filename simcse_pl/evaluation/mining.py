"""Hard-negative mining: for each query, the corpus documents a model ranks high that are not its positives.

The selection is sentence-transformers' ``util.mine_hard_negatives`` (v5/v6), step for step, so the same model and
options pick the same negatives (tests/unit/evaluation/test_mining_parity.py runs both):

1. each query's ``range_max + max positives + 1`` nearest documents by cosine (``search.top_k``); the query's own
   text, its positives and copies of either are never candidates;
2. ``absolute_margin`` m drops a candidate scoring ``> p − m``, ``relative_margin`` r one scoring ``> p − |p|·r``
   (= ``p·(1 − r)`` for p > 0), p being the query's *lowest* positive score (the safe side with several positives,
   as sentence-transformers); ``max_score`` drops candidates above it, ``min_score`` below it;
3. of the best ``range_max`` left, the first ``range_min`` are skipped; ``sampling_strategy="top"`` keeps the next
   ``num_negatives``, ``"random"`` draws them from the rest (seeded), best first.

``range_max`` defaults as there: ``range_min + num_negatives + max positives``, ×10 negatives when a margin or
``max_score`` may drop candidates. A query left with fewer than ``num_negatives`` gets no row (the row format
needs k negatives), and is counted. Negatives scoring above their own positive are counted and shown: at the top
of a model's ranking they are often unjudged positives (false negatives, RocketQA §4.2), which a margin or
``range_min`` skips.

Vectors come from any encoder with sentence-transformers' ``encode(texts, prompt=..., normalize_embeddings=...)``
(``SimCSE`` or a ``SentenceTransformer``), cached on disk (``embedding_cache.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from simcse_pl.data.samplers.no_duplicates import text_key
from simcse_pl.evaluation.embedding_cache import PART_SIZE, cache_key, cached_embeddings
from simcse_pl.evaluation.search import DEFAULT_CHUNK, faiss_available, top_k

STRATEGIES = ("top", "random")
FALSE_NEGATIVE_EXAMPLES = 3


@dataclass(frozen=True)
class MiningOptions:
    """sentence-transformers' ``mine_hard_negatives`` options of the same names."""

    num_negatives: int = 3
    range_min: int = 0
    range_max: int | None = None
    absolute_margin: float | None = None
    relative_margin: float | None = None
    max_score: float | None = None
    min_score: float | None = None
    sampling_strategy: str = "top"
    seed: int = 0

    def window(self, max_positives: int) -> int:
        """``range_max``, given or derived; a ``ValueError`` naming the option when the options cannot work."""
        if self.num_negatives < 1:
            raise ValueError(f"num_negatives={self.num_negatives}: must be at least 1")
        if self.sampling_strategy not in STRATEGIES:
            raise ValueError(f"sampling_strategy={self.sampling_strategy!r} is not one of {', '.join(STRATEGIES)}")
        if self.range_min < 0:
            raise ValueError(f"range_min={self.range_min}: must be >= 0")
        range_max = self.range_max
        if range_max is None:
            drops = any(v is not None for v in (self.absolute_margin, self.relative_margin, self.max_score))
            range_max = self.range_min + self.num_negatives * (10 if drops else 1) + max_positives
        if self.range_min >= range_max:
            raise ValueError(f"range_min={self.range_min} must be smaller than range_max={range_max}")
        if self.num_negatives > range_max - self.range_min:
            raise ValueError(f"num_negatives={self.num_negatives} > range_max - range_min = {range_max} - "
                             f"{self.range_min}: only {range_max - self.range_min} candidates per query to choose from")
        return range_max


def select_negatives(scores: Tensor, indices: Tensor, excluded: Tensor, lowest_positive: Tensor,
                     options: MiningOptions, range_max: int) -> tuple[Tensor, Tensor]:
    """``(document indices, scores)`` ``[Q, num_negatives]`` chosen from the candidates ``scores`` / ``indices``
    ``[Q, C]`` (best first); ``excluded`` ``[Q, C]`` marks positives and the query itself; ``-inf`` where a query
    has too few candidates left."""
    scores = scores.clone()
    scores[(indices == -1) | excluded] = -math.inf
    if options.absolute_margin is not None:
        scores[scores + options.absolute_margin > lowest_positive[:, None]] = -math.inf
    if options.relative_margin is not None:
        threshold = lowest_positive - lowest_positive.abs() * options.relative_margin
        scores[scores > threshold[:, None]] = -math.inf
    if options.max_score is not None:
        scores[scores > options.max_score] = -math.inf
    if options.min_score is not None:
        scores[(scores < options.min_score) & (scores != -math.inf)] = -math.inf
    chosen, local = torch.topk(scores, k=range_max, dim=1)
    chosen, picked = chosen[:, options.range_min :], indices.gather(1, local)[:, options.range_min :]
    k = options.num_negatives
    if options.sampling_strategy == "top":
        return picked[:, :k], chosen[:, :k]
    rng = np.random.default_rng(options.seed)
    finite = (chosen.shape[1] - chosen.isinf().sum(1)).clamp(min=k).tolist()
    rows = torch.tensor(np.stack([np.sort(rng.choice(n, size=k, replace=False)) for n in finite]))
    return picked.gather(1, rows), chosen.gather(1, rows)  # the candidates are sorted, so sorted rows stay best first


def describe(values: Sequence[float]) -> dict[str, float]:
    """Mean, spread and quartiles of a score distribution (empty: {})."""
    if not len(values):
        return {}
    v = np.asarray(values, dtype=np.float64)
    q = np.percentile(v, [0, 25, 50, 75, 100])
    return {"count": int(len(v)), "mean": float(v.mean()), "std": float(v.std()), "min": float(q[0]),
            "p25": float(q[1]), "median": float(q[2]), "p75": float(q[3]), "max": float(q[4])}


@dataclass
class MiningResult:
    """What was mined: per unique query its negatives (corpus positions, scores; ``-inf`` / ``-1`` when missing)
    and its positives' scores; ``statistics`` as written beside the rows."""

    queries: list[str]
    positives: list[list[int]]
    positive_scores: list[list[float]]
    negatives: Tensor
    negative_scores: Tensor
    statistics: dict[str, Any] = field(default_factory=dict)

    def complete(self, q: int) -> bool:
        return bool(torch.isfinite(self.negative_scores[q]).all())


def excluded_candidates(indices: Tensor, digests: np.ndarray, query_digests: list[int],
                        positives: list[list[int]]) -> Tensor:
    """``[Q, C]``: a candidate that is a positive of its query, the query's own text, or a copy (same text) of one of
    them or of a better candidate (a corpus with repeated texts would otherwise offer one text twice)."""
    out = torch.zeros(indices.shape, dtype=torch.bool)
    for q, row in enumerate(indices.tolist()):
        seen = {int(digests[p]) for p in positives[q]} | {query_digests[q]}
        for c, doc in enumerate(row):
            if doc < 0:
                continue
            key = int(digests[doc])
            out[q, c] = key in seen
            seen.add(key)
    return out


def mine(encoder: Any, queries: list[str], positives: list[list[int]], corpus: Sequence[str], options: MiningOptions,
         model: str, cache_dir: str, query_prompt: str = "", document_prompt: str = "", batch_size: int = 64,
         chunk_size: int = DEFAULT_CHUNK, use_faiss: bool | None = None,
         progress: Callable[[str, int], Callable[[int], None]] | None = None, part_size: int = PART_SIZE
         ) -> MiningResult:
    """Mine ``options.num_negatives`` negatives for each of ``queries`` (unique texts) from ``corpus`` (texts by
    position, e.g. a ``TextIndex``), never one of its ``positives`` (corpus positions). ``model`` keys the cache;
    ``progress(label, total)`` returns a callback of the count done. Memory is bounded by ``part_size`` texts
    encoded at a time and ``queries × chunk_size`` scores searched at a time, whatever the corpus size."""
    if not len(corpus):
        raise ValueError("the corpus is empty: nothing to mine from")
    bad = next((q for q, p in enumerate(positives) if not p), None)
    if bad is not None:
        raise ValueError(f"query {queries[bad]!r} has no positive document")
    range_max = options.window(max(len(p) for p in positives))

    def encode_with(prompt: str) -> Callable[[list[str]], np.ndarray]:
        return lambda texts: encoder.encode(texts, prompt=prompt or None, batch_size=batch_size,
                                            normalize_embeddings=True, convert_to_numpy=True)

    def report(label: str, total: int) -> Callable[[int], None] | None:
        return progress(label, total) if progress is not None else None

    documents = cached_embeddings(cache_dir, cache_key(model, document_prompt, corpus), corpus,
                                  encode_with(document_prompt), part_size, report("documents", len(corpus)))
    query_vectors = torch.from_numpy(np.array(cached_embeddings(
        cache_dir, cache_key(model, query_prompt, queries), queries, encode_with(query_prompt), part_size,
        report("queries", len(queries)))))
    scores, indices = top_k(query_vectors, documents, range_max + max(len(p) for p in positives) + 1, chunk_size,
                            use_faiss)
    positive_scores = [[float(query_vectors[q] @ torch.from_numpy(np.array(documents[p]))) for p in docs]
                       for q, docs in enumerate(positives)]
    digests = np.fromiter((text_key(corpus[i]) for i in range(len(corpus))), dtype=np.uint64, count=len(corpus))
    excluded = excluded_candidates(indices, digests, [text_key(q) for q in queries], positives)
    lowest = torch.tensor([min(s) for s in positive_scores], dtype=scores.dtype)
    negatives, negative_scores = select_negatives(scores, indices, excluded, lowest, options, range_max)
    result = MiningResult(queries, positives, positive_scores, negatives, negative_scores)
    result.statistics = statistics(result, corpus, options, range_max,
                                   faiss_available() if use_faiss is None else use_faiss)
    return result


def statistics(result: MiningResult, corpus: Sequence[str], options: MiningOptions, range_max: int,
               used_faiss: bool) -> dict[str, Any]:
    """Settings, score distributions, short queries and false-negative suspects (negatives above their positive)."""
    chosen = result.negative_scores[torch.isfinite(result.negative_scores)].tolist()
    suspects = []
    for q, scores in enumerate(result.positive_scores):
        for doc, score in zip(result.negatives[q].tolist(), result.negative_scores[q].tolist(), strict=True):
            if math.isfinite(score) and score > min(scores):
                suspects.append((score - min(scores), q, doc, score, min(scores)))
    suspects.sort(reverse=True)
    rows = sum(len(p) for q, p in enumerate(result.positives) if result.complete(q))
    return {
        "settings": {**asdict(options), "range_max": range_max, "search": "faiss" if used_faiss else "torch (chunked)"},
        "queries": len(result.queries),
        "pairs": sum(len(p) for p in result.positives),
        "documents": len(corpus),
        "rows_written": rows,
        "queries_short_of_negatives": sum(not result.complete(q) for q in range(len(result.queries))),
        "positive_scores": describe([s for scores in result.positive_scores for s in scores]),
        "negative_scores": describe(chosen),
        "negatives_above_their_positive": len(suspects),
        "false_negative_examples": [
            {"query": result.queries[q], "negative": corpus[doc][:200], "negative_score": round(s, 4),
             "lowest_positive_score": round(p, 4)} for _, q, doc, s, p in suspects[:FALSE_NEGATIVE_EXAMPLES]
        ],
    }
