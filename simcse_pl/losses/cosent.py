"""CoSENT: a ranking loss over the scored pairs of a batch."""

from __future__ import annotations

from typing import Annotated

import torch
from torch import Tensor

from simcse_pl.checks import greater
from simcse_pl.losses.base import Objective, pair_cosines, require_labels


def pairs_of(z: Tensor, name: str) -> tuple[Tensor, Tensor]:
    """The two sentence vectors of each example, ``z[:, 0]`` and ``z[:, 1]``; anything but pairs is an error."""
    if z.shape[1] != 2:
        raise ValueError(f"loss={name} scores sentence pairs: each example must have 2 sentences, not {z.shape[1]}")
    return z[:, 0], z[:, 1]


def ranking_loss(scores: Tensor, labels: Tensor, scale: float) -> Tensor:
    """``log(1 + Σ_{(i, j): y_i > y_j} exp(scale · (s_j − s_i)))``: every pair of examples whose gold order the
    scores ``s`` contradict adds to the loss. Ties in ``y`` are no constraint. Computed in one ``logsumexp`` over
    the ``N × N`` differences with the other terms masked to −∞ (N is a batch, so N² is small)."""
    differences = scale * (scores[None, :] - scores[:, None])  # [i, j] = scale · (s_j − s_i)
    ordered = labels[:, None] > labels[None, :]  # y_i > y_j
    terms = differences.masked_fill(~ordered, float("-inf")).flatten()
    return torch.logsumexp(torch.cat([terms.new_zeros(1), terms]), dim=0)


class CoSENT(Objective):
    r"""CoSENT (Su Jianlin 2022, "CoSENT: a more efficient sentence vector scheme than Sentence-BERT",
    https://kexue.fm/archives/8847): a ranking loss on the cosine similarity of scored pairs.

    Each example is a pair ``(u_i, v_i) = (z[i, 0], z[i, 1])`` with a gold score ``y_i``; ``cos_i = cos(u_i, v_i)``.
    For every two pairs of the batch whose gold scores are ordered ``y_i > y_j``, the more similar pair should have
    the higher cosine:

        L = log( 1 + Σ_{(i, j): y_i > y_j} exp( λ (cos_j − cos_i) ) ),   λ = ``scale`` (20 in the paper, = 1/0.05)

    Only the order of the scores matters (any increasing rescaling of ``y`` gives the same loss), and ties add
    nothing. This is sentence-transformers' ``CoSENTLoss`` with its default ``scale=20``.

    The loss compares every pair with every other, so it is one value for the whole batch (``per_anchor=False``):
    under DDP every process computes it on the gathered global batch and ignores ``rows``.

    When to use: sentence pairs with graded similarity scores (STS-B, SICK-R, Chinese STS sets) or binary labels
    (paraphrase / not), ``data=pairs``. Needs labels.
    """

    per_anchor = False
    needs_labels = True

    def __init__(self, scale: Annotated[float, greater(0)] = 20.0) -> None:
        super().__init__()
        self.scale = float(scale)

    def forward(self, z: Tensor, labels: Tensor | None = None, rows: slice | None = None) -> Tensor:
        labels = require_labels(labels, "cosent")
        u, v = pairs_of(z, "cosent")
        return ranking_loss(pair_cosines(u, v), labels, self.scale)
