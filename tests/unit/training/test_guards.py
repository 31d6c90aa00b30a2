"""Numeric safety: a non-finite loss stops the run naming the step (weights untouched) or, when configured,
skips that step's update and counts it; gradient clipping and atomic checkpoints are on by default."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback
from torch import nn
from torch.utils.data import DataLoader

from simcse_pl.training.checkpointing import AtomicCheckpointIO
from simcse_pl.training.guards import NonFiniteGuard
from simcse_pl.errors import NonFiniteLossError

REPO = Path(__file__).resolve().parents[3]
STEPS, BAD_STEP = 6, 2


class Toy(pl.LightningModule):
    """A linear layer whose loss is NaN at step ``BAD_STEP``."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(4, 1)

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        loss = self.layer(batch).pow(2).mean()
        return loss * float("nan") if self.global_step == BAD_STEP else loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=0.1)


class Snapshots(Callback):
    """The weights at the start of each step."""

    def __init__(self) -> None:
        self.weights: dict[int, torch.Tensor] = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.weights[trainer.global_step] = pl_module.layer.weight.detach().clone()


def fit(guard: NonFiniteGuard) -> tuple[Toy, Snapshots, pl.Trainer]:
    torch.manual_seed(0)
    model, snapshots = Toy(), Snapshots()
    trainer = pl.Trainer(
        accelerator="cpu", max_epochs=1, callbacks=[guard, snapshots], gradient_clip_val=1.0, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
    )
    trainer.fit(model, DataLoader(torch.randn(STEPS, 4), batch_size=1))
    return model, snapshots, trainer


def test_non_finite_loss_stops_the_run_naming_the_step():
    guard = NonFiniteGuard()
    with pytest.raises(NonFiniteLossError) as exc:
        fit(guard)
    assert str(exc.value) == (
        f"non-finite training loss (nan) at step {BAD_STEP} (epoch 0); the weights were not updated. Lower "
        "optim.lr, or set callbacks.nonfinite_guard.skip=true to skip such steps"
    )


def test_weights_are_untouched_when_the_run_stops():
    snapshots = Snapshots()

    class Stop(NonFiniteGuard):
        def on_exception(self, trainer, pl_module, exception) -> None:
            snapshots.weights["at_error"] = pl_module.layer.weight.detach().clone()

    torch.manual_seed(0)
    trainer = pl.Trainer(accelerator="cpu", max_epochs=1, callbacks=[Stop(), snapshots], logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    with pytest.raises(NonFiniteLossError):
        trainer.fit(Toy(), DataLoader(torch.randn(STEPS, 4), batch_size=1))
    assert torch.equal(snapshots.weights["at_error"], snapshots.weights[BAD_STEP])
    assert torch.isfinite(snapshots.weights["at_error"]).all()


def test_skip_drops_the_update_counts_and_logs_it(caplog: pytest.LogCaptureFixture):
    guard = NonFiniteGuard(skip=True)
    with caplog.at_level("WARNING", logger="simcse_pl.training.guards"):
        model, snapshots, trainer = fit(guard)
    assert guard.skipped == 1 and guard.state_dict() == {"skipped": 1}
    assert trainer.callback_metrics["train/skipped_nonfinite"] == 1
    assert caplog.messages == [f"non-finite training loss (nan) at step {BAD_STEP} (epoch 0): step skipped (1 so far)"]
    assert torch.equal(snapshots.weights[BAD_STEP + 1], snapshots.weights[BAD_STEP])  # no update at the bad step
    assert not torch.equal(snapshots.weights[BAD_STEP], snapshots.weights[BAD_STEP - 1])  # but at the others
    assert torch.isfinite(model.layer.weight).all()
    adam = trainer.optimizers[0].state[model.layer.weight]
    assert int(adam["step"]) == STEPS - 1  # the moments never saw the NaN step


def test_default_trainer_clips_gradients_and_writes_checkpoints_atomically(tmp_path: Path):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=["trainer=cpu", f"paths.output_dir={tmp_path}"])
    assert cfg.trainer.gradient_clip_val == 1.0  # the paper's HF Trainer max_grad_norm
    trainer = instantiate(cfg.trainer, logger=False)
    assert trainer.gradient_clip_val == 1.0
    assert isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="fp16 mixed precision runs on a GPU")
def test_fp16_uses_a_grad_scaler(tmp_path: Path):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=["trainer=gpu", "trainer.precision=16-mixed", f"paths.output_dir={tmp_path}"])
    trainer = instantiate(cfg.trainer, logger=False)
    assert isinstance(trainer.precision_plugin.scaler, torch.amp.GradScaler)
