"""The pieces of exact resume, each alone: atomic saves, safe loads, RNG streams and the data position."""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from simcse_pl.training.checkpointing import AtomicCheckpointIO, ExactResume, ResumableLoader
from simcse_pl.data.batching import ShardedBatches
from simcse_pl.data.sources.text_lines import TextLines


def identity(examples, rng=None):
    return examples


class Interrupted(Exception):
    pass


def test_a_save_that_dies_midway_leaves_the_previous_checkpoint_whole(tmp_path: Path, monkeypatch):
    io, path = AtomicCheckpointIO(), tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"global_step": 1, "w": torch.ones(1000)}, path)

    def dies_halfway(self, checkpoint, partial: Path) -> None:
        partial.write_bytes(b"half a checkpoint")
        raise Interrupted

    with monkeypatch.context() as patch:
        patch.setattr(AtomicCheckpointIO, "_write", dies_halfway)
        with pytest.raises(Interrupted):
            io.save_checkpoint({"global_step": 2, "w": torch.zeros(1000)}, path)
    assert io.load_checkpoint(path)["global_step"] == 1
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.ckpt", "last.ckpt.partial"]
    io.save_checkpoint({"global_step": 3}, path)  # the next save replaces both
    assert io.load_checkpoint(path)["global_step"] == 3
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.ckpt"]


def test_checkpoints_load_as_data_only(tmp_path: Path):
    path = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}, "payload": ExactResume()}, path)  # an arbitrary object: code on unpickling
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        AtomicCheckpointIO().load_checkpoint(path)


def test_rng_streams_survive_a_weights_only_round_trip(tmp_path: Path):
    saving = ExactResume()
    saving.on_train_batch_end(None, None, None, None, 0)  # type: ignore[arg-type]
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.save(saving.state_dict(), tmp_path / "rng.pt")

    torch.manual_seed(123), np.random.seed(123), random.seed(123)
    restored = ExactResume()
    restored.load_state_dict(torch.load(tmp_path / "rng.pt", weights_only=True))
    restored.on_train_batch_start(None, None, None, 0)  # type: ignore[arg-type]
    drawn = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(drawn[0], expected[0]) and np.array_equal(drawn[1], expected[1]) and drawn[2] == expected[2]


def test_work_between_steps_does_not_change_the_training_stream():
    rng = ExactResume()
    rng.on_train_batch_end(None, None, None, None, 0)  # type: ignore[arg-type]
    expected = torch.rand(3)
    torch.rand(100)  # e.g. a validation loader drawing its seed
    rng.on_train_batch_start(None, None, None, 1)  # type: ignore[arg-type]
    assert torch.equal(torch.rand(3), expected)


@pytest.fixture
def corpus(tmp_path: Path) -> TextLines:
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(f"s{i}" for i in range(48)) + "\n", encoding="utf-8")
    source = TextLines(str(path))
    source.index()
    return source


def loader(source: TextLines, workers: int) -> ResumableLoader:
    return ResumableLoader(
        ShardedBatches(source, 4, identity, seed=3), num_workers=workers, persistent_workers=workers > 0
    )


@pytest.mark.parametrize("workers", [0, 2])
def test_loader_state_counts_batches_taken_not_prefetched_and_resumes_there(corpus: TextLines, workers: int):
    whole = list(loader(corpus, 0))  # 12 steps
    first = loader(corpus, workers)
    taken = []
    for batch in first:  # workers run ahead by prefetch_factor batches; the state must not
        taken.append(batch)
        if len(taken) == 5:
            break
    state = first.state_dict()
    assert state == {"epoch": 0, "steps": 5}

    resumed = loader(corpus, workers)
    resumed.load_state_dict(state)
    assert taken + list(resumed) == whole
    assert resumed.state_dict() == {"epoch": 0, "steps": 12}
    resumed.dataset.set_epoch(1)  # the next epoch starts from its first step, in its own order
    next_epoch = list(resumed)
    assert len(next_epoch) == 12 and next_epoch != whole


def test_saved_position_of_another_epoch_is_not_applied(corpus: TextLines):
    resumed = loader(corpus, 0)
    resumed.load_state_dict({"epoch": 0, "steps": 12})  # saved at the end of epoch 0
    resumed.dataset.set_epoch(1)  # Lightning continues with epoch 1
    fresh = loader(corpus, 0)
    fresh.dataset.set_epoch(1)
    assert list(resumed) == list(fresh)

