"""Matryoshka: any objective summed over truncated prefixes of the sentence vectors."""

from __future__ import annotations

import logging
from typing import Annotated

from torch import Tensor

from simcse_pl.checks import Check, at_least, each, optional
from simcse_pl.losses.base import Objective

log = logging.getLogger(__name__)


def _descending_sizes(value: object) -> bool:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        return False
    sizes = list(value)  # type: ignore[call-overload]
    return (
        bool(sizes)
        and all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in sizes)
        and all(a > b for a, b in zip(sizes, sizes[1:]))
    )


DESCENDING_SIZES = Check(_descending_sizes, "a non-empty, strictly descending list of positive integers")


class Matryoshka(Objective):
    r"""Matryoshka Representation Learning (Kusupati et al. 2022, "Matryoshka Representation Learning", eq. 1):
    the ``inner`` objective applied to the first ``d_k`` coordinates of every sentence vector, for each size of
    ``dims``, weighted and summed:

        L(z, labels, rows) = Σ_k  w_k · inner(z[..., :d_k], labels, rows)

    ``dims`` is strictly descending and each ``d_k`` at most the vector size (checked at the first step, when the
    model's size is known); put the full size first to keep training every coordinate (a warning says when it is
    not). ``weights`` default to 1 (the paper's choice). Each prefix is its own embedding: a cosine objective
    normalises the prefix itself, so ``z[..., :64]`` is trained to be a good 64-dimensional vector on its own.
    ``per_anchor`` is the inner objective's: a sum of per-anchor means is a per-anchor mean.

    When to use: to get one model whose vectors can be cut to the first ``k`` coordinates (smaller index, faster
    search) with little loss at the trained sizes: ``SimCSE.encode(..., truncate_dim=k)``, ``simcse-eval --dim k`` and
    ``SentenceTransformer(<export>, truncate_dim=k)``. Any objective can be wrapped: InfoNCE (unsupervised or
    supervised SimCSE), a scored-pair loss (CoSENT) … chosen with ``loss@loss.inner=<name>``.
    """

    def __init__(
        self,
        inner: Objective,
        dims: Annotated[list[int], DESCENDING_SIZES],
        weights: Annotated[list[float] | None, optional(each(at_least(0)))] = None,
    ) -> None:
        super().__init__()
        if not isinstance(inner, Objective):
            raise ValueError(f"loss.inner: {type(inner).__name__} is not an objective (simcse_pl.losses.Objective)")
        dims = [int(d) for d in dims]
        if not DESCENDING_SIZES(dims):
            raise ValueError(f"loss.dims={dims}: must be {DESCENDING_SIZES.allowed}")
        weights = [1.0] * len(dims) if weights is None else [float(w) for w in weights]
        if len(weights) != len(dims):
            raise ValueError(f"loss.weights={weights}: needs one weight per size of loss.dims={dims} ({len(dims)})")
        self.inner = inner
        self.dims = dims
        self.weights = weights
        self._checked_size: int | None = None

    @property
    def per_anchor(self) -> bool:  # type: ignore[override]
        return self.inner.per_anchor

    def _check_size(self, size: int) -> None:
        if self._checked_size == size:
            return
        if self.dims[0] > size:
            raise ValueError(
                f"loss.dims={self.dims}: {self.dims[0]} is larger than the model's sentence vectors ({size} dims); "
                f"use sizes <= {size}"
            )
        if self.dims[0] < size:
            log.warning("loss.dims=%s: the last %d of the %d coordinates are not trained (put %d first to train them)",
                        self.dims, size - self.dims[0], size, size)
        self._checked_size = size

    def forward(self, z: Tensor, labels: Tensor | None = None, rows: slice | None = None) -> Tensor:
        self._check_size(z.shape[-1])
        total: Tensor | None = None
        for dim, weight in zip(self.dims, self.weights, strict=True):
            term = weight * self.inner(z[..., :dim], labels, rows)
            total = term if total is None else total + term
        assert total is not None
        return total
