"""Data views: what the encoder sees of each example, made in the dataloader workers.

With no view (``data/views=dropout``, the default) a single sentence is encoded twice and the two dropout
masks make its positive pair (SimCSE); examples with several texts (pairs, triplets) are encoded as they are. A
``View`` turns an example's texts into the columns to encode (ESimCSE's word repetition returns the sentence
and a copy with some words repeated), drawing only from the ``rng`` it is given, which the batcher seeds by
(seed, epoch, step) so a resumed run draws the same. A new view is one file with a ``View`` subclass plus a YAML
under conf/data/views/.
"""

from __future__ import annotations

import numpy as np


class View:
    """``view(texts, rng) -> texts``: the columns of one example, in the order objectives read them."""

    def __call__(self, texts: tuple[str, ...], rng: np.random.Generator) -> tuple[str, ...]:
        raise NotImplementedError
