"""The training step, top to bottom: views -> encode (GradCache) -> gather (DDP) -> objective (+ auxiliaries).

A batch holds token ids ``[B, S, L]`` (``S`` sentences per example) and, for labelled pairs, ``labels`` ``[B]``.
A single sentence per example (``S = 1``, unsupervised SimCSE) is encoded twice: the two dropout masks make its
positive pair (the "dropout view"); a data view (word repetition) or a dataset (NLI triplets, scored pairs)
brings its own columns. Gathering and GradCache are properties of the step, not of any objective
(``step.gather``, ``step.mini_batch_size``), so every objective gets them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from simcse_pl.distributed import gather_batch
from simcse_pl.gradcache import cached_embed
from simcse_pl.losses.base import StepState

if TYPE_CHECKING:
    from simcse_pl.module import SimCSEModule

TOKEN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def encode_views(module: SimCSEModule, batch: dict[str, Tensor], mini_batch_size: int | None) -> Tensor:
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
    if getattr(module, "embeds_columns", False):  # a prompt's second template is for columns >= 1 (PromptBERT)
        flat["column"] = torch.arange(views, device=ids.device).repeat(ids.shape[0])
    if mini_batch_size and mini_batch_size < flat["input_ids"].shape[0] and torch.is_grad_enabled():
        return cached_embed(module.embed, flat, mini_batch_size).view(ids.shape[0], views, -1)
    return module.embed(**flat).view(ids.shape[0], views, -1)


def training_step(module: SimCSEModule, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
    """The step's loss, and each part of it by name (``loss`` for the objective, one per auxiliary)."""
    labels = batch.get("labels")
    z = encode_views(module, batch, module.step["mini_batch_size"])
    everyone, all_labels, rows, weight = z, labels, None, 1.0
    if module.step["gather"] and module.trainer.world_size > 1:
        everyone, all_labels, rows, weight = gather_batch(module, z, labels)
    loss = module.objective(everyone, all_labels, rows)
    if module.objective.per_anchor:
        loss = weight * loss
    parts = {"loss": loss}
    total = loss
    state = StepState(batch=batch, z=z, module=module)
    for name, auxiliary in module.auxiliaries.items():
        parts[name] = auxiliary(state)
        total = total + auxiliary.weight * parts[name]
    return total, parts
