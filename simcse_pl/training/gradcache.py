"""GradCache (Gao et al., 2021): the contrastive loss of N sentences with the encoder memory of K.

The algorithm: encode the batch in chunks of K without keeping activations; compute the loss over all N
embeddings and its gradient with respect to them; re-encode each chunk, keeping activations this time, and
backpropagate the cached embedding gradient through it. Only one chunk's activations live at a time.

That is what non-reentrant ``torch.utils.checkpoint`` does when each chunk is one checkpointed call, so
GradCache here is a chunked, checkpointed ``embed``. The loss stays one tensor with one ``backward()``,
which keeps Lightning's automatic optimization and everything that hangs on it: the fp16 grad scaler,
gradient accumulation and clipping, and DDP's all-reduce, which must see each parameter's gradient once
per step (a manual loop of per-chunk backward passes would break it, or need ``no_sync`` bookkeeping).

Dropout: ``preserve_rng_state`` saves the CPU RNG state and that of the inputs' CUDA device before each
chunk and restores it to re-encode that chunk, so both passes use the same dropout masks (the two SimCSE
views the loss saw are the ones that get the gradient); autocast is re-entered the same way.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint


def cached_embed(embed: Callable[..., Tensor], inputs: dict[str, Tensor], mini_batch_size: int) -> Tensor:
    """``embed(**inputs)`` on ``[n, L]`` inputs, encoded ``mini_batch_size`` rows at a time whose activations
    are recomputed, with the same dropout masks, when the gradient reaches them."""
    n = next(iter(inputs.values())).shape[0]
    chunks = [
        checkpoint(
            embed,
            use_reentrant=False,
            preserve_rng_state=True,
            **{k: v[start : start + mini_batch_size] for k, v in inputs.items()},
        )
        for start in range(0, n, mini_batch_size)
    ]
    return torch.cat(chunks)
