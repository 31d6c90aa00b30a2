"""Exact top-k search of unit vectors by inner product (= cosine): faiss's flat index when installed, else torch.

The torch path reads the corpus in chunks of ``chunk_size`` rows (a memory-mapped ``.npy`` is never loaded whole):
each chunk's scores are cut to their own top k and merged with the best so far, so memory is
``queries × chunk_size`` scores plus the running top k, whatever the corpus size. faiss's ``IndexFlatIP`` holds
every vector in memory and is faster for large query sets. Both are exact; equal scores may come in either order.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import torch
from torch import Tensor

DEFAULT_CHUNK = 16384


def faiss_available() -> bool:
    return importlib.util.find_spec("faiss") is not None


def top_k(queries: Tensor, documents: np.ndarray, k: int, chunk_size: int = DEFAULT_CHUNK,
          use_faiss: bool | None = None) -> tuple[Tensor, Tensor]:
    """``(scores, indices)`` ``[Q, k]``, best first, of ``queries`` ``[Q, d]`` against ``documents`` ``[N, d]``;
    when ``N < k`` the missing places are ``-inf`` / ``-1`` (as sentence-transformers pads them).
    ``use_faiss``: None = when installed."""
    use_faiss = faiss_available() if use_faiss is None else use_faiss
    found = min(k, len(documents))
    if use_faiss:
        scores, indices = _faiss_top_k(queries, documents, found, chunk_size)
    else:
        scores, indices = _chunked_top_k(queries, documents, found, chunk_size)
    if found < k:
        scores = torch.cat([scores, scores.new_full((len(scores), k - found), -float("inf"))], dim=1)
        indices = torch.cat([indices, indices.new_full((len(indices), k - found), -1)], dim=1)
    return scores, indices


def _chunked_top_k(queries: Tensor, documents: np.ndarray, k: int, chunk_size: int) -> tuple[Tensor, Tensor]:
    best_scores = queries.new_full((len(queries), 0), -float("inf"))
    best_indices = torch.zeros((len(queries), 0), dtype=torch.long)
    for start in range(0, len(documents), chunk_size):
        chunk = torch.from_numpy(np.array(documents[start : start + chunk_size], dtype=np.float32))  # a writable copy
        scores, local = torch.topk(queries @ chunk.T, k=min(k, len(chunk)), dim=1)
        merged = torch.cat([best_scores, scores], dim=1)
        merged_indices = torch.cat([best_indices, local + start], dim=1)
        best_scores, order = torch.topk(merged, k=min(k, merged.shape[1]), dim=1)
        best_indices = merged_indices.gather(1, order)
    return best_scores, best_indices


def _faiss_top_k(queries: Tensor, documents: np.ndarray, k: int, chunk_size: int) -> tuple[Tensor, Tensor]:
    import faiss

    index = faiss.IndexFlatIP(documents.shape[1])
    for start in range(0, len(documents), chunk_size):
        index.add(np.ascontiguousarray(documents[start : start + chunk_size], dtype=np.float32))
    scores, indices = index.search(queries.numpy().astype(np.float32), k)
    return torch.from_numpy(scores), torch.from_numpy(indices).long()
