"""ESimCSE's momentum contrast (Wu et al. 2022, §3.2): negatives from a queue of earlier batches, encoded by a
momentum (EMA) copy of the encoder; ``loss=infonce`` + ``auxiliary=[momentum_queue]`` is the paper's objective."""

from __future__ import annotations

import copy
import logging
from typing import Annotated

import torch
from torch import Tensor, nn

from simcse_pl.checks import at_least, between
from simcse_pl.encoders.sentence_encoder import SentenceEncoder
from simcse_pl.losses.base import Auxiliary, StepState, Trainee, anchor_index, cosine_matrix

log = logging.getLogger(__name__)

TOKEN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class MomentumQueue(Auxiliary):
    r"""Queue negatives from a momentum encoder, as the term that turns InfoNCE into ESimCSE's loss (eq. 5).

    The paper scores each anchor against its positive, the in-batch negatives *and* the ``M`` vectors of a
    queue, in one denominator::

        ℓ_i = −log  e^{s(h_i, h_i⁺)/τ} / ( Σ_j e^{s(h_i, h_j⁺)/τ} + Σ_{m∈M} e^{s(h_i, h_m)/τ} )

    The queue does not *replace* InfoNCE: it widens InfoNCE's denominator. With ``L_i·`` the logits the main
    objective gives anchor ``i`` (``loss=infonce``: positives, hard negatives, …; over the global batch under
    DDP) and ``q_im = s(h_i, h_m)/τ``, this auxiliary is the difference::

        a_i = logsumexp(L_i· ∪ q_i·) − logsumexp(L_i·) = log(1 + Σ_m e^{q_im} / Σ_j e^{L_ij})   (≥ 0)

    so ``loss + weight · mean_i a_i`` is the paper's ℓ exactly at ``weight`` 1 (the default), and weights it
    less or more otherwise; ``τ`` is the objective's. With ``decoupled`` InfoNCE the positive leaves both sums;
    with ``symmetric`` the term is averaged over both directions, as the objective is. Only the anchors get
    gradients (the queue is constant).

    The momentum encoder is a copy of the module's encoder and pooler made when it is attached, never trained
    (``requires_grad`` off, so not in the optimizer), and moved towards the trained weights once per optimizer
    step, before the step's queue vectors are computed (MoCo, He et al. 2020; the paper's code does it in the
    forward pass)::

        θ_m ← momentum · θ_m + (1 − momentum) · θ

    The queue holds the momentum encoder's vectors of the last ``queue_size`` anchors (column 0: the original
    sentence), without dropout (the paper's code encodes them in eval mode) and through the same pooler path as
    in training (the MLP head included when training uses it). Each step first scores against the queue as it
    stands (empty on the first step: the term is 0), then adds its own batch, dropping the oldest (FIFO).
    Under DDP the vectors of every process enter the queue, so all processes hold the same one. The paper's
    code starts an empty queue every epoch; here it carries on across epochs (a full queue from the first
    step of each epoch), the simpler state to checkpoint.

    The momentum encoder, the queue and the step of the last update are parameters and buffers of this module
    (``auxiliaries.momentum_queue.*`` in the checkpoint), so ``ckpt_path=last`` resumes them exactly. The export
    keeps the trained encoder only.

    Defaults: ``momentum`` 0.995 (the paper's); ``queue_size`` 160 = 2.5 × the batch of 64, the queue-to-batch
    ratio the paper's queue-size study settles on (PaddleNLP's ESimCSE uses the same 160 for batch 64; the
    official code's ``--neg_size`` argument defaults to 256): scale it with ``data.batch_size``. When to use:
    unsupervised SimCSE with ``data/views=word_repetition`` (ESimCSE); it also widens the negatives of plain or
    supervised SimCSE.
    """

    sized_by = {"queue": "auxiliary.momentum_queue.queue_size"}  # named when a checkpoint's queue differs in size

    def __init__(
        self,
        weight: Annotated[float, at_least(0)] = 1.0,
        momentum: Annotated[float, between(0, 1)] = 0.995,
        queue_size: Annotated[int, at_least(1)] = 160,
    ) -> None:
        super().__init__(weight)
        self.momentum = float(momentum)
        self.queue_size = int(queue_size)
        self.encoder: nn.Module | None = None
        self.pooler: nn.Module | None = None
        self.momentum_encoder: SentenceEncoder | None = None  # the two above with the live one's tokenizer and prompt
        self.register_buffer("queue", torch.zeros(self.queue_size, 0))  # [queue_size, d]: oldest first
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))  # valid rows: the last `filled`
        self.register_buffer("updated_at", torch.zeros((), dtype=torch.long))  # global step of the last EMA update

    def attach(self, trainee: Trainee) -> None:
        """Copy the encoder and pooler (the momentum encoder starts equal to the encoder); size the queue."""
        objective, live = trainee.objective, trainee.sentence_encoder
        if not (hasattr(objective, "logits") and hasattr(objective, "tau")):
            raise ValueError(
                f"auxiliary=[momentum_queue] widens InfoNCE's denominator, but loss is {type(objective).__name__}: "
                "use loss=infonce (or infonce_hard_negatives)"
            )
        self.encoder = copy.deepcopy(live.encoder).requires_grad_(False)
        self.pooler = copy.deepcopy(live.pooler).requires_grad_(False)
        # not a registered child: its modules are the two above (checkpoint keys encoder.* / pooler.*)
        self.__dict__["momentum_encoder"] = live.with_modules(self.encoder, self.pooler)
        self.queue = torch.zeros(self.queue_size, live.hidden_size)

    @property
    def keys(self) -> Tensor:
        """The queue's valid vectors ``[M, d]``, oldest first."""
        return self.queue[self.queue_size - int(self.filled) :]

    @torch.no_grad()
    def update(self, encoder: nn.Module, pooler: nn.Module) -> None:
        """One EMA step of the momentum encoder towards ``encoder`` / ``pooler``: ``θ_m ← m θ_m + (1 − m) θ``."""
        assert self.encoder is not None and self.pooler is not None, "attach() first"
        for own, live in ((self.encoder, encoder), (self.pooler, pooler)):
            for mine, theirs in zip(own.parameters(), live.parameters(), strict=True):
                mine.mul_(self.momentum).add_(theirs.detach().to(mine.dtype), alpha=1.0 - self.momentum)
            for mine, theirs in zip(own.buffers(), live.buffers(), strict=True):
                mine.copy_(theirs)

    @torch.no_grad()
    def enqueue(self, vectors: Tensor) -> None:
        """Add ``[k, d]`` vectors as the newest; the oldest leave once ``queue_size`` are held (FIFO)."""
        vectors = vectors.detach().to(self.queue.dtype)
        self.queue = torch.cat([self.queue, vectors])[-self.queue_size :]  # a new tensor: the step's graph keeps the old
        self.filled = torch.clamp(self.filled + vectors.shape[0], max=self.queue_size)

    @torch.no_grad()
    def momentum_vectors(self, batch: dict[str, Tensor], live_pooler: nn.Module) -> Tensor:
        """The momentum encoder's vectors ``[B, d]`` of column 0 (the anchors' sentences), without dropout; the
        pooler takes the path it takes in training (the MLP head of ``cls`` + ``mlp_only_train`` included)."""
        assert self.encoder is not None and self.pooler is not None and self.momentum_encoder, "attach() first"
        self.encoder.eval()
        self.pooler.train(live_pooler.training)
        inputs = {k: v[:, 0] for k, v in batch.items() if k in TOKEN_INPUTS}
        return self.momentum_encoder(**inputs)

    def queue_term(self, objective: nn.Module, z: Tensor, rows: slice | None = None) -> Tensor:
        """``mean_i a_i`` over the anchors ``rows`` of ``z`` ``[N, S, d]`` against the current queue."""
        keys = self.keys
        if keys.shape[0] == 0:
            return z.new_zeros(())
        directions = [(z[:, 0], z[:, 1], z[:, 2] if z.shape[1] > 2 else None)]
        if getattr(objective, "symmetric", False):
            directions.append((z[:, 1], z[:, 0], None))
        terms = []
        for anchors, positives, hard in directions:
            logits = objective.logits(anchors, positives, hard, rows)
            index = anchor_index(anchors.shape[0], rows, anchors.device)
            if getattr(objective, "decoupled", False):
                logits = logits.scatter(1, index[:, None], float("-inf"))
            queued = cosine_matrix(anchors[index], keys.to(anchors.device)) / objective.tau
            both = torch.cat([logits, queued.to(logits.dtype)], dim=1)
            terms.append((torch.logsumexp(both, dim=1) - torch.logsumexp(logits, dim=1)).mean())
        return sum(terms) / len(terms)

    def forward(self, state: StepState) -> Tensor:
        if state.step > int(self.updated_at):  # once per optimizer step (micro-batches of one step share it)
            self.update(state.encoder.encoder, state.encoder.pooler)
            self.updated_at.fill_(state.step)
        z, rows, share = state.z, None, 1.0
        if state.gather is not None:
            z, _, rows, share = state.gather(z, None)
        loss = share * self.queue_term(state.objective, z, rows)
        vectors = self.momentum_vectors(state.batch, state.encoder.pooler)
        if state.gather is not None:
            with torch.no_grad():
                vectors = state.gather(vectors, None)[0]
        self.enqueue(vectors)
        return loss
