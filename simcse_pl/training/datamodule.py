"""SimCSEDataModule: training batches from a source, STS tasks for validation and test.

Training batches are tokenized inside dataloader workers and padded to the longest sentence of the batch.
Every batch holds ``input_ids`` / ``attention_mask`` (/ ``token_type_ids``) shaped ``[B, S, L]``: ``S``
sentences per example (1 for unlabeled text, which the module encodes twice; 3 for NLI triplets).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, Dataset
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from simcse_pl.data.batching import ShardedBatches, StreamedBatches
from simcse_pl.training.checkpointing import ResumableLoader
from simcse_pl.evaluation import Task, load_tasks
from simcse_pl.evaluation.retrieval import with_roles
from simcse_pl.data.collate import clip_text
from simcse_pl.data.samplers.base import Sampler
from simcse_pl.errors import DataError
from simcse_pl.data.sources.base import examples_label
from simcse_pl.data.sources.hf import HFText
from simcse_pl.data.views.base import View
from simcse_pl.data.collate import Collator
from simcse_pl.config import DataConfig

log = logging.getLogger(__name__)


class SentenceSet(Dataset):
    """The distinct sentences of a task (``task.sentences``), sorted by length so each batch pads little."""

    def __init__(self, task: Task) -> None:
        self.task = task
        self.order = sorted(range(len(task.sentences)), key=lambda i: len(task.sentences[i]))

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, i: int) -> tuple[int, str]:
        return self.order[i], self.task.sentences[self.order[i]]


class EvalCollator:
    """Tokenizes (index, sentence) pairs; keeps the indices so embeddings can be put back in task order."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, max_len: int | None) -> None:
        self.tokenizer = tokenizer
        self.max_len = max_len

    def __call__(self, items: list[tuple[int, str]]) -> dict[str, torch.Tensor]:
        limit = self.tokenizer.model_max_length if self.max_len is None else self.max_len
        encoded = self.tokenizer(
            [clip_text(s, limit) for _, s in items], padding=True, truncation=True, max_length=self.max_len,
            return_tensors="pt",
        )
        return {**encoded, "index": torch.tensor([i for i, _ in items])}


class SimCSEDataModule(pl.LightningDataModule):
    def __init__(
        self,
        source: Any,
        tokenizer: PreTrainedTokenizerBase | None,
        batch_size: int = DataConfig.batch_size,
        max_len: int = DataConfig.max_len,
        document_max_len: int | None = DataConfig.document_max_len,
        max_samples: int | None = DataConfig.max_samples,
        shuffle: bool = DataConfig.shuffle,
        drop_last: bool = DataConfig.drop_last,
        num_workers: int = DataConfig.num_workers,
        seed: int = DataConfig.seed,
        val_tasks: list[str] | None = None,
        test_tasks: list[str] | None = None,
        data_dir: str = DataConfig.data_dir,
        eval_batch_size: int = DataConfig.eval_batch_size,
        eval_max_len: int | None = DataConfig.eval_max_len,
        views: View | None = None,
        sampler: Sampler | None = None,
    ) -> None:
        super().__init__()  # defaults and ranges: simcse_pl/config.py (DataConfig), checked before this is built
        views, sampler = views or None, sampler or None  # an empty option (data/views=dropout) means none
        if sampler is not None and isinstance(source, HFText):
            raise DataError("data/sampler: a streamed source (data=hf_text / hf_nli) is read in order, not sampled")
        self.source = source
        self.views = views
        self.sampler = sampler
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_len = max_len
        self.document_max_len = document_max_len
        # model.prompts (query / document prefixes), set with the tokenizer by the run: training columns and
        # retrieval tasks take them
        self.prompts: dict[str, str | None] = {}
        self.max_samples = max_samples
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.num_workers = num_workers
        self.seed = seed
        self.val_task_names = list(val_tasks or [])
        self.test_task_names = list(test_tasks if test_tasks is not None else val_tasks or [])
        self.data_dir = data_dir
        self.eval_batch_size = eval_batch_size
        self.eval_max_len = eval_max_len
        self.val_tasks: list[Task] = []
        self.test_tasks: list[Task] = []
        self.train_set: ShardedBatches | StreamedBatches | None = None
        self._indexed = False
        # workers must not inherit a tokenizer that already spun up its own thread pool
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit", "validate") and not self.val_tasks:
            self.val_tasks = with_roles(load_tasks(self.val_task_names, self.data_dir, "dev", tasks_key="data.val_tasks"),
                                        self.prompts)
        if stage in (None, "test") and not self.test_tasks:
            self.test_tasks = with_roles(load_tasks(self.test_task_names, self.data_dir, "test", tasks_key="data.test_tasks"),
                                         self.prompts)
        if stage in (None, "fit") and self.train_set is None:
            self.train_set = self._train_set()

    def check_training_data(self) -> None:
        """Read the training file now (every line is checked as it is indexed), so a missing, empty or bad file
        fails before the pre-training validation instead of after it. Streams are checked as they are read."""
        if not isinstance(self.source, HFText) and not self._indexed:
            self.source.index(self.max_samples)
            self._indexed = True

    def _train_set(self) -> ShardedBatches | StreamedBatches:
        rank, world = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
        collate = Collator(self.tokenizer, self.max_len, self.views, self.document_max_len, self.prompts)
        if isinstance(self.source, HFText):
            return StreamedBatches(self.source, self.batch_size, collate, rank, world, self.seed, self.max_samples)
        self.check_training_data()
        batches = ShardedBatches(
            self.source, self.batch_size, collate, rank, world, self.shuffle, self.seed, self.drop_last, self.sampler
        )
        columns = tuple(getattr(self.source, "columns", ()))
        kind = examples_label(self.source[0], columns) if len(self.source) else "examples"
        log.info(
            "training data: %d %s -> %d steps of %d × %d rank(s) per epoch; %d blank lines skipped, "
            "%d left out by data.drop_last",
            len(self.source), kind, len(batches), self.batch_size, world, self.source.blank_lines, batches.dropped,
        )
        return batches

    def train_dataloader(self) -> DataLoader:
        assert self.train_set is not None, "call setup('fit') first"
        # workers persist across epochs: no restart each epoch; the stream shares its epoch with them
        options = {
            "num_workers": self.num_workers,
            "pin_memory": torch.cuda.is_available(),
            "persistent_workers": self.num_workers > 0,
        }
        if isinstance(self.train_set, ShardedBatches):  # its position goes into checkpoints
            return ResumableLoader(self.train_set, **options)
        return DataLoader(self.train_set, batch_size=None, **options)

    def _eval_loaders(self, tasks: list[Task]) -> list[DataLoader]:
        collate = EvalCollator(self.tokenizer, self.eval_max_len)
        return [DataLoader(SentenceSet(t), batch_size=self.eval_batch_size, collate_fn=collate) for t in tasks]

    def val_dataloader(self) -> list[DataLoader]:
        return self._eval_loaders(self.val_tasks)

    def test_dataloader(self) -> list[DataLoader]:
        return self._eval_loaders(self.test_tasks)
