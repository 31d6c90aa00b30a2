"""SimCSEModule: a Hugging Face encoder, a pooler and an objective (plus weighted auxiliaries), trained by
Lightning. The training step itself is simcse_pl/training/step.py."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor, nn
from transformers import get_linear_schedule_with_warmup
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from simcse_pl.config import OptimConfig, StepConfig
from simcse_pl.encoders.sentence_encoder import SentenceEncoder
from simcse_pl.evaluation import Task, flatten, run_suite
from simcse_pl.encoders.lora import is_adapter_key
from simcse_pl.losses.base import Auxiliary, Objective
from simcse_pl.training.distributed import gather_batch
from simcse_pl.training.step import encode_views, training_step



class SimCSEModule(pl.LightningModule):
    """Unsupervised SimCSE when batches hold one sentence per example (encoded twice, so the two dropout
    masks make the positive pair); supervised when they hold (anchor, positive[, hard negative]); any other
    objective on the seam of simcse_pl/losses/base.py."""

    def __init__(
        self,
        model: dict[str, Any],
        loss: Objective,
        optim: dict[str, Any] | None = None,
        step: dict[str, Any] | None = None,
        auxiliaries: dict[str, Auxiliary] | None = None,
        tokenizer: PreTrainedTokenizerBase | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["loss", "auxiliaries", "tokenizer"])
        # backbone + tokenizer + pooler (+ prompt): simcse_pl/encoders/. Its two modules are registered here under
        # their own names (checkpoint keys encoder.* / pooler.*); the SentenceEncoder holds the same modules.
        # ``tokenizer``: the run's, already loaded for the data (one tokenizer per run)
        encoder = SentenceEncoder.from_config(model, tokenizer)
        self.encoder = encoder.encoder
        self.pooler = encoder.pooler
        self.__dict__["sentence_encoder"] = encoder  # not a registered child: its modules are the two above
        self.objective = loss
        self.auxiliaries = nn.ModuleDict(auxiliaries or {})
        for auxiliary in self.auxiliaries.values():
            auxiliary.attach(self)
        # the schema's defaults (simcse_pl/config.py) for what the caller leaves out: declared once, there
        self.optim = {**dataclasses.asdict(OptimConfig()), **(optim or {})}
        self.step = {**dataclasses.asdict(StepConfig()), **(step or {})}
        self._eval_outputs: dict[int, list[tuple[Tensor, Tensor]]] = {}
        self.last_validated_step = -1

    def embed(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None = None,
              column: Tensor | None = None) -> Tensor:
        """Sentence vectors ``[n, d]`` for token ids ``[n, L]``: the SentenceEncoder's (prompt template, backbone,
        pooler, denoising, MLP head); ``column``: each row's column in the training batch."""
        return self.sentence_encoder(input_ids, attention_mask, token_type_ids, column)

    # LoRA: the frozen backbone weights are rebuilt from model.* and never checkpointed; the adapters, the pooler's
    # head and every other module's state are (simcse_pl/encoders/lora.py)
    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        state = super().state_dict(*args, **kwargs)
        if self.sentence_encoder.adapter_only:
            prefix = kwargs.get("prefix", args[1] if len(args) > 1 else "")
            for key in [k for k in state if k.startswith(prefix + "encoder.") and not is_adapter_key(k)]:
                del state[key]
        return state

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        if not self.sentence_encoder.adapter_only:
            return super().load_state_dict(state_dict, strict=strict, assign=assign)
        expected = set(self.state_dict())
        missing = sorted(expected - set(state_dict))
        unexpected = sorted(set(state_dict) - expected)
        if strict and (missing or unexpected):
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}: missing keys {missing[:5]}, "
                               f"unexpected keys {unexpected[:5]}")
        result = super().load_state_dict(state_dict, strict=False, assign=assign)
        return type(result)([k for k in result.missing_keys if k in expected], result.unexpected_keys)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        """``[B, S, L]`` token ids -> ``[B, S', d]`` vectors, as the training step encodes them (GradCache included)."""
        return encode_views(self.sentence_encoder, batch, self.step["mini_batch_size"])

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        gather = None
        if self.step["gather"] and self.trainer.world_size > 1:
            gather = functools.partial(gather_batch, self)
        loss, parts = training_step(self.sentence_encoder, self.objective, self.auxiliaries, batch, self.global_step,
                                    self.step["mini_batch_size"], gather)
        if self._loggers_write_this_step():
            size = batch["input_ids"].shape[0]
            self.log("train/loss", loss, prog_bar=True, batch_size=size)
            for name, value in parts.items():
                if name != "loss":
                    self.log(f"train/{name}_loss", value, batch_size=size)
        return loss

    def _loggers_write_this_step(self) -> bool:
        """Loggers write every ``trainer.log_every_n_steps`` steps, so logging the loss only then gives the same
        curves; each ``self.log`` costs Lightning about a millisecond of Python, a visible share of a small
        model's step (scripts/benchmark.py)."""
        return (self.global_step + 1) % self.trainer.log_every_n_steps == 0

    # evaluation: embed each task's distinct sentences, then let the task score them
    def validation_step(self, batch: dict[str, Tensor], batch_idx: int, dataloader_idx: int = 0) -> None:
        self._collect(batch, dataloader_idx)

    def test_step(self, batch: dict[str, Tensor], batch_idx: int, dataloader_idx: int = 0) -> None:
        self._collect(batch, dataloader_idx)

    def _collect(self, batch: dict[str, Tensor], dataloader_idx: int) -> None:
        inputs = {k: v for k, v in batch.items() if k != "index"}
        self._eval_outputs.setdefault(dataloader_idx, []).append((batch["index"], self.embed(**inputs)))

    def on_validation_epoch_end(self) -> None:
        self._log_tasks("val", self.trainer.datamodule.val_tasks)
        self.last_validated_step = self.global_step

    def on_test_epoch_end(self) -> None:
        self._log_tasks("test", self.trainer.datamodule.test_tasks)

    def _log_tasks(self, stage: str, tasks: list[Task]) -> None:
        """Hand each task its embeddings (put back in ``task.sentences`` order) to the suite runner and log its
        results as flat keys (``simcse_pl.evaluation.suite``: ``<stage>/<task>_<metric>``, ``<stage>/avg_*``
        over two or more STS tasks; in validation, STS-B's ``align`` / ``uniform``, which the paper follows over
        training). The nested results stay in ``eval_results[stage]``."""
        embeddings = {}
        for i, task in enumerate(tasks):
            index = torch.cat([ix for ix, _ in self._eval_outputs[i]])
            emb = torch.cat([e for _, e in self._eval_outputs[i]])
            embeddings[task.name] = torch.empty_like(emb).index_copy_(0, index.to(emb.device), emb)
        self._eval_outputs.clear()
        results = run_suite(tasks, embeddings=embeddings, align_uniform=stage == "val")
        if not hasattr(self, "eval_results"):
            self.eval_results: dict[str, dict[str, Any]] = {}
        self.eval_results[stage] = results
        for key, value in flatten(stage, results).items():
            self.log(key, value, add_dataloader_idx=False, sync_dist=False)

    def configure_optimizers(self) -> dict[str, Any]:
        no_decay = ("bias", "LayerNorm.weight", "layernorm.weight", "layer_norm.weight")
        params = [(n, p) for n, p in self.named_parameters() if p.requires_grad]
        groups = [
            {"params": [p for n, p in params if not n.endswith(no_decay)], "weight_decay": self.optim["weight_decay"]},
            {"params": [p for n, p in params if n.endswith(no_decay)], "weight_decay": 0.0},
        ]
        optimizer = torch.optim.AdamW(
            groups, lr=self.optim["lr"], betas=tuple(self.optim["betas"]), eps=self.optim["eps"],
            fused=self.device.type == "cuda" or None,
        )
        total = self.trainer.estimated_stepping_batches
        if total == float("inf"):
            raise ValueError("the training stream has no length: set trainer.max_steps for the LR schedule")
        warmup = int(self.optim["warmup_ratio"] * total)
        scheduler = get_linear_schedule_with_warmup(optimizer, warmup, int(total))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def on_train_epoch_start(self) -> None:
        # Lightning re-seeds samplers each epoch; the train stream shuffles by epoch itself, so tell it.
        dataset = getattr(self.trainer.train_dataloader, "dataset", None)
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(self.current_epoch)
