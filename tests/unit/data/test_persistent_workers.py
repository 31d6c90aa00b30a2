"""Persistent dataloader workers read the epoch and resume position set after they started."""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import DataLoader

from simcse_pl.data.batching import ShardedBatches
from simcse_pl.data.sources.text_lines import TextLines


def texts(examples: list[tuple[str, ...]], rng=None) -> list[str]:
    return [e[0] for e in examples]


def stream(tmp_path: Path) -> ShardedBatches:
    path = tmp_path / "lines.txt"
    path.write_text("".join(f"sentence {i}\n" for i in range(40)), encoding="utf-8")
    source = TextLines(str(path))
    source.index()
    return ShardedBatches(source, batch_size=4, collate=texts, seed=7)


def test_persistent_workers_follow_set_epoch_and_start_step(tmp_path: Path):
    persistent = stream(tmp_path)
    loader = DataLoader(persistent, batch_size=None, num_workers=2, persistent_workers=True)
    reference = stream(tmp_path)  # read in the main process: what every epoch must be
    for epoch, start_step in [(0, 0), (1, 0), (2, 3)]:
        for ds in (persistent, reference):
            ds.set_epoch(epoch)
            ds.start_step = start_step
        assert list(loader) == list(reference), f"epoch {epoch}, start_step {start_step}"
    reference.set_epoch(0)
    reference.start_step = 0
    assert list(reference) != list(loader)  # epochs do differ: the loader is on epoch 2
