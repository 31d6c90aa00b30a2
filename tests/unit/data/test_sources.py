from collections import Counter

import pytest
import torch
from torch.utils.data import DataLoader

from simcse_pl.data.batching import ShardedBatches
from simcse_pl.errors import DataError
from simcse_pl.data.sources.text_lines import TextLines


def identity(examples, rng=None):
    return examples


def lines_file(tmp_path, lines, name="corpus.txt"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def seen_by(source, rank, world, workers, batch_size, drop_last=True, epoch=0):
    stream = ShardedBatches(source, batch_size, identity, rank=rank, world_size=world, seed=7, drop_last=drop_last)
    stream.set_epoch(epoch)
    loader = DataLoader(stream, batch_size=None, num_workers=workers)
    return [example[0] for batch in loader for example in batch], len(stream)


@pytest.mark.parametrize("n, drop_last", [(48, True), (53, False)])
def test_two_ranks_two_workers_see_every_line_once(tmp_path, n, drop_last):
    source = TextLines(str(lines_file(tmp_path, [f"sentence {i}" for i in range(n)])))
    source.index()
    seen0, len0 = seen_by(source, 0, 2, 2, batch_size=4, drop_last=drop_last)
    seen1, len1 = seen_by(source, 1, 2, 2, batch_size=4, drop_last=drop_last)
    assert len0 == len1  # DDP ranks must take the same number of steps
    counts = Counter(seen0 + seen1)
    assert set(counts) == {f"sentence {i}" for i in range(n)}
    assert set(counts.values()) == {1}


def test_drop_last_counts_what_it_leaves_out(tmp_path):
    source = TextLines(str(lines_file(tmp_path, [f"s{i}" for i in range(50)])))
    source.index()
    stream = ShardedBatches(source, 8, identity, rank=0, world_size=2)
    assert len(stream) == 3 and stream.dropped == 2


def test_order_is_independent_of_worker_count_and_changes_per_epoch(tmp_path):
    source = TextLines(str(lines_file(tmp_path, [f"s{i}" for i in range(40)])))
    source.index()
    one, _ = seen_by(source, 0, 1, 0, batch_size=4)
    two, _ = seen_by(source, 0, 1, 2, batch_size=4)
    other_epoch, _ = seen_by(source, 0, 1, 0, batch_size=4, epoch=1)
    assert one == two
    assert sorted(one) == sorted(other_epoch) and one != other_epoch


def test_resume_start_step_skips_trained_steps(tmp_path):
    source = TextLines(str(lines_file(tmp_path, [f"s{i}" for i in range(40)])))
    source.index()
    stream = ShardedBatches(source, 4, identity, seed=1)
    full = list(stream)
    stream.start_step = 3
    assert list(stream) == full[3:]


def test_blank_lines_are_skipped_and_counted(tmp_path):
    source = TextLines(str(lines_file(tmp_path, ["one", "", "   ", "two", "\t"])))
    source.index()
    assert [source[i] for i in range(len(source))] == [("one",), ("two",)]
    assert source.blank_lines == 3


def test_max_samples_takes_the_first_sentences(tmp_path):
    source = TextLines(str(lines_file(tmp_path, ["a", "", "b", "c", "d"])))
    source.index(max_samples=2)
    assert [source[i][0] for i in range(len(source))] == ["a", "b"]


def test_missing_file_names_path_and_key(tmp_path):
    with pytest.raises(DataError, match=r"nope\.txt: no such file \(data\.source\.path\)"):
        TextLines(str(tmp_path / "nope.txt")).index()


def test_non_utf8_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"fine\nalso fine\ncaf\xe9 latin-1\n")
    with pytest.raises(DataError, match=r"bad\.txt:3: not valid UTF-8 \(byte 0xe9 at column 4\)"):
        TextLines(str(path)).index()


def test_empty_file_is_an_error(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"\n  \n")
    with pytest.raises(DataError, match=r"empty\.txt: no sentences"):
        TextLines(str(path)).index()


def test_too_few_sentences_for_one_batch(tmp_path):
    source = TextLines(str(lines_file(tmp_path, ["a", "b", "c"])))
    source.index()
    with pytest.raises(DataError, match="fewer than one step of data.batch_size=4"):
        ShardedBatches(source, 4, identity)


def test_collated_batches_have_example_axis(tmp_path):
    from simcse_pl.data.collate import Collator
    from simcse_pl.encoders.backbone import load_tokenizer

    collate = Collator(load_tokenizer(None), max_len=8)
    batch = collate([("ab",), ("a much longer sentence than the other",)])
    assert batch["input_ids"].shape[:2] == (2, 1) and batch["input_ids"].shape[2] == 8
    assert batch["attention_mask"][0, 0].sum() < batch["attention_mask"][1, 0].sum()
    assert isinstance(batch["input_ids"], torch.Tensor)
