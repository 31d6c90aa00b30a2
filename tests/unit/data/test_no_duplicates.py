"""Duplicate-free steps: no text twice in a global step (any column), each example at most once an epoch, full
steps of a known count, determinism per seed and epoch, and a resumed epoch continuing with the same steps."""

from __future__ import annotations

import random
import signal
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from hydra.utils import instantiate

from simcse_pl.data.batching import ShardedBatches
from simcse_pl.config import check_config, compose_config
from simcse_pl.data.samplers.no_duplicates import NoDuplicates
from simcse_pl.data.samplers.base import Sampler
from simcse_pl.errors import DataError
from simcse_pl.data.sources.base import Labeled
from simcse_pl.data.sources.nli import NLITriplets


def snli_like(premises: int = 100, seed: int = 0) -> list[tuple[str, str, str]]:
    """SNLI's shape: each premise in three rows; a few hypotheses recur across rows and columns."""
    rng = random.Random(seed)
    common = [f"A man is outside {k}." for k in range(6)]
    rows = []
    for p in range(premises):
        for h in range(3):
            entail = rng.choice(common) if rng.random() < 0.04 else f"entails {p}-{h}"
            contra = rng.choice(common) if rng.random() < 0.04 else f"contradicts {p}-{h}"
            rows.append((f"premise {p}", entail, contra))
    rng.shuffle(rows)
    return rows


def repeated_texts(source, step: np.ndarray) -> list[str]:
    texts = [t for i in step for t in set(source[int(i)])]
    return [t for t, n in Counter(texts).items() if n > 1]


def test_no_text_twice_in_a_step_in_any_column():
    source = snli_like()
    plain = Sampler().steps(source, 0, 1, 32, 1, True)
    assert sum(len(repeated_texts(source, s)) for s in plain) > 0  # the default plan has false negatives here
    for epoch in range(3):
        for step in NoDuplicates().steps(source, epoch, 1, 32, 1, True):
            assert repeated_texts(source, step) == []


def test_every_step_full_and_each_example_at_most_once():
    source = snli_like()  # 300 rows
    sampler = NoDuplicates()
    for per_step, world in ((32, 1), (48, 2), (64, 4)):
        for drop_last in (True, False):
            assert sampler.num_steps(len(source), per_step, world, drop_last) == len(source) // per_step
        plan = sampler.steps(source, 0, 3, per_step, world, True)
        assert len(plan) == len(source) // per_step
        assert all(len(step) == per_step for step in plan)
        used = np.concatenate(plan)
        assert len(set(used.tolist())) == len(used)  # no example twice
        assert len(source) - len(used) == len(source) % per_step  # left out: counted as drop_last counts


def test_deterministic_per_seed_and_epoch():
    source = snli_like()
    plan = [s.tolist() for s in NoDuplicates().steps(source, 2, 7, 32, 1, True)]
    assert plan == [s.tolist() for s in NoDuplicates().steps(source, 2, 7, 32, 1, True)]
    assert plan != [s.tolist() for s in NoDuplicates().steps(source, 3, 7, 32, 1, True)]
    assert plan != [s.tolist() for s in NoDuplicates().steps(source, 2, 8, 32, 1, True)]


def test_without_duplicates_the_plan_is_the_default_one():
    source = [(f"sentence {i}",) for i in range(100)]
    ours = NoDuplicates().steps(source, 1, 5, 16, 1, True)
    theirs = Sampler().steps(source, 1, 5, 16, 1, True)
    assert [s.tolist() for s in ours] == [s.tolist() for s in theirs]


def test_a_deferred_example_waits_for_the_next_step():
    # permutation order without shuffle: rows 0 and 1 share a premise, so row 1 opens the second step
    source = [("p", "a"), ("p", "b"), ("q", "c"), ("r", "d"), ("s", "e"), ("t", "f")]
    plan = NoDuplicates(shuffle=False).steps(source, 0, 0, 3, 1, True)
    assert [s.tolist() for s in plan] == [[0, 2, 3], [1, 4, 5]]


def test_duplicates_spread_over_consecutive_steps():
    source = [("same", f"x{i}") for i in range(5)] + [(f"other {i}", f"y{i}") for i in range(15)]
    plan = NoDuplicates(shuffle=False).steps(source, 0, 0, 4, 1, True)
    holding = [k for k, step in enumerate(plan) if any(int(i) < 5 for i in step)]
    assert holding == [0, 1, 2, 3, 4]  # one "same" per step, in the first five steps


def test_texts_compared_across_columns_and_labels_ignored():
    source = [Labeled(("a", "b"), 1.0), Labeled(("b", "c"), 2.0), Labeled(("d", "e"), 1.0), Labeled(("f", "a"), 0.0)]
    plan = NoDuplicates(shuffle=False).steps(source, 0, 0, 2, 1, True)
    assert [s.tolist() for s in plan] == [[0, 2], [1, 3]]


def test_a_step_that_cannot_be_filled_names_the_text():
    source = [("the same text", f"other {i}") for i in range(10)] + [(f"x{i}", f"y{i}") for i in range(2)]
    with pytest.raises(DataError, match="'the same text'.*lower data.batch_size"):
        NoDuplicates().steps(source, 0, 0, 4, 1, True)


def collect(source, sampler, start_step=0, world_size=1, rank=0, epoch=0):
    batches = ShardedBatches(source, 8, lambda examples, rng: examples, rank=rank, world_size=world_size, seed=11,
                             sampler=sampler)
    batches.set_epoch(epoch)
    batches.start_step = start_step
    return list(batches)


def test_resume_mid_epoch_gives_the_same_remaining_steps():
    source = snli_like(60)  # 180 rows, 22 steps of 8
    full = collect(source, NoDuplicates(), epoch=1)
    assert len(full) == 22
    for start in (1, 9, 21):
        assert collect(source, NoDuplicates(), start_step=start, epoch=1) == full[start:]


def test_global_step_is_duplicate_free_across_ranks():
    source = snli_like(60)
    ranks = [collect(source, NoDuplicates(), world_size=2, rank=r) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1]) == 180 // 16
    for mine, theirs in zip(*ranks, strict=True):
        texts = [t for example in mine + theirs for t in set(example)]
        assert len(texts) == len(set(texts))
    batches = ShardedBatches(source, 8, lambda e, r: e, world_size=2, seed=11, drop_last=False, sampler=NoDuplicates())
    assert batches.dropped == 180 % 16


def test_config_group_follows_data_shuffle():
    cfg = compose_config("experiment=quickstart_sup", "data/sampler=no_duplicates")
    check_config(cfg)
    assert instantiate(cfg.data.sampler).shuffle is True
    cfg = compose_config("experiment=quickstart_sup", "data/sampler=no_duplicates", "data.shuffle=false")
    assert instantiate(cfg.data.sampler).shuffle is False


def test_snli_dev_triplets(real_data):
    source = NLITriplets(str(real_data / "nli" / "snli_dev_triplets.csv"))
    source.index()
    plain = Sampler().steps(source, 0, 42, 64, 1, True)
    ours = NoDuplicates().steps(source, 0, 42, 64, 1, True)
    assert len(ours) == len(plain) == len(source) // 64
    assert sum(len(repeated_texts(source, s)) for s in plain) > 0
    assert all(repeated_texts(source, s) == [] for s in ours)


def test_swaps_fill_a_step_that_first_fit_leaves_short():
    # first fit: step 0 = rows 0, 1; step 1 = row 2; rows 3 and 4 clash with row 2 ("d") and are left out.
    # Row 3 takes row 0's place in step 0 and row 0 completes step 1.
    source = [("b", "w"), ("c", "y"), ("d", "z"), ("d", "3"), ("d", "4")]
    plan = NoDuplicates(shuffle=False).steps(source, 0, 0, 2, 1, True)
    assert [s.tolist() for s in plan] == [[3, 1], [2, 0]]


def test_dense_duplicates_still_fill_every_step():
    source = snli_like()  # premises thrice; a few hypotheses up to 9 times
    for per_step in (48, 96):  # 6 and 3 steps: each premise's three rows need three different steps
        for seed in range(10):
            plan = NoDuplicates().steps(source, 0, seed, per_step, 1, True)
            assert all(len(step) == per_step and repeated_texts(source, step) == [] for step in plan)


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Fail once ``seconds`` pass: a guard against the first version's cubic planning (minutes for a text repeated
    a few thousand times), not a benchmark, hence generous."""

    def expire(signum, frame):
        raise TimeoutError(f"planning took over {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_a_text_in_a_quarter_of_the_examples_is_refused_in_seconds():
    # 625 steps of 32 hold at most 625 of the 5,000 copies: no plan exists, and saying so must not take minutes
    source = [("the same text", f"other {i}") for i in range(5000)] + [(f"x{i}", f"y{i}") for i in range(15000)]
    with within(20), pytest.raises(DataError, match=r"'the same text' \(in 5000 examples, at most one per step\)"):
        NoDuplicates().steps(source, 0, 0, 32, 1, True)


def test_many_repeats_that_fit_give_full_duplicate_free_steps_quickly():
    # "often" in 600 rows (50 of them in the second column), "second" in 400: fewer than the 625 steps
    rows = random.Random(3).sample(range(20000), 1000)
    source = [(f"a{i}", f"b{i}") for i in range(20000)]
    for i in rows[:550]:
        source[i] = ("often", f"b{i}")
    for i in rows[550:600]:
        source[i] = (f"a{i}", "often")
    for i in rows[600:]:
        source[i] = (f"a{i}", "second")
    for per_step in (32, 30):  # 625 steps, nothing left out; 666 steps, 20 left out
        with within(20):
            plan = NoDuplicates().steps(source, 1, 5, per_step, 1, True)
        assert len(plan) == 20000 // per_step and all(len(step) == per_step for step in plan)
        assert all(repeated_texts(source, step) == [] for step in plan)
        used = np.concatenate(plan).tolist()
        assert len(set(used)) == len(used) == 20000 - 20000 % per_step


def reference_plan(keys: list[set[str]], order: list[int], count: int, per_step: int) -> list[list[int]] | None:
    """The plan's definition, written as plainly (and slowly) as possible: first fit over the order, then for each
    short step, repeatedly, the first left-out ``x`` (in order) and first ``(step, slot)`` whose ``y`` can move to
    the short step while ``x`` takes its place. None when a step stays short."""
    plan: list[list[int]] = [[] for _ in range(count)]
    left_out: list[int] = []

    def held(j: int) -> set[str]:
        return set().union(*(keys[y] for y in plan[j]))

    for i in order:
        if all(len(chosen) == per_step for chosen in plan):
            break
        step = next((j for j in range(count) if len(plan[j]) < per_step and not keys[i] & held(j)), None)
        if step is None:
            left_out.append(i)
        else:
            plan[step].append(i)
    for short in [j for j in range(count) if len(plan[j]) < per_step]:
        while len(plan[short]) < per_step:
            swap = next(
                ((x, j, slot) for x in left_out for j in range(count) if j != short
                 for slot, y in enumerate(plan[j])
                 if not keys[y] & held(short) and not keys[x] & (held(j) - keys[y])),
                None,
            )
            if swap is None:
                return None
            x, j, slot = swap
            plan[short].append(plan[j][slot])
            plan[j][slot] = x
            left_out.remove(x)
    return plan


def test_the_fast_plan_is_the_plain_definition_step_for_step():
    rng = random.Random(0)
    checked = {"planned": 0, "refused": 0}
    for _ in range(300):
        n = rng.randint(2, 40)
        vocab = rng.randint(n // 2 + 1, 3 * n)
        source = [tuple(f"t{int(vocab * rng.random() ** 2)}" for _ in range(rng.randint(1, 3))) for _ in range(n)]
        per_step = rng.randint(1, max(1, n // 3))
        sampler = NoDuplicates()
        expected = reference_plan([set(row) for row in source], sampler.order(source, 0, 4).tolist(), n // per_step,
                                  per_step)
        if expected is None:
            with pytest.raises(DataError, match="stays short"):
                sampler.steps(source, 0, 4, per_step, 1, True)
            checked["refused"] += 1
        else:
            assert [s.tolist() for s in sampler.steps(source, 0, 4, per_step, 1, True)] == expected
            checked["planned"] += 1
    assert min(checked.values()) > 30  # both outcomes exercised
