"""CoSENT: a ranking loss over the scored pairs of a batch.

A ranking loss learns only from pairs of examples whose labels differ: a batch whose labels are all equal gives
loss 0 and no gradient, which looks like a converged run. ``Ranking`` warns once when that happens, and
``refuse_unranked_data`` stops a run whose whole training file has one score before it trains.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sized
from typing import Annotated

import numpy as np
import torch
from torch import Tensor, nn

from simcse_pl.checks import greater
from simcse_pl.losses.base import Objective, pair_cosines, require_labels
from simcse_pl.errors import DataError


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


def has_order(labels: Tensor) -> bool:
    """Whether two labels of the batch differ, i.e. the ranking loss has at least one ordered pair to learn from.
    (A host sync: ``Ranking`` asks only until it has warned.)"""
    return labels.numel() > 1 and bool((labels != labels.reshape(-1)[0]).any())


class Ranking:
    """What an objective built on ``ranking_loss`` adds (a mixin, so it is no objective of its own to register):
    it warns, once per instance, about a batch with no ordered pair, and says whether one value for every label
    still teaches it anything (``learns_from_equal_labels``)."""

    loss_name = "ranking"
    warned_unranked = False

    def learns_from_equal_labels(self, value: float) -> bool:
        """Whether training data whose every label is ``value`` still gives a loss with a gradient (CoSENT: never)."""
        return False

    def warn_if_unranked(self, labels: Tensor) -> None:
        """One warning, the first time a batch has all-equal labels: its ranking loss is exactly 0."""
        if self.warned_unranked or has_order(labels):
            return
        self.warned_unranked = True
        value = float(labels.reshape(-1)[0]) if labels.numel() else float("nan")
        warnings.warn(
            f"loss={self.loss_name}: a batch of {labels.numel()} labelled pairs whose labels are all {value:g}: "
            "the ranking loss learns only from pairs with different labels, so this batch's ranking loss is 0 and "
            "nothing is learned from it; give the training data (data.source) varied scores, shuffled (warned once)",
            stacklevel=3,
        )


def refuse_unranked_data(objectives: Iterable[nn.Module], source: object) -> None:
    """Before training: a training source whose every score is the same, used by a ranking objective that learns
    nothing from that, is a ``DataError`` naming the file (every step would log loss 0.0 and change nothing).
    ``objectives``: the loss and the auxiliary objectives (those inside them are found too)."""
    scores = getattr(source, "scores", None)
    if not isinstance(scores, Sized) or len(scores) == 0:
        return
    values = np.asarray(scores, dtype=np.float64)
    if bool((values != values[0]).any()):
        return
    value = float(values[0])
    for objective in objectives:
        for module in objective.modules():
            if isinstance(module, Ranking) and not module.learns_from_equal_labels(value):
                raise DataError(
                    f"{getattr(source, 'path', 'data.source')}: every score is {value:g}, so "
                    f"loss={module.loss_name} has no ordered pair to rank and would learn nothing (loss 0 at every "
                    "step); train on pairs with different scores (graded scores, or both labels)"
                )


class CoSENT(Ranking, Objective):
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
    loss_name = "cosent"

    def __init__(self, scale: Annotated[float, greater(0)] = 20.0) -> None:
        super().__init__()
        self.scale = float(scale)

    def forward(self, z: Tensor, labels: Tensor | None = None, rows: slice | None = None) -> Tensor:
        labels = require_labels(labels, "cosent")
        self.warn_if_unranked(labels)
        u, v = pairs_of(z, "cosent")
        return ranking_loss(pair_cosines(u, v), labels, self.scale)
