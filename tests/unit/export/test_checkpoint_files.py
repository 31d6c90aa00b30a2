"""Checkpoints that cannot be used end in one line naming the file and what is wrong, and change nothing on disk;
a full disk during a save keeps the previous checkpoint and leaves no partial file."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import torch

from simcse_pl.training.checkpointing import AtomicCheckpointIO, ExactResume
from simcse_pl.losses import InfoNCE
from simcse_pl.training.module import SimCSEModule
from simcse_pl.errors import CheckpointError
from simcse_pl.training.resume import check_matches_model, resolve_checkpoint
from simcse_pl.export.checkpoint import read_checkpoint
from tiny_model import TINY_MODEL


@pytest.fixture(scope="module")
def module() -> SimCSEModule:
    return SimCSEModule(model=TINY_MODEL, loss=InfoNCE())


@pytest.fixture
def good(tmp_path: Path, module: SimCSEModule) -> Path:
    path = tmp_path / "checkpoints" / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"state_dict": module.state_dict(), "global_step": 7}, path)
    return path


def message(exc: pytest.ExceptionInfo) -> str:
    return str(exc.value)


def test_a_whole_checkpoint_of_this_model_reads_and_matches(good: Path, module: SimCSEModule):
    state = read_checkpoint(str(good), mmap=True)
    assert state["global_step"] == 7
    check_matches_model(state, module, str(good))


def test_empty_file(tmp_path: Path):
    path = tmp_path / "last.ckpt"
    path.write_bytes(b"")
    with pytest.raises(CheckpointError) as exc:
        read_checkpoint(str(path))
    assert message(exc) == f"{path}: empty file (0 bytes), not a checkpoint"


def test_truncated_file_names_the_other_checkpoints_that_are_kept(good: Path):
    (good.parent / "best-step5.ckpt").write_bytes(good.read_bytes())
    whole = good.read_bytes()
    good.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(CheckpointError) as exc:
        read_checkpoint(str(good))
    assert message(exc).startswith(f"{good}: truncated or corrupted checkpoint ({len(whole) // 2} bytes; ")
    assert message(exc).endswith(
        f"; the other checkpoints are kept: resume from one with ckpt_path={good.parent / 'best-step5.ckpt'}"
    )
    assert "\n" not in message(exc)
    assert (good.parent / "best-step5.ckpt").stat().st_size == len(whole)  # nothing deleted


def test_corrupted_bytes(good: Path):
    data = bytearray(good.read_bytes())
    data[100:4000] = b"\x00" * 3900
    good.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"^.*last\.ckpt: (truncated or )?corrupted checkpoint"):
        read_checkpoint(str(good))


def test_a_file_that_is_not_a_checkpoint_at_all(tmp_path: Path):
    path = tmp_path / "notes.ckpt"
    path.write_text("these are my notes\n")
    with pytest.raises(CheckpointError, match="corrupted checkpoint"):
        read_checkpoint(str(path))


def test_a_file_that_would_run_code_is_refused(tmp_path: Path):
    path = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}, "global_step": 1, "payload": ExactResume()}, path)
    with pytest.raises(CheckpointError) as exc:
        read_checkpoint(str(path))
    assert message(exc) == (
        f"{path}: holds objects other than tensors and plain data; refused (checkpoints are loaded with "
        "weights_only=True so that a file cannot run code)"
    )


def test_tensors_without_a_training_state(tmp_path: Path):
    path = tmp_path / "weights.ckpt"
    torch.save({"encoder.weight": torch.ones(2)}, path)
    with pytest.raises(CheckpointError) as exc:
        read_checkpoint(str(path))
    assert message(exc) == f"{path}: not a simcse-pl training checkpoint (no state_dict / global_step)"


def test_missing_file(tmp_path: Path):
    with pytest.raises(CheckpointError) as exc:
        read_checkpoint(str(tmp_path / "gone.ckpt"))
    assert message(exc) == f"{tmp_path / 'gone.ckpt'}: no such checkpoint file"


def test_checkpoint_of_another_model_shape(good: Path):
    other = SimCSEModule(model={**TINY_MODEL, "random_init": {**TINY_MODEL["random_init"], "hidden_size": 16}}, loss=InfoNCE())
    with pytest.raises(CheckpointError) as exc:
        check_matches_model(read_checkpoint(str(good)), other, str(good))
    assert message(exc) == (
        f"{good}: a checkpoint of another model: encoder.embeddings.word_embeddings.weight is [141, 32] there and "
        "[141, 16] in the configured model"
    )


def test_checkpoint_of_another_architecture(good: Path):
    other = SimCSEModule(model={**TINY_MODEL, "pooler": "avg"}, loss=InfoNCE())  # no MLP head
    with pytest.raises(CheckpointError) as exc:
        check_matches_model(read_checkpoint(str(good)), other, str(good))
    assert message(exc) == f"{good}: a checkpoint of another model: 2 not in this model (e.g. pooler.mlp.dense.weight)"


def test_last_without_a_checkpoint_is_an_error(tmp_path: Path):
    with pytest.raises(CheckpointError) as exc:
        resolve_checkpoint("last", str(tmp_path / "checkpoints"))
    assert message(exc) == (
        f"ckpt_path=last: no checkpoint at {tmp_path / 'checkpoints' / 'last.ckpt'} (the run never wrote one: start "
        "it again without ckpt_path, or point hydra.run.dir at the run folder to resume)"
    )
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        resolve_checkpoint(str(tmp_path / "x.ckpt"), str(tmp_path))
    assert resolve_checkpoint(None, str(tmp_path)) is None


def test_full_disk_keeps_the_previous_checkpoint_and_no_partial(good: Path, monkeypatch):
    before = good.read_bytes()

    def disk_full(self, checkpoint, partial: Path) -> None:
        partial.write_bytes(b"the first megabytes of a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(AtomicCheckpointIO, "_write", disk_full)
    with pytest.raises(CheckpointError) as exc:
        AtomicCheckpointIO().save_checkpoint({"state_dict": {}, "global_step": 8}, good)
    assert message(exc) == f"{good}: cannot write the checkpoint (No space left on device); the previous last.ckpt is intact"
    assert good.read_bytes() == before
    assert sorted(p.name for p in good.parent.iterdir()) == ["last.ckpt"]


def test_full_disk_on_the_first_save(tmp_path: Path, monkeypatch):
    def disk_full(self, checkpoint, partial: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(AtomicCheckpointIO, "_write", disk_full)
    path = tmp_path / "last.ckpt"
    with pytest.raises(CheckpointError, match="; no last.ckpt was written$"):
        AtomicCheckpointIO().save_checkpoint({"global_step": 1}, path)
    assert list(tmp_path.iterdir()) == []
