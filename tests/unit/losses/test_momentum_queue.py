"""ESimCSE's momentum queue: the EMA by hand, the FIFO queue, InfoNCE + the queue term against the paper's loss
written with numpy, the momentum encoder outside the optimizer and inside the checkpoint, DDP and GradCache."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import ddp_equivalence
from ddp_equivalence import assert_gradcache_matches_plain, assert_two_processes_match_one, make_batch
from objective_checks import check_value_and_gradients, cos
from simcse_pl.config import ConfigError, check_config, compose_config
from simcse_pl.losses import InfoNCE, StepState
from simcse_pl.losses.base import Objective
from simcse_pl.losses.momentum_queue import MomentumQueue
from simcse_pl.errors import CheckpointError
from simcse_pl.training.module import SimCSEModule
from simcse_pl.training.resume import check_matches_model
from tiny_model import TINY_MODEL


def module_with_queue(**options) -> SimCSEModule:
    torch.manual_seed(0)
    return SimCSEModule(model=TINY_MODEL, loss=InfoNCE(), auxiliaries={"momentum_queue": MomentumQueue(**options)})


def step_state(module: SimCSEModule, batch: dict, z: torch.Tensor) -> StepState:
    """What the training step hands the queue (one process: no gather)."""
    return StepState(batch=batch, z=z, encoder=module.sentence_encoder, objective=module.objective,
                     step=module.global_step)


def attach_trainer(module: SimCSEModule, global_step: int = 0) -> SimpleNamespace:
    """Just what the auxiliary and configure_optimizers read from a Trainer."""
    trainer = SimpleNamespace(world_size=1, global_step=global_step, estimated_stepping_batches=10)
    module._trainer = trainer
    return trainer


# --- the EMA ---------------------------------------------------------------------------------------------------


def test_momentum_encoder_starts_as_a_copy_and_is_never_trained():
    module = module_with_queue()
    queue = module.auxiliaries["momentum_queue"]
    live = dict(module.encoder.named_parameters()) | {f"pooler.{n}": p for n, p in module.pooler.named_parameters()}
    copied = dict(queue.encoder.named_parameters()) | {f"pooler.{n}": p for n, p in queue.pooler.named_parameters()}
    assert live.keys() == copied.keys()
    for name, p in copied.items():
        assert torch.equal(p, live[name]) and p.data_ptr() != live[name].data_ptr()
        assert not p.requires_grad
    attach_trainer(module)
    optimizer = module.configure_optimizers()["optimizer"]
    in_optimizer = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert not in_optimizer & {id(p) for p in queue.parameters()}
    assert {id(p) for p in module.pooler.parameters()} <= in_optimizer


def test_ema_update_matches_a_hand_computation():
    module = module_with_queue(momentum=0.9)
    queue = module.auxiliaries["momentum_queue"]
    before = {n: p.detach().double().numpy().copy() for n, p in queue.encoder.named_parameters()}
    with torch.no_grad():
        for p in module.encoder.parameters():
            p.add_(torch.randn_like(p))
        for p in module.pooler.parameters():
            p.mul_(3.0)
    live = {n: p.detach().double().numpy() for n, p in module.encoder.named_parameters()}
    queue.update(module.encoder, module.pooler)
    for name, p in queue.encoder.named_parameters():
        expected = 0.9 * before[name] + 0.1 * live[name]
        np.testing.assert_allclose(p.detach().double().numpy(), expected, rtol=1e-6, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(queue.pooler.mlp.dense.weight.detach().numpy(),
                               (0.9 + 0.1 * 3.0) * (module.pooler.mlp.dense.weight.detach().numpy() / 3.0), rtol=1e-5)
    for _ in range(300):  # repeated updates converge on the live weights: (1 - 0.1)^300 of the gap remains
        queue.update(module.encoder, module.pooler)
    for (name, p), q in zip(queue.encoder.named_parameters(), module.encoder.parameters(), strict=True):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=0, msg=name)


def test_update_happens_once_per_optimizer_step_before_the_queue_vectors():
    module = module_with_queue(momentum=0.5, queue_size=4)
    queue = module.auxiliaries["momentum_queue"]
    trainer = attach_trainer(module)
    batch = make_batch(2, 2, 0)
    z = module(batch)
    start = queue.encoder.embeddings.word_embeddings.weight.clone()
    with torch.no_grad():
        module.encoder.embeddings.word_embeddings.weight.add_(1.0)
    queue(step_state(module, batch, z))  # global step 0: the momentum encoder is still the initial copy
    assert torch.equal(queue.encoder.embeddings.word_embeddings.weight, start)
    trainer.global_step = 1
    queue(step_state(module, batch, z))  # after an optimizer step: one EMA update (0.5 of the way)
    queue(step_state(module, batch, z))  # a second micro-batch of the same step: none
    torch.testing.assert_close(queue.encoder.embeddings.word_embeddings.weight, start + 0.5)
    assert int(queue.updated_at) == 1


def test_queue_vectors_are_the_momentum_encoders_without_dropout_through_the_training_pooler():
    module = module_with_queue(queue_size=8)
    queue = module.auxiliaries["momentum_queue"]
    attach_trainer(module)
    module.train()
    batch = make_batch(3, 2, 1)
    queue(step_state(module, batch, module(batch)))
    module.eval()
    with torch.no_grad():
        module.pooler.train()  # the MLP head of cls + mlp_only_train, as anchors get it in training
        expected = module.sentence_encoder(batch["input_ids"][:, 0], batch["attention_mask"][:, 0])
    torch.testing.assert_close(queue.keys, expected)  # column 0: the original sentences


# --- the queue -------------------------------------------------------------------------------------------------


def test_queue_is_first_in_first_out():
    queue = MomentumQueue(queue_size=5)
    queue.queue = torch.zeros(5, 2)
    assert queue.keys.shape == (0, 2)
    rows = [torch.full((k, 2), float(v)) for v, k in ((1, 2), (2, 2), (3, 3), (4, 7))]
    queue.enqueue(rows[0])
    assert queue.keys[:, 0].tolist() == [1, 1]
    queue.enqueue(rows[1])
    assert queue.keys[:, 0].tolist() == [1, 1, 2, 2]
    queue.enqueue(rows[2])
    assert queue.keys[:, 0].tolist() == [2, 2, 3, 3, 3]  # the two oldest left
    assert int(queue.filled) == 5
    queue.enqueue(rows[3])  # more than it holds: the newest 5
    assert queue.keys[:, 0].tolist() == [4] * 5


def test_a_batch_is_scored_against_the_queue_before_it_joins_it():
    module = module_with_queue(queue_size=16)
    queue = module.auxiliaries["momentum_queue"]
    attach_trainer(module)
    batch = make_batch(4, 2, 2)
    z = module(batch)
    first = queue(step_state(module, batch, z))
    assert first.item() == 0.0 and int(queue.filled) == 4  # the first step has no queue yet
    second = queue(step_state(module, batch, z))
    assert second.item() > 0 and int(queue.filled) == 8


# --- the loss against the paper's formula ----------------------------------------------------------------------


def esimcse_reference(keys: np.ndarray, tau: float, decoupled: bool = False, symmetric: bool = False):
    """The paper's eq. 5 with loops: anchor against positives (+ hard negatives) + queue, one denominator."""

    def direction(anchors, positives, hard, rows):
        n = len(anchors)
        losses = []
        for i in range(n)[rows or slice(0, n)]:
            terms = [math.exp(cos(anchors[i], positives[j]) / tau) for j in range(n) if not (decoupled and j == i)]
            if hard is not None:
                terms += [math.exp(cos(anchors[i], hard[j]) / tau) for j in range(n)]
            terms += [math.exp(cos(anchors[i], k) / tau) for k in keys]
            losses.append(-cos(anchors[i], positives[i]) / tau + math.log(sum(terms)))
        return float(np.mean(losses))

    def loss(z: np.ndarray, labels, rows) -> float:
        hard = z[:, 2] if z.shape[1] > 2 else None
        value = direction(z[:, 0], z[:, 1], hard, rows)
        return (value + direction(z[:, 1], z[:, 0], None, rows)) / 2 if symmetric else value

    return loss


class InfoNCEPlusQueue(Objective):
    """``loss=infonce`` + ``auxiliary=[momentum_queue]`` at weight 1, on fixed queue vectors."""

    def __init__(self, objective: InfoNCE, keys: torch.Tensor) -> None:
        super().__init__()
        self.objective = objective
        self.queue = MomentumQueue(queue_size=len(keys))
        self.queue.queue = torch.zeros_like(keys)
        self.queue.enqueue(keys)

    def forward(self, z, labels=None, rows=None):
        return self.objective(z, labels, rows) + self.queue.queue_term(self.objective, z, rows)


@pytest.mark.parametrize("columns", [2, 3])
@pytest.mark.parametrize("options", [{}, {"decoupled": True}, {"symmetric": True}], ids=["plain", "decoupled", "symmetric"])
def test_infonce_plus_queue_term_is_the_papers_loss(columns, options):
    g = torch.Generator().manual_seed(columns)
    z = torch.randn(5, columns, 4, generator=g, dtype=torch.float64)
    keys = torch.randn(6, 4, generator=g, dtype=torch.float64)
    objective = InfoNCEPlusQueue(InfoNCE(tau=0.5, **options), keys)
    reference = esimcse_reference(keys.numpy(), 0.5, **options)
    check_value_and_gradients(objective, reference, z)
    check_value_and_gradients(objective, reference, z, rows=slice(1, 4))  # a DDP rank's anchors


def test_queue_term_alone_is_log_one_plus_queue_over_batch_mass():
    g = torch.Generator().manual_seed(9)
    z = torch.randn(4, 2, 3, generator=g, dtype=torch.float64)
    keys = torch.randn(3, 3, generator=g, dtype=torch.float64)
    term = InfoNCEPlusQueue(InfoNCE(tau=0.1), keys).queue.queue_term(InfoNCE(tau=0.1), z)
    a, p, k = (x.numpy() for x in (z[:, 0], z[:, 1], keys))
    expected = np.mean([
        math.log(1 + sum(math.exp(cos(a[i], km) / 0.1) for km in k) / sum(math.exp(cos(a[i], pj) / 0.1) for pj in p))
        for i in range(4)
    ])
    assert term.item() == pytest.approx(expected, rel=1e-12)


def test_other_objectives_are_refused():
    class Plain(Objective):
        def forward(self, z, labels=None, rows=None):
            return z.sum()

    with pytest.raises(ValueError, match="loss=infonce"):
        SimCSEModule(model=TINY_MODEL, loss=Plain(), auxiliaries={"momentum_queue": MomentumQueue()})


# --- the checkpoint --------------------------------------------------------------------------------------------


def test_momentum_encoder_and_queue_are_in_the_state_dict_and_restored():
    module = module_with_queue(queue_size=6)
    queue = module.auxiliaries["momentum_queue"]
    trainer = attach_trainer(module)
    batch = make_batch(4, 2, 3)
    for step in range(3):
        trainer.global_step = step
        with torch.no_grad():
            module.encoder.embeddings.word_embeddings.weight.add_(0.1)
        queue(step_state(module, batch, module(batch)))
    state = module.state_dict()
    prefix = "auxiliaries.momentum_queue."
    for name in ("queue", "filled", "updated_at", "encoder.embeddings.word_embeddings.weight", "pooler.mlp.dense.weight"):
        assert prefix + name in state
    fresh = module_with_queue(queue_size=6)
    fresh.load_state_dict(state)
    restored = fresh.auxiliaries["momentum_queue"]
    assert int(restored.filled) == 6 and int(restored.updated_at) == 2
    torch.testing.assert_close(restored.keys, queue.keys, rtol=0, atol=0)
    for (name, p), q in zip(restored.named_parameters(), queue.parameters(), strict=True):
        assert torch.equal(p, q), name
    assert not any(k.startswith("encoder.") and prefix in k for k in state)  # the export reads encoder.* only


def test_a_queue_smaller_than_the_batch_keeps_the_batchs_newest_anchors():
    module = module_with_queue(queue_size=3)
    queue = module.auxiliaries["momentum_queue"]
    attach_trainer(module)
    batch = make_batch(5, 2, 3)
    loss = queue(step_state(module, batch, module(batch)))
    assert float(loss) == 0.0  # empty queue on the first step: no term
    with torch.no_grad():
        newest = queue.momentum_vectors(batch, module.sentence_encoder.pooler)[-3:]
    assert int(queue.filled) == 3
    torch.testing.assert_close(queue.keys, newest)


def test_resuming_with_another_queue_size_is_one_line_naming_the_key():
    saved = module_with_queue(queue_size=6).state_dict()
    with pytest.raises(CheckpointError) as err:
        check_matches_model({"state_dict": saved}, module_with_queue(queue_size=4), "last.ckpt")
    assert str(err.value) == ("last.ckpt: saved with auxiliary.momentum_queue.queue_size=6, configured 4: resume "
                              "with the saved queue_size")


# --- config, DDP, GradCache ------------------------------------------------------------------------------------


def test_config_group_and_ranges():
    cfg = compose_config("auxiliary=[momentum_queue]")
    assert (cfg.auxiliary.momentum_queue.momentum, cfg.auxiliary.momentum_queue.queue_size) == (0.995, 160)
    check_config(cfg)
    with pytest.raises(ConfigError, match="momentum"):
        check_config(compose_config("auxiliary=[momentum_queue]", "auxiliary.momentum_queue.momentum=1.5"))
    with pytest.raises(ConfigError, match="queue_size"):
        check_config(compose_config("auxiliary=[momentum_queue]", "auxiliary.momentum_queue.queue_size=0"))


def test_esimcse_preset():
    cfg = compose_config("experiment=quickstart_esimcse")
    check_config(cfg)
    assert cfg.data.views._target_ == "simcse_pl.data.views.word_repetition.WordRepetition" and cfg.data.views.dup_rate == 0.32
    assert list(cfg.auxiliary) == ["momentum_queue"] and cfg.auxiliary.momentum_queue.weight == 1.0
    assert cfg.data.max_samples is None and cfg.data.source.path.endswith("wiki/wiki1m_head11914.txt")
    assert cfg.model.name_or_path == "sentence-transformers/all-MiniLM-L6-v2"
    assert (cfg.data.batch_size, cfg.optim.lr, cfg.loss.tau, cfg.trainer.max_epochs) == (64, 3e-5, 0.05, 1)


# three steps: the queue (7) fills, then drops its oldest; uneven ranks; hard negatives in the last
STEPS = [(make_batch(6, 2, 0), [3, 3]), (make_batch(5, 2, 1), [3, 2]), (make_batch(6, 3, 2), [3, 3])]


@pytest.fixture
def with_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    """The equivalence machinery's module, with the momentum queue attached."""
    plain = ddp_equivalence.SimCSEModule

    def module(**kwargs):
        return plain(**kwargs, auxiliaries={"momentum_queue": MomentumQueue(queue_size=7)})

    monkeypatch.setattr(ddp_equivalence, "SimCSEModule", module)


def test_two_processes_match_one(tmp_path: Path, with_queue):
    assert_two_processes_match_one(tmp_path, InfoNCE, STEPS)


def test_gradcache_matches_the_plain_step(tmp_path: Path, with_queue):
    assert_gradcache_matches_plain(tmp_path, InfoNCE, STEPS)
