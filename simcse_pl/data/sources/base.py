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


# what a source's examples are called, by how many texts each holds
EXAMPLE_NOUNS = {1: "sentences", 2: "pairs", 3: "triplets"}


def examples_label(example: Example, columns: tuple[str, ...] = ()) -> str:
    """What a source holds, named from one of its examples: ``sentences``, ``scored pairs``, ``triplets (sent0,
    sent1, hard_neg)``, ``rows of 5 texts (query, positive, negative_1, ...)``: the count in the log is of these."""
    texts, scored = (example.texts, True) if isinstance(example, Labeled) else (example, False)
    noun = EXAMPLE_NOUNS.get(len(texts), f"rows of {len(texts)} texts")
    named = f" ({', '.join(columns)})" if len(texts) > 1 and len(columns) == len(texts) else ""
    return f"{'scored ' if scored else ''}{noun}{named}"
