"""The training step, top to bottom: views -> encode (GradCache) -> gather (DDP) -> objective (+ auxiliaries).

A batch holds token ids ``[B, S, L]`` (``S`` sentences per example) and, for labelled pairs, ``labels`` ``[B]``.
A single sentence per example (``S = 1``, unsupervised SimCSE) is encoded twice: the two dropout masks make its
positive pair (the "dropout view"); a data view (word repetition) or a dataset (NLI triplets, scored pairs)
brings its own columns. Gathering and GradCache are properties of the step, not of any objective
(``step.gather``, ``step.mini_batch_size``), so every objective gets them. The step knows nothing of Lightning:
the module hands it the encoder, the objectives and the gather.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from simcse_pl.encoders.sentence_encoder import SentenceEncoder
from simcse_pl.losses.base import Auxiliary, Gather, Objective, StepState
from simcse_pl.training.gradcache import cached_embed

TOKEN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def encode_views(encoder: SentenceEncoder, batch: dict[str, Tensor], mini_batch_size: int | None) -> Tensor:
    """``[B, S, L]`` token ids -> ``[B, S', d]`` vectors; a single sentence is encoded twice (``S' = 2``).

    With ``mini_batch_size`` K (GradCache), the encoder runs on K inputs at a time without keeping their
    activations and re-encodes each chunk, with the same dropout masks, when the gradient reaches it."""
    ids = batch["input_ids"]
    views = 2 if ids.shape[1] == 1 else ids.shape[1]
    flat = {
        k: (v.expand(-1, views, -1) if v.shape[1] == 1 else v).reshape(-1, v.shape[-1])
        for k, v in batch.items()
        if k in TOKEN_INPUTS
    }
    if encoder.reads_columns:  # a prompt's second template is for columns >= 1 (PromptBERT)
        flat["column"] = torch.arange(views, device=ids.device).repeat(ids.shape[0])
    if mini_batch_size and mini_batch_size < flat["input_ids"].shape[0] and torch.is_grad_enabled():
        return cached_embed(encoder, flat, mini_batch_size).view(ids.shape[0], views, -1)
    return encoder(**flat).view(ids.shape[0], views, -1)


def training_step(
    encoder: SentenceEncoder,
    objective: Objective,
    auxiliaries: Mapping[str, Auxiliary] | nn.ModuleDict,
    batch: dict[str, Tensor],
    step: int,
    mini_batch_size: int | None = None,
    gather: Gather | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """The step's loss, and each part of it by name (``loss`` for the objective, one per auxiliary).

    ``gather`` (under DDP, ``step.gather``) widens the objective's batch to every process's examples."""
    labels = batch.get("labels")
    z = encode_views(encoder, batch, mini_batch_size)
    everyone, all_labels, rows, weight = z, labels, None, 1.0
    if gather is not None:
        everyone, all_labels, rows, weight = gather(z, labels)
    loss = objective(everyone, all_labels, rows)
    if objective.per_anchor:
        loss = weight * loss
    parts = {"loss": loss}
    total = loss
    state = StepState(batch=batch, z=z, encoder=encoder, objective=objective, step=step, gather=gather)
    for name, auxiliary in auxiliaries.items():
        parts[name] = auxiliary(state)
        total = total + auxiliary.weight * parts[name]
    return total, parts
