"""AnglE: CoSENT on the cosine, an in-batch contrastive term, and CoSENT on the angle difference in complex space."""

from __future__ import annotations

from typing import Annotated

import torch
import torch.nn.functional as F
from torch import Tensor

from simcse_pl.checks import at_least, finite, greater
from simcse_pl.losses.base import Objective, cosine_matrix, pair_cosines, require_labels
from simcse_pl.losses.cosent import Ranking, pairs_of, ranking_loss


def angle_similarity(u: Tensor, v: Tensor) -> Tensor:
    """AnglE's similarity of each pair ``(u_i, v_i)``, in at least float32.

    Each vector is read as a complex one: its first half the real parts, its second half the imaginary parts
    (``u = a + ib``, ``v = c + id``; an odd dimension gets a zero appended). The quotient ``u / v`` normalised by
    ``|u| |v|`` has, summed over dimensions, real part ``Σ(ac + bd) / (|u||v|) = cos(u, v)`` and imaginary part
    ``Σ(bc − ad) / (|u||v|)``; the similarity is ``|Re + Im|`` (the released AnglE code's ``angle_loss`` with
    ``pooling_strategy="sum"``, and sentence-transformers' ``pairwise_angle_sim``)."""
    dtype = torch.promote_types(u.dtype, torch.float32)
    with torch.autocast(u.device.type, enabled=False):
        u, v = u.to(dtype), v.to(dtype)
        if u.shape[-1] % 2:
            u, v = F.pad(u, (0, 1)), F.pad(v, (0, 1))
        a, b = u.chunk(2, dim=-1)
        c, d = v.chunk(2, dim=-1)
        norms = u.norm(dim=-1) * v.norm(dim=-1)
        real = (a * c + b * d).sum(-1) / norms
        imaginary = (b * c - a * d).sum(-1) / norms
        return (real + imaginary).abs()


def in_batch_negatives(u: Tensor, v: Tensor, positive: Tensor, scale: float) -> Tensor:
    """InfoNCE over the ``2N`` sentences of the batch for the sentences of positive pairs: sentence ``k`` of a
    positive pair against every other sentence of the batch (both columns, itself left out), its partner the
    target; summed over those sentences and divided by ``2N`` (the released code's mean over all rows)."""
    everyone = torch.cat([u, v])
    n = u.shape[0]
    logits = scale * cosine_matrix(everyone, everyone)
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=logits.device), float("-inf"))
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(logits.device)
    per_sentence = F.cross_entropy(logits, partner, reduction="none")
    return (per_sentence * torch.cat([positive, positive]).to(per_sentence.dtype)).sum() / (2 * n)


class AnglE(Ranking, Objective):
    r"""AnglE (Li & Li 2024, "AnglE-optimized Text Embeddings", ACL 2024, arXiv:2309.12871): three terms on scored
    pairs ``(u_i, v_i) = (z[i, 0], z[i, 1])`` with gold scores ``y_i``:

        L = w_cos · L_cos + w_ibn · L_ibn + w_angle · L_angle

    - ``L_cos``: CoSENT on the cosine, ``log(1 + Σ_{y_i > y_j} exp(λ_cos (cos_j − cos_i)))`` (simcse_pl/losses/cosent.py).
    - ``L_ibn``: in-batch negatives for the positive pairs (``y_i >= positive_threshold``): each of their
      sentences against all ``2N − 1`` other sentences of the batch, the partner the target,
      ``Σ_{k ∈ positive pairs' sentences} −log softmax_{l ≠ k}(λ_ibn cos(x_k, x_l))[partner(k)] / 2N``.
    - ``L_angle``: CoSENT on the angle similarity instead of the cosine: the pair's vectors as complex vectors
      (first half real, second half imaginary), ``s_i = |Re + Im|`` of their quotient normalised by the norms
      (``angle_similarity``), ``log(1 + Σ_{y_i > y_j} exp(λ_angle (s_j − s_i)))``. The paper writes this term
      with the angle difference Δθ; its released code, followed here as sentence-transformers does, ranks ``s``
      as a similarity.

    Defaults are the paper's, as its released training code (``train_angle.py`` / ``AngleLoss`` of angle_emb at
    publication) sets them: ``w_cos = w_ibn = w_angle = 1``, ``λ_cos = λ_ibn = 20`` (τ = 0.05), ``λ_angle = 1``.
    ``positive_threshold = 1`` selects what that code's ``int(label) != 0`` selects for labels ≥ 0: the 1s of
    binary labels, and STS-B scores ≥ 1 on the raw 0-5 scale (on scores normalised to [0, 1], only the top score;
    set it to suit the scale). Two departures from that code: its target matrix multiplies each sentence's index
    by its integer label, which also marks unrelated sentences as targets when the products coincide (not
    reproduced: only the partner is the target); and an odd dimension is padded with a zero (the code fails).
    Later angle_emb versions train with other weights (``cosine_w=0, ibn_w=1, angle_w=0.02, angle_tau=20``), and
    sentence-transformers' ``AnglELoss`` is the angle term alone with ``λ = 20``: both are settings of this class
    (``cosine_weight=0 ibn_weight=0 angle_scale=20`` gives the latter).

    One value for the whole batch (``per_anchor=False``): every term compares pairs or sentences across the batch,
    so under DDP each process computes it on the gathered global batch and ignores ``rows``.

    When to use: scored pairs (``data=pairs``) where the cosine saturates (many pairs near ±1), and binary-labelled
    pair data where the positives can also serve as in-batch contrastive pairs. Needs labels.
    """

    per_anchor = False
    needs_labels = True
    loss_name = "angle"

    def __init__(
        self,
        cosine_weight: Annotated[float, at_least(0)] = 1.0,
        ibn_weight: Annotated[float, at_least(0)] = 1.0,
        angle_weight: Annotated[float, at_least(0)] = 1.0,
        cosine_scale: Annotated[float, greater(0)] = 20.0,
        ibn_scale: Annotated[float, greater(0)] = 20.0,
        angle_scale: Annotated[float, greater(0)] = 1.0,
        positive_threshold: Annotated[float, finite()] = 1.0,
    ) -> None:
        super().__init__()
        self.cosine_weight = float(cosine_weight)
        self.ibn_weight = float(ibn_weight)
        self.angle_weight = float(angle_weight)
        self.cosine_scale = float(cosine_scale)
        self.ibn_scale = float(ibn_scale)
        self.angle_scale = float(angle_scale)
        self.positive_threshold = float(positive_threshold)
        if not (self.cosine_weight or self.ibn_weight or self.angle_weight):
            raise ValueError("loss=angle: cosine_weight, ibn_weight and angle_weight are all 0; give one a weight")

    def learns_from_equal_labels(self, value: float) -> bool:
        """With one label for every pair the two ranking terms are empty; the in-batch term still learns when it
        has a weight and that label makes every pair a positive."""
        return bool(self.ibn_weight) and value >= self.positive_threshold

    def terms(self, z: Tensor, labels: Tensor, every: bool = True) -> dict[str, Tensor]:
        """The unweighted terms by name: all three, or (``every=False``) those with a weight."""
        u, v = pairs_of(z, "angle")
        terms = {}
        if every or self.cosine_weight:
            terms["cosine"] = ranking_loss(pair_cosines(u, v), labels, self.cosine_scale)
        if every or self.ibn_weight:
            terms["ibn"] = in_batch_negatives(u, v, labels >= self.positive_threshold, self.ibn_scale)
        if every or self.angle_weight:
            terms["angle"] = ranking_loss(angle_similarity(u, v), labels, self.angle_scale)
        return terms

    def forward(self, z: Tensor, labels: Tensor | None = None, rows: slice | None = None) -> Tensor:
        labels = require_labels(labels, "angle")
        if self.cosine_weight or self.angle_weight:
            self.warn_if_unranked(labels)
        weights = {"cosine": self.cosine_weight, "ibn": self.ibn_weight, "angle": self.angle_weight}
        terms = self.terms(z, labels, every=False)
        return torch.stack([weights[name] * value for name, value in terms.items()]).sum()
