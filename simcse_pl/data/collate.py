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
    a clipped sentence counts as truncated.

    Retrieval rows (query, positive, negatives) have two roles: ``prompts`` (``model.prompts``) puts the query
    prefix before column 0 and the document prefix before the others, as sentence-transformers' ``encode_query`` /
    ``encode_document`` do (the text is prefixed, then tokenized); ``document_max_len`` cuts columns 1.. at their own
    length (passages are long, queries short). Each role is tokenized with its own limit and both are padded to
    the batch's longest row: the ``[B, S, L]`` shape the training step takes stays as it is."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, max_len: int, view: View | None = None,
                 document_max_len: int | None = None, prompts: dict[str, str | None] | None = None) -> None:
        self.tokenizer = tokenizer
        self.max_len = max_len
        self.view = view
        self.document_max_len = document_max_len or max_len
        self.prompts = prompts or {}

    def __call__(self, examples: list[Example], rng: np.random.Generator | None = None) -> dict[str, Any]:
        labels = [e.label for e in examples] if isinstance(examples[0], Labeled) else None
        columns = [e.texts if isinstance(e, Labeled) else e for e in examples]
        if self.view is not None:
            rng = rng if rng is not None else np.random.default_rng()
            columns = [self.view(texts, rng) for texts in columns]
        per_example = len(columns[0])
        query, document = self.prompts.get("query") or "", self.prompts.get("document") or ""
        flat = [(query if col == 0 else document) + s for texts in columns for col, s in enumerate(texts)]
        limits = [self.max_len if k % per_example == 0 else self.document_max_len for k in range(len(flat))]
        texts = [clip_text(s, limit) for s, limit in zip(flat, limits, strict=True)]
        encoded, overflowed = self._tokenize(texts, limits)
        batch: dict[str, Any] = {k: v.view(len(examples), per_example, -1) for k, v in encoded.items()}
        if labels is not None:
            batch["labels"] = torch.tensor(labels)
        clipped = [len(text) < len(s) for text, s in zip(texts, flat, strict=True)]
        return {**batch, TRUNCATED_KEY: sum(o or c for o, c in zip(overflowed, clipped, strict=True))}

    def _tokenize(self, texts: list[str], limits: list[int]) -> tuple[BatchEncoding, list[bool]]:
        """Padded tensors of ``texts``, each cut at its own limit, and whether each was cut."""
        if len(set(limits)) == 1:
            encoded = self.tokenizer(texts, padding=True, truncation=True, max_length=limits[0], return_tensors="pt")
            return encoded, self._overflowed(encoded, texts, limits[0])
        features: list[dict[str, Any]] = [{} for _ in texts]
        overflowed = [False] * len(texts)
        for limit in sorted(set(limits)):
            rows = [i for i, lim in enumerate(limits) if lim == limit]
            group = self.tokenizer([texts[i] for i in rows], truncation=True, max_length=limit)
            for j, (i, cut) in enumerate(zip(rows, self._overflowed(group, [texts[i] for i in rows], limit), strict=True)):
                features[i] = {k: v[j] for k, v in group.items()}
                overflowed[i] = cut
        return self.tokenizer.pad(features, padding=True, return_tensors="pt"), overflowed

    def _overflowed(self, encoded: BatchEncoding, texts: list[str], limit: int) -> list[bool]:
        """Which texts were cut at ``limit`` tokens (fast tokenizers keep the cut-off part as ``overflowing``)."""
        if encoded.encodings is not None:
            return [bool(e.overflowing) for e in encoded.encodings]
        return [len(ids) > limit for ids in self.tokenizer(texts, truncation=False)["input_ids"]]
