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
from simcse_pl.data.sources.base import Labeled


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
    share can absorb) the plan stops with a one-line ``DataError`` naming that text and how many examples hold
    it: deduplicate the data or lower the batch size. Saying so is quick: planning time grows about linearly with
    the number of examples, also when one text repeats thousands of times (20,000 examples with one text in 5,000
    of them are refused in a fraction of a second; the first version took minutes for 4,000).

    An epoch's plan is a pure function of the data, the seed and the epoch, so a run resumed mid-epoch rebuilds
    it and continues with the same remaining steps. Planning reads each example's texts once per process and
    keeps an 8-byte digest of each (for wiki1m, ~1M reads the first time: a few seconds).

    Prior art: sentence-transformers' ``NoDuplicatesBatchSampler`` rescans the remaining examples for each batch
    and leaves the number of batches open: when duplicates leave a batch short it yields it short (or drops it
    with ``drop_last``) and goes on, never an error, so the surplus copies of a text end up in a tail of small
    batches. Here the count is fixed up front (the LR schedule and resume need it), every step is full, and data
    that cannot fill the steps is refused instead of trained on in a tail of small steps.
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
        plan, texts, left_out = first_fit(order.tolist(), keys, count, per_step)
        short = next((k for k, chosen in enumerate(plan) if len(chosen) < per_step), None)
        if short is not None and left_out:
            short = repair(plan, texts, keys, left_out, per_step)
        if short is not None:
            raise DataError(self._unfillable(source, keys, left_out, epoch, short, count, per_step))
        return [np.asarray(chosen, dtype=np.int64) for chosen in plan]

    @staticmethod
    def _unfillable(
        source: Sequence[Any], keys: list[tuple[int, ...]], left_out: list[int], epoch: int, step: int,
        count: int, per_step: int,
    ) -> str:
        """One line: the step left short and the text that the left-out examples hold most, with how many examples
        hold it in all (at most one of them fits a step)."""
        key, times = Counter(k for i in left_out for k in keys[i]).most_common(1)[0]
        example = next(source[i] for i in left_out if key in keys[i])
        texts = example.texts if isinstance(example, Labeled) else example
        text = next(t for t in texts if text_key(t) == key)
        holding = sum(key in mine for mine in keys)
        return (
            f"data/sampler=no_duplicates: epoch {epoch} cannot fill its {count} steps of {per_step} examples without "
            f"repeating a text in a step (step {step} stays short); {len(left_out)} examples clash with every step "
            f"that has room, {times} of them with {text[:80]!r} (in {holding} examples, at most one per step). "
            "Deduplicate the data or lower data.batch_size"
        )


def next_open(after: list[int], step: int) -> int:
    """The first step at or after ``step`` that still has room (``count``, the last entry, when none).

    A full step points past itself (``after[s] = s + 1``) and the walk shortens the paths it follows, so full steps
    cost next to nothing to skip however many there are: the old linear walk over them was what made a long
    backlog of deferred examples quadratic."""
    root = step
    while after[root] != root:
        root = after[root]
    while after[step] != root:
        after[step], step = root, after[step]
    return root


def first_fit(
    order: list[int], keys: list[tuple[int, ...]], count: int, per_step: int
) -> tuple[list[list[int]], list[set[int]], list[int]]:
    """Each example of ``order`` into the first step that has room and none of its texts; ``(plan, texts of each
    step, left out)``. Stops when every step is full (the rest of ``order`` is neither placed nor left out).

    ``floor[k]``: every step below it that has room already holds text ``k``, so an example's search starts at the
    highest floor of its texts instead of rescanning the steps its copies filled before (a text in 5,000 examples
    would otherwise walk past up to all its earlier copies each time). Kept only for texts that once made an
    example wait, which is few of them. The result is the plain first fit's, step for step."""
    plan: list[list[int]] = [[] for _ in range(count)]
    texts: list[set[int]] = [set() for _ in range(count)]
    after = list(range(count + 1))
    floor: dict[int, int] = {}
    left_out: list[int] = []
    first_open = 0  # every step before it is full
    for i in order:
        if first_open == count:
            break  # every step full: the rest of the permutation is left out
        mine = keys[i]
        known = [k for k in mine if k in floor]
        start = next_open(after, max(first_open, *(floor[k] for k in known))) if known else first_open
        step = start
        while step < count and not texts[step].isdisjoint(mine):
            step = next_open(after, step + 1)
        if step < count:
            plan[step].append(i)
            texts[step].update(mine)
            if len(plan[step]) == per_step:
                after[step] = step + 1
                first_open = next_open(after, first_open)
        else:
            left_out.append(i)  # clashes with every step that has room
        for k in mine if step != start else known:
            floor[k] = _raise_floor(after, texts, k, max(floor.get(k, 0), first_open))
    return plan, texts, left_out


def _raise_floor(after: list[int], texts: list[set[int]], key: int, step: int) -> int:
    """The first step at or after ``step`` that has room and does not hold ``key``."""
    step = next_open(after, step)
    while step < len(texts) and key in texts[step]:
        step = next_open(after, step + 1)
    return step


def repair(
    plan: list[list[int]], texts: list[set[int]], keys: list[tuple[int, ...]], left_out: list[int], per_step: int
) -> int | None:
    """Fill the steps left short, in place, by swaps: a left-out example ``x`` takes the place of an example ``y``
    of another step that ``x`` fits once ``y`` is out, and ``y`` moves to the short step, which it fits. Returns
    the first step that stays short (the plan is then unusable, so the later ones are not tried), or None.

    The swap chosen is the first by (left-out order, step, slot), as a rescan of every pair would find it, but
    without the rescan: where each text sits is indexed (``holder``), and left-out examples whose texts meet the
    plan in the same texts (``sig``) share one answer, so a text repeated thousands of times costs one search per
    step, not one per copy and step (the rescan was cubic: minutes for 4,000 examples before its error)."""
    holder: dict[int, dict[int, int]] = {}
    for j, chosen in enumerate(plan):
        for y in chosen:
            for k in keys[y]:
                holder.setdefault(k, {})[j] = y
    for short in [k for k, chosen in enumerate(plan) if len(chosen) < per_step]:
        while len(plan[short]) < per_step:
            swap = _first_swap(plan, texts, keys, holder, left_out, short)
            if swap is None:
                return short
            _apply_swap(plan, texts, keys, holder, left_out, swap, short)
    return None


def _first_swap(
    plan: list[list[int]], texts: list[set[int]], keys: list[tuple[int, ...]], holder: dict[int, dict[int, int]],
    left_out: list[int], short: int,
) -> tuple[int, int, int] | None:
    """``(x, step, slot)`` of the first left-out example that some swap lets into the plan while filling ``short``."""
    failed: set[tuple[int, ...]] = set()
    for x in left_out:
        sig = tuple(k for k in keys[x] if holder.get(k))  # texts that are nowhere in the plan clash with nothing
        if sig in failed:
            continue
        place = _swap_place(plan, texts[short], keys, holder, sig, short)
        if place is not None:
            return x, *place
        failed.add(sig)
    return None


def _swap_place(
    plan: list[list[int]], full: set[int], keys: list[tuple[int, ...]], holder: dict[int, dict[int, int]],
    sig: tuple[int, ...], short: int,
) -> tuple[int, int] | None:
    """The first ``(step, slot)`` whose example ``y`` may move to the short step (no text of it there: ``full``)
    and leave room for an example with the texts ``sig``: any ``y`` of a step without those texts, or the one
    example holding all of them."""
    holding = [holder[k] for k in sig]
    for j, chosen in enumerate(plan):
        if j == short:
            continue
        clash = {where[j] for where in holding if j in where}
        if not clash:
            slot = next((s for s, y in enumerate(chosen) if full.isdisjoint(keys[y])), None)
            if slot is not None:
                return j, slot
        elif len(clash) == 1:
            y = clash.pop()
            if full.isdisjoint(keys[y]):
                return j, chosen.index(y)
    return None


def _apply_swap(
    plan: list[list[int]], texts: list[set[int]], keys: list[tuple[int, ...]], holder: dict[int, dict[int, int]],
    left_out: list[int], swap: tuple[int, int, int], short: int,
) -> None:
    """``x`` takes slot ``slot`` of step ``j``; the example there moves to the short step."""
    x, j, slot = swap
    y = plan[j][slot]
    plan[j][slot] = x
    texts[j].difference_update(keys[y])
    texts[j].update(keys[x])
    for k in keys[y]:
        del holder[k][j]
        holder[k][short] = y
    for k in keys[x]:
        holder.setdefault(k, {})[j] = x
    plan[short].append(y)
    texts[short].update(keys[y])
    left_out.remove(x)
