"""ESimCSE's word repetition (Wu et al. 2022, §3.1): the positive of a sentence is a copy with some words doubled.

SimCSE's two dropout views of a sentence have the same length, so a model can learn that sentences of similar
length are similar. ESimCSE's positive is the sentence with a few of its words repeated ("I like this apple" ->
"I I like this apple apple"): the meaning stays, the length changes.

``data/views=word_repetition``: each example ``(sentence,)`` becomes ``(sentence, repeated copy)``. The objective
reads column 0 as the anchor and column 1 as its positive, and each column is encoded once (with dropout).
"""

from __future__ import annotations

from typing import Annotated

import numpy as np

from simcse_pl.checks import between
from simcse_pl.data.views.base import View


class WordRepetition(View):
    r"""``(s,) -> (s, s⁺)``: ``s⁺`` is ``s`` with ``dup_len`` of its words each written twice in place.

    With ``N`` the number of words of ``s`` (whitespace split), as in the paper's §3.1::

        dup_len ~ uniform{0, …, max(2, int(dup_rate · N))}      (capped at N: positions are distinct)
        dup_set ~ dup_len positions out of the N, without replacement
        s⁺      = the words in order, each one of dup_set followed by a copy of itself

    ``dup_rate`` 0.32 is the paper's value. Words or subwords: the paper writes the operation on the sub-word
    sequence of the tokenizer, and its code offers both (``--dup_type word``: whitespace words, ``bpe``: token
    ids). A data view runs on text, before tokenization, so this is the word variant (``dup_type=word``); a
    doubled word is re-tokenized whole, so all its subwords repeat together. Differences from that code: its
    draw of ``dup_len`` excludes the upper end and is capped at 10, and it never picks the last word; here the
    paper's formula is followed as written. The copy's words are joined by single spaces; ``s`` itself is
    returned untouched, first. Every draw comes from ``rng`` (seeded per step by the batcher), so a resumed
    run draws the same copies.

    When to use: unsupervised SimCSE on raw sentences (ESimCSE, with ``auxiliary=[momentum_queue]``); an
    example with more than one text (pairs, NLI triplets) already has its positive and is refused.
    """

    def __init__(self, dup_rate: Annotated[float, between(0, 1)] = 0.32) -> None:
        self.dup_rate = float(dup_rate)

    def max_repeats(self, n_words: int) -> int:
        """The upper end of ``dup_len`` for a sentence of ``n_words`` words."""
        return min(n_words, max(2, int(self.dup_rate * n_words)))

    def repeat(self, sentence: str, rng: np.random.Generator) -> str:
        words = sentence.split()
        if not words:
            return sentence
        dup_len = int(rng.integers(0, self.max_repeats(len(words)) + 1))
        doubled = set(rng.choice(len(words), size=dup_len, replace=False).tolist())
        return " ".join(w for i, word in enumerate(words) for w in ((word, word) if i in doubled else (word,)))

    def __call__(self, texts: tuple[str, ...], rng: np.random.Generator) -> tuple[str, ...]:
        if len(texts) != 1:
            raise ValueError(
                f"data/views=word_repetition makes the positive of a single sentence, but examples here have "
                f"{len(texts)} texts (pairs or triplets bring their own positives): use data/views=dropout"
            )
        return texts[0], self.repeat(texts[0], rng)
