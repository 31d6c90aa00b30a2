"""The example types every training reader yields: a tuple of texts (one sentence, a pair, a triplet), or those
texts with a label (``Labeled``: scored pairs)."""

from __future__ import annotations

from typing import NamedTuple, Union


class Labeled(NamedTuple):
    """An example with a gold score (or class): its texts and the label the objective needs (scored pairs)."""

    texts: tuple[str, ...]
    label: float


# what a source yields per item: the texts of one example (one sentence, a pair, a triplet), or them with a label
Example = Union[tuple[str, ...], Labeled]
