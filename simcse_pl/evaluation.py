"""STS evaluation in the SimCSE protocol: cosine similarity of sentence vectors vs. human scores.

Scores are reported ×100 (Spearman is the headline, Pearson beside it), as in the paper's tables, and
mean the same thing in training logs, ``results.json`` and inference. Tasks own their data and statistics;
callers hand in embeddings of ``task.sentences`` (each unique sentence once).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import pearsonr, spearmanr
from torch import Tensor

from simcse_pl.sources import DataError, check_file, decode_line


@dataclass(frozen=True)
class STSTask:
    """Sentence pairs with gold similarity scores; ``sentences`` lists each distinct sentence once."""

    name: str
    pairs: list[tuple[str, str]] = field(repr=False)
    scores: np.ndarray = field(repr=False)

    @cached_property
    def sentences(self) -> list[str]:
        return list(dict.fromkeys(s for pair in self.pairs for s in pair))

    @cached_property
    def _pair_index(self) -> tuple[Tensor, Tensor]:
        position = {s: i for i, s in enumerate(self.sentences)}
        left = torch.tensor([position[a] for a, _ in self.pairs])
        right = torch.tensor([position[b] for _, b in self.pairs])
        return left, right

    def evaluate(self, embeddings: Tensor) -> dict[str, float]:
        """Spearman and Pearson (×100) of pair cosine similarities, given embeddings of ``sentences``."""
        left, right = self._pair_index
        embeddings = embeddings.float().cpu()
        cosine = F.cosine_similarity(embeddings[left], embeddings[right], dim=-1).numpy()
        return correlations(cosine, self.scores)


def correlations(predicted: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    return {
        "spearman": float(spearmanr(predicted, gold).statistic) * 100,
        "pearson": float(pearsonr(predicted, gold).statistic) * 100,
    }


def _normalize(sentence: str) -> str:
    """SentEval splits on whitespace and joins with one space; do the same so inputs match the paper."""
    return " ".join(sentence.split())


def load_stsb(data_dir: str, split: str = "test") -> STSTask:
    """STS Benchmark in SentEval's layout: ``stsb/sts-{split}.csv``, tab-separated, score in column 5."""
    path = check_file(os.path.join(data_dir, "stsb", f"sts-{split}.csv"), "paths.data_dir")
    pairs, scores = [], []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            line = decode_line(raw, path, lineno).rstrip("\r\n")
            if not line.strip():
                continue
            cols = line.split("\t")
            if len(cols) < 7:
                raise DataError(f"{path}:{lineno}: expected 7 tab-separated columns, found {len(cols)}")
            try:
                scores.append(float(cols[4]))
            except ValueError:
                raise DataError(f"{path}:{lineno}: score {cols[4]!r} is not a number") from None
            pairs.append((_normalize(cols[5]), _normalize(cols[6])))
    return STSTask("stsb", pairs, np.asarray(scores))


TASKS: dict[str, Callable[[str, str], STSTask]] = {"stsb": load_stsb}


def load_task(name: str, data_dir: str, split: str) -> STSTask:
    if name not in TASKS:
        raise ValueError(f"unknown STS task {name!r}; known: {', '.join(TASKS)}")
    return TASKS[name](data_dir, split)
