"""Sentence vectors for evaluation and inference: ``encode`` (tokenize once, length-sorted batches, autocast) and
the text clipping training shares with it. The one place text becomes vectors outside the training step."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from simcse_pl.evaluation.base import PRECISIONS
from simcse_pl.data.collate import clip_text

Embed = Callable[..., Tensor]  # (input_ids, attention_mask[, token_type_ids]) -> [n, d] sentence vectors


def positive_int(name: str, value: Any) -> int:
    """``value`` if it is an integer >= 1, else a ``ValueError`` naming the argument ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer (got {value!r})")
    return value


def _autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[Any]:
    """``auto``: bf16 (fp16 where unsupported) on GPUs, fp32 on CPUs, where the paper's numbers are reproduced
    exactly; ``bf16`` on a CPU with AMX is about twice as fast and moves scores by a few hundredths."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is not one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        if device.type != "cuda":
            return contextlib.nullcontext()
        precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


@torch.inference_mode()
def encode(
    embed: Embed,
    tokenizer: PreTrainedTokenizerBase,
    sentences: Sequence[str],
    batch_size: int = 128,
    max_length: int | None = None,
    device: torch.device | str = "cpu",
    precision: str = "auto",
    progress: Callable[[int], None] | None = None,
) -> Tensor:
    """Float32 CPU vectors ``[n, d]`` of ``sentences``, in input order; ``progress(done)`` after each batch.

    Sentences are tokenized once and batched by token count, so a batch pads to nearly nothing."""
    if not sentences:
        raise ValueError("sentences is empty: there is nothing to encode")
    positive_int("batch_size", batch_size)
    limit = tokenizer.model_max_length if max_length is None else positive_int("max_length", max_length)
    device = torch.device(device)
    tokens = tokenizer([clip_text(s, limit) for s in sentences], truncation=True, max_length=max_length)
    order = sorted(range(len(sentences)), key=lambda i: len(tokens["input_ids"][i]))
    chunks = []
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        batch = tokenizer.pad({k: [v[i] for i in rows] for k, v in tokens.items()}, return_tensors="pt")
        with _autocast(device, precision):
            chunks.append(embed(**{k: v.to(device) for k, v in batch.items()}).float().cpu())
        if progress is not None:
            progress(start + len(rows))
    vectors = torch.cat(chunks)
    return torch.empty_like(vectors).index_copy_(0, torch.tensor(order), vectors)
