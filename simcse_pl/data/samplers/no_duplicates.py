"""Duplicate-free steps: no text appears twice in one global step, in any column (``data/sampler=no_duplicates``).

In-batch negatives assume every other example of the step is about something else. When the same text is in
two examples of a step (an NLI premise written down with several hypotheses; a hypothesis such as "A man is
outside ." written for several premises; a crawled corpus's repeated lines), one example's positive is
another's negative with the very same words: a false negative that InfoNCE pushes away. This plan keeps such
examples in different steps.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from simcse_pl.data.samplers.base import Sampler
from simcse_pl.errors import DataError
from simcse_pl.data.sources import Labeled


def text_key(text: str) -> int:
    """A 64-bit digest of the exact text: the same in every process (Python's ``hash`` of a str is not)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


class NoDuplicates(Sampler):
    """The permutation of the default plan, cut into full steps in which no text occurs twice.

    The epoch's permutation (``[seed, epoch]``, as the default sampler's) is read in order and each example goes
    to the first step that has room and none of its texts (any column, exact string): the step being filled,
    or, when it clashes there, a later one (first fit). A deferred example thus trains a step or a few later,
    and the copies of a repeated text spread over consecutive steps instead of piling up at the epoch's end.

    Every step is full (``B·W`` examples: batch × processes), so the number of steps is known before the epoch
    is planned: ``⌊n / (B·W)⌋``. The ``n mod B·W`` examples that find no place (they clash with every step that
    still has room, or come after the last step is full) are left out of the epoch and counted as
    ``data.drop_last`` counts them (the log's "left out" line); ``data.drop_last=false`` cannot keep a partial
    last step here. Each example is in at most one step an epoch. If the end of the epoch leaves a step short
    while examples are left out, swaps fill it (a left-out example takes the place of one that can move to the
    short step); if even that fails (a text in more examples than the epoch has steps, beyond what the left-out
    share can absorb) the plan stops with a ``DataError`` naming that text: deduplicate the data or lower the
    batch size.

    An epoch's plan is a pure function of the data, the seed and the epoch, so a run resumed mid-epoch rebuilds
    it and continues with the same remaining steps. Planning reads each example's texts once per process and
    keeps an 8-byte digest of each (for wiki1m, ~1M reads the first time: a few seconds).

    Prior art: sentence-transformers' ``NoDuplicatesBatchSampler`` rescans the remaining examples for each batch
    and leaves the number of batches open; here the count is fixed up front and the scan is one pass.
    When to use: supervised data whose texts recur across rows (NLI), or any corpus with repeated lines.
    """

    def __init__(self, shuffle: bool = True) -> None:
        super().__init__(shuffle)
        self._keys: list[tuple[int, ...]] | None = None
        self._keys_of: tuple[int, int] | None = None

    def num_steps(self, n: int, per_step: int, world_size: int, drop_last: bool) -> int:
        return n // per_step

    def example_keys(self, source: Sequence[Any]) -> list[tuple[int, ...]]:
        """The distinct text digests of every example (cached for the source)."""
        if self._keys is None or self._keys_of != (id(source), len(source)):
            keys = []
            for i in range(len(source)):
                example = source[i]
                texts = example.texts if isinstance(example, Labeled) else example
                keys.append(tuple(dict.fromkeys(text_key(t) for t in texts)))
            self._keys, self._keys_of = keys, (id(source), len(source))
        return self._keys

    def steps(
        self, source: Sequence[Any], epoch: int, seed: int, per_step: int, world_size: int, drop_last: bool
    ) -> list[np.ndarray]:
        keys = self.example_keys(source)
        order = self.order(source, epoch, seed)
        count = self.num_steps(len(order), per_step, world_size, drop_last)
        plan: list[list[int]] = [[] for _ in range(count)]
        texts: list[set[int]] = [set() for _ in range(count)]
        first_open = 0  # every step before it is full
        left_out: list[int] = []
        for i in order.tolist():
            while first_open < count and len(plan[first_open]) == per_step:
                first_open += 1
            if first_open == count:
                break  # every step full: the rest of the permutation is left out
            step = first_open
            while step < count and (len(plan[step]) == per_step or not texts[step].isdisjoint(keys[i])):
                step += 1
            if step == count:
                left_out.append(i)  # clashes with every step that has room
                continue
            plan[step].append(i)
            texts[step].update(keys[i])
        if left_out and any(len(chosen) < per_step for chosen in plan):
            self._repair(plan, texts, keys, left_out, per_step)
        short = next((k for k, chosen in enumerate(plan) if len(chosen) < per_step), None)
        if short is not None:
            raise DataError(self._unfillable(source, keys, left_out, epoch, short, count, per_step))
        return [np.asarray(chosen, dtype=np.int64) for chosen in plan]

    @staticmethod
    def _repair(
        plan: list[list[int]], texts: list[set[int]], keys: list[tuple[int, ...]], left_out: list[int], per_step: int
    ) -> None:
        """Fill the steps left short, in place, by swaps: a left-out example ``x`` takes the place of an example
        ``y`` of another step that ``x`` fits once ``y`` is out, and ``y`` moves to the short step, which it fits."""

        def fits_without(x: int, j: int, y: int) -> bool:
            return all(k not in texts[j] or k in keys[y] for k in keys[x])

        for short in [k for k, chosen in enumerate(plan) if len(chosen) < per_step]:
            moved = True
            while moved and len(plan[short]) < per_step:
                moved = False
                for x in left_out:
                    swap = next(
                        (
                            (j, slot)
                            for j, chosen in enumerate(plan)
                            if j != short
                            for slot, y in enumerate(chosen)
                            if texts[short].isdisjoint(keys[y]) and fits_without(x, j, y)
                        ),
                        None,
                    )
                    if swap is None:
                        continue
                    j, slot = swap
                    y = plan[j][slot]
                    plan[j][slot] = x
                    texts[j].difference_update(keys[y])
                    texts[j].update(keys[x])
                    plan[short].append(y)
                    texts[short].update(keys[y])
                    left_out.remove(x)
                    moved = True
                    break

    @staticmethod
    def _unfillable(
        source: Sequence[Any], keys: list[tuple[int, ...]], left_out: list[int], epoch: int, step: int,
        count: int, per_step: int,
    ) -> str:
        key, times = Counter(k for i in left_out for k in keys[i]).most_common(1)[0]
        example = next(source[i] for i in left_out if key in keys[i])
        texts = example.texts if isinstance(example, Labeled) else example
        text = next(t for t in texts if text_key(t) == key)
        return (
            f"data/sampler=no_duplicates: epoch {epoch} cannot fill its {count} steps of {per_step} examples without "
            f"repeating a text in a step (step {step} stays short); {len(left_out)} examples clash with every step "
            f"that has room, {times} of them with {text[:80]!r}. Deduplicate the data or lower data.batch_size"
        )
