"""The documents ``/search`` ranks: the ``--corpus`` file (one document a line), encoded once per model and
document prompt and kept, or documents pasted into a request, encoded for it. Ranking is cosine similarity, top-k
best first, as ``SimCSE.search`` ranks."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from simcse_pl.data.files import check_file
from simcse_pl.serving.limits import Limits, TooLarge


class Hit(NamedTuple):
    index: int
    text: str
    score: float


def read_corpus(path: str | Path, limits: Limits) -> list[str]:
    """The non-empty lines of ``path``; more than ``limits.max_corpus`` is refused at startup."""
    check_file(str(path), "--corpus")
    with open(path, encoding="utf-8") as f:
        documents = [line.strip() for line in f if line.strip()]
    if not documents:
        raise TooLarge(f"--corpus {path}: no documents (empty lines only)")
    limits.check_texts(f"--corpus {path}", documents, limits.max_corpus)
    return documents


def unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)


def top_k(query: np.ndarray, documents: np.ndarray, texts: list[str], k: int) -> list[Hit]:
    """The ``k`` documents most cosine-similar to ``query`` (one vector), best first."""
    scores = unit(documents) @ unit(query[None])[0]
    order = np.argsort(-scores, kind="stable")[: min(k, len(texts))]
    return [Hit(int(i), texts[int(i)], float(scores[i])) for i in order]
