"""ESimCSE's word repetition view: the paper's duplication rate, the original first, draws only from the rng."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from simcse_pl.config import ConfigError, check_config, compose_config
from simcse_pl.data.collate import Collator
from simcse_pl.encoders.backbone import load_tokenizer
from simcse_pl.data.views.word_repetition import WordRepetition
from tiny_model import TINY_MODEL

SENTENCE = "a b c d e f g h i j k l m n o p q r s t u v w x y"  # 25 distinct words


def doubled_positions(original: str, copy: str) -> list[int]:
    """Which words of ``original`` are written twice in ``copy`` (and the copy is exactly that)."""
    words, out, doubled, k = original.split(), copy.split(), [], 0
    for i, word in enumerate(words):
        assert out[k] == word
        k += 1
        if k < len(out) and out[k] == word and (i + 1 == len(words) or words[i + 1] != word):
            doubled.append(i)
            k += 1
    assert k == len(out), (original, copy)
    return doubled


def test_original_first_and_copy_repeats_words_in_place():
    view = WordRepetition()
    rng = np.random.default_rng(0)
    for _ in range(200):
        original, copy = view((SENTENCE,), rng)
        assert original == SENTENCE
        doubled = doubled_positions(SENTENCE, copy)
        assert len(copy.split()) == 25 + len(doubled)


def test_number_of_repeats_is_uniform_on_the_papers_range():
    """dup_len ~ uniform{0..max(2, int(0.32·N))}: N=25 -> {0..8}, each about 1/9 of the draws."""
    view = WordRepetition(0.32)
    rng = np.random.default_rng(1)
    counts = Counter(len(doubled_positions(SENTENCE, view((SENTENCE,), rng)[1])) for _ in range(9000))
    assert set(counts) == set(range(9))
    for k in range(9):
        assert counts[k] / 9000 == pytest.approx(1 / 9, abs=0.02)


def test_positions_are_distinct_and_uniform():
    view = WordRepetition(0.32)
    rng = np.random.default_rng(2)
    hits = Counter()
    draws = 0
    for _ in range(6000):
        doubled = doubled_positions(SENTENCE, view((SENTENCE,), rng)[1])
        assert len(set(doubled)) == len(doubled)
        hits.update(doubled)
        draws += len(doubled)
    for position in range(25):  # every word, the first and the last included
        assert hits[position] / draws == pytest.approx(1 / 25, abs=0.01)


@pytest.mark.parametrize("n, high", [(1, 1), (2, 2), (3, 2), (6, 2), (7, 2), (10, 3), (25, 8), (100, 32)])
def test_upper_end_is_max_2_int_rate_n_capped_at_n(n, high):
    assert WordRepetition(0.32).max_repeats(n) == high
    words = " ".join(f"w{i}" for i in range(n))
    rng = np.random.default_rng(n)
    seen = {len(doubled_positions(words, WordRepetition(0.32)((words,), rng)[1])) for _ in range(400)}
    assert seen == set(range(high + 1))


def test_rate_zero_still_repeats_up_to_two_words_as_the_formula_says():
    rng = np.random.default_rng(3)
    seen = {len(doubled_positions(SENTENCE, WordRepetition(0.0)((SENTENCE,), rng)[1])) for _ in range(300)}
    assert seen == {0, 1, 2}


def test_deterministic_given_the_rng():
    def copies(seed: list[int]) -> list[tuple[str, ...]]:
        rng = np.random.default_rng(seed)
        return [WordRepetition()((SENTENCE,), rng) for _ in range(20)]

    assert copies([7, 0, 3]) == copies([7, 0, 3])  # (seed, epoch, step), as the batcher seeds it
    assert copies([7, 0, 4]) != copies([7, 0, 3])


def test_whitespace_of_the_copy_is_single_spaces_and_the_original_untouched():
    rng = np.random.default_rng(4)
    original, copy = WordRepetition()(("  two   words\t",), rng)
    assert original == "  two   words\t"
    assert copy in {"two words", "two two words", "two words words", "two two words words"}


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_an_empty_or_blank_sentence_is_its_own_copy(text):
    assert WordRepetition()((text,), np.random.default_rng(0)) == (text, text)


def test_rate_one_can_double_every_word():
    rng = np.random.default_rng(5)
    words = "w0 w1 w2 w3 w4 w5"
    seen = {len(doubled_positions(words, WordRepetition(1.0)((words,), rng)[1])) for _ in range(400)}
    assert seen == set(range(7))  # 0 .. all 6
    assert WordRepetition(1.0)(("one",), rng)[1] in {"one", "one one"}


def test_a_sentence_at_max_len_and_its_longer_copy_are_both_cut_to_max_len():
    """The copy of a sentence that fills ``max_len`` is longer than ``max_len``: it is truncated like any text (its
    last words are lost), never an error or an overflowing row."""
    tokenizer = load_tokenizer(**TINY_MODEL)
    max_len = 16
    sentence = " ".join(["word"] * 40)
    batch = Collator(tokenizer, max_len=max_len, view=WordRepetition(1.0))([(sentence,), ("one",), ("",)],
                                                                           np.random.default_rng(0))
    assert batch["input_ids"].shape == (3, 2, max_len)
    assert batch["attention_mask"][0].sum(1).tolist() == [max_len, max_len]
    assert batch["attention_mask"][2].sum(1).tolist() == [2, 2]  # "" -> [CLS] [SEP] in both columns


def test_pairs_are_refused():
    with pytest.raises(ValueError, match="single sentence"):
        WordRepetition()(("premise", "hypothesis"), np.random.default_rng(0))


def test_collator_turns_each_sentence_into_two_columns():
    tokenizer = load_tokenizer(**TINY_MODEL)
    collate = Collator(tokenizer, max_len=64, view=WordRepetition())
    examples = [("a b c d e f g h",), ("one two three",)]
    batch = collate(examples, np.random.default_rng(0))
    assert batch["input_ids"].shape[:2] == (2, 2)
    alone = Collator(tokenizer, max_len=64)(examples)  # no view: the sentences as they are
    assert torch.equal(batch["attention_mask"][:, 0].sum(1), alone["attention_mask"][:, 0].sum(1))
    assert (batch["attention_mask"][:, 1].sum(1) >= alone["attention_mask"][:, 0].sum(1)).all()


def test_config_group_and_range():
    cfg = compose_config("data/views=word_repetition")
    assert cfg.data.views.dup_rate == 0.32
    check_config(cfg)
    with pytest.raises(ConfigError, match="dup_rate"):
        check_config(compose_config("data/views=word_repetition", "data.views.dup_rate=1.5"))
