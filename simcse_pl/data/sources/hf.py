"""Hugging Face datasets streamed in order (hub id or local files, ``datasets`` in streaming mode): ``HFText``
for sentences, ``HFNLI`` for NLI rows. For corpora too large to index on local disk."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

from simcse_pl.data.sources.nli import BAD_ROW_POLICIES
from simcse_pl.errors import DataError
from simcse_pl.data.files import check_file

log = logging.getLogger(__name__)


class HFText:
    """Sentences from a Hugging Face dataset, streamed (``datasets.load_dataset(..., streaming=True)``).

    ``path`` is a hub id (``princeton-nlp/datasets-for-simcse``) or a builder name for local files
    (``text``, ``csv``, ``json`` with ``data_files``). The stream has no length, so set
    ``trainer.max_steps``.
    """

    def __init__(
        self,
        path: str,
        data_files: str | list[str] | None = None,
        split: str = "train",
        column: str = "text",
        shuffle_buffer: int = 10_000,
    ) -> None:
        self.path = path
        self.data_files = data_files
        self.split = split
        self.column = column
        self.shuffle_buffer = shuffle_buffer

    def stream(self, rank: int, world_size: int, seed: int, epoch: int, max_samples: int | None) -> Any:
        import datasets
        from datasets.distributed import split_dataset_by_node

        for f in [self.data_files] if isinstance(self.data_files, str) else self.data_files or []:
            if "://" not in f:
                check_file(f, "data.source.data_files")
        ds = datasets.load_dataset(self.path, data_files=self.data_files, split=self.split, streaming=True)
        if max_samples is not None:
            ds = ds.take(max_samples)
        ds = split_dataset_by_node(ds, rank=rank, world_size=world_size)
        if self.shuffle_buffer > 1:
            ds = ds.shuffle(seed=seed, buffer_size=self.shuffle_buffer)
        ds.set_epoch(epoch)
        return ds

    def example(self, row: dict[str, Any]) -> tuple[str, ...] | None:
        """``(text,)`` of a streamed row; None for a blank one (skipped and counted by the batcher)."""
        if self.column not in row:
            raise DataError(f"{self.path}: no column {self.column!r} (data.source.column)")
        text = (row[self.column] or "").strip()
        return (text,) if text else None



class HFNLI(HFText):
    """NLI triplets (or pairs) streamed from a Hugging Face dataset: the hub's ``princeton-nlp/datasets-for-simcse``
    with ``data_files=nli_for_simcse.csv``, or builder ``csv`` with local files. ``columns`` as ``NLITriplets``
    (default: sent0, sent1, and hard_neg when the rows have it). A stream has no line numbers, so a bad row is
    named by its fields; for local files ``NLITriplets`` names the line."""

    def __init__(
        self,
        path: str,
        data_files: str | list[str] | None = None,
        split: str = "train",
        columns: Sequence[str] | None = None,
        on_bad_row: Literal["error", "skip"] = "error",
        shuffle_buffer: int = 10_000,
    ) -> None:
        if on_bad_row not in BAD_ROW_POLICIES:
            raise DataError(f"data.source.on_bad_row={on_bad_row!r} is not one of {', '.join(BAD_ROW_POLICIES)}")
        super().__init__(path, data_files, split, "sent0", shuffle_buffer)
        self.columns = tuple(columns) if columns else None
        self.on_bad_row = on_bad_row
        self.skipped_rows = 0

    def example(self, row: dict[str, Any]) -> tuple[str, ...] | None:
        """The row's sentences in ``columns`` order; None for a bad row under ``on_bad_row=skip``."""
        columns = self.columns or (("sent0", "sent1", "hard_neg") if "hard_neg" in row else ("sent0", "sent1"))
        missing = [c for c in columns if c not in row]
        if missing:
            raise DataError(f"{self.path}: no column {', '.join(map(repr, missing))} in {sorted(row)} (data.source.columns)")
        fields = tuple(row[c].strip() if isinstance(row[c], str) else "" for c in columns)
        empty = [c for c, field in zip(columns, fields) if not field]
        if not empty:
            return fields
        if self.on_bad_row == "error":
            raise DataError(
                f"{self.path}: empty {', '.join(empty)} in row {row!r}; fix the row, or set "
                "data.source.on_bad_row=skip to drop such rows with a count"
            )
        self.skipped_rows += 1
        log.warning("%s: skipped a row with empty %s (%d so far in this process)", self.path, ", ".join(empty), self.skipped_rows)
        return None
