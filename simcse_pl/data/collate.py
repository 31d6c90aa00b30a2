"""From examples to token tensors: the training ``Collator`` and the character clip that training, evaluation and
inference share, so that one huge line never stalls a batch in the tokenizer."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from transformers.tokenization_utils_base import BatchEncoding, PreTrainedTokenizerBase

from simcse_pl.data.sources.base import Example, Labeled
from simcse_pl.data.views.base import View


TRUNCATED_KEY = "truncated"  # batch entry: how many of the batch's sentences the collator cut at max_len


MIN_CLIP_CHARS = 1000


CHARS_PER_TOKEN = 100  # far more than a wordpiece token spans: clipping practically never changes the tokens kept



def clip_text(text: str, max_tokens: int) -> str:
    """``text`` cut to ``max(MIN_CLIP_CHARS, CHARS_PER_TOKEN * max_tokens)`` characters before tokenizing.

    The tokenizer truncates to ``max_tokens`` only after tokenizing the whole text, so one 10 MB line would
    stall its batch for a minute or more; a sentence whose tokens fit ``max_tokens`` is practically never this
    long. One function, so training (``Collator``) and inference/evaluation (``encode``) clip alike."""
    return text[: max(MIN_CLIP_CHARS, CHARS_PER_TOKEN * max_tokens)]


class Collator:
    """Tokenizes ``B`` examples of ``S`` sentences each into ``[B, S, L]`` tensors, padded per batch, with their
    ``labels`` ``[B]`` when the examples carry them (``Labeled``).

    A data ``view`` (simcse_pl/views.py) may first turn each example's texts into the columns to encode (ESimCSE's
    word repetition adds a repeated copy), drawing from ``rng``, which the batcher seeds per step. Each sentence is
    clipped to a number of characters (``clip_text``), so a huge line does not stall the batch in the tokenizer;
    a clipped sentence counts as truncated."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, max_len: int, view: View | None = None) -> None:
        self.tokenizer = tokenizer
        self.max_len = max_len
        self.view = view

    def __call__(self, examples: list[Example], rng: np.random.Generator | None = None) -> dict[str, Any]:
        labels = [e.label for e in examples] if isinstance(examples[0], Labeled) else None
        columns = [e.texts if isinstance(e, Labeled) else e for e in examples]
        if self.view is not None:
            rng = rng if rng is not None else np.random.default_rng()
            columns = [self.view(texts, rng) for texts in columns]
        per_example = len(columns[0])
        flat = [s for texts in columns for s in texts]
        texts = [clip_text(s, self.max_len) for s in flat]
        encoded = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_len, return_tensors="pt")
        batch: dict[str, Any] = {k: v.view(len(examples), per_example, -1) for k, v in encoded.items()}
        if labels is not None:
            batch["labels"] = torch.tensor(labels)
        clipped = [len(text) < len(s) for text, s in zip(texts, flat, strict=True)]
        return {**batch, TRUNCATED_KEY: self._truncated(encoded, texts, clipped)}

    def _truncated(self, encoded: BatchEncoding, texts: list[str], clipped: list[bool]) -> int:
        """How many sentences were cut: clipped by characters, or at max_len tokens (fast tokenizers keep the
        cut-off part as ``overflowing``)."""
        if encoded.encodings is not None:
            overflowed = [bool(e.overflowing) for e in encoded.encodings]
        else:
            overflowed = [len(ids) > self.max_len for ids in self.tokenizer(texts, truncation=False)["input_ids"]]
        return sum(o or c for o, c in zip(overflowed, clipped, strict=True))
