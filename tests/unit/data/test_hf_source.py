"""The `datasets` streaming source, on a local text file (the same code path as a hub id)."""

from collections import Counter

import pytest

from simcse_pl.data.batching import StreamedBatches
from simcse_pl.errors import DataError
from simcse_pl.data.sources.hf import HFText


def identity(examples, rng=None):
    return examples


def test_streams_every_line_once_across_two_ranks(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("".join(f"line {i}\n" for i in range(40)) + "\n   \n", encoding="utf-8")
    source = HFText("text", data_files=str(path), shuffle_buffer=16)
    seen = Counter()
    blank = 0
    for rank in (0, 1):
        stream = StreamedBatches(source, 4, identity, rank=rank, world_size=2, seed=3)
        seen.update(example[0] for batch in stream for example in batch)
        blank += stream.blank_lines
    assert seen == Counter(f"line {i}" for i in range(40))
    assert blank == 2


def test_missing_local_file_names_the_key(tmp_path):
    stream = StreamedBatches(HFText("text", data_files=str(tmp_path / "nope.txt")), 4, identity)
    with pytest.raises(DataError, match=r"nope\.txt: no such file \(data\.source\.data_files\)"):
        next(iter(stream))
