"""Where training sentences come from: readers of local files and Hugging Face streams, with input checks.

``TextLines`` never holds the corpus text in memory: one pass checks every line (UTF-8, blank lines) and
records the byte offset of each sentence (8 bytes a line, 8 MB for wiki1m); sentences are then read by
seeking. That gives an exact global shuffle per epoch (as the paper's random sampler) and a position in
the data that is just a step number, so a run can resume exactly.

``HFText`` streams a Hugging Face dataset (hub id or local files) with ``datasets`` in streaming mode.
How sources are cut into batches for each DDP rank and dataloader worker is ``batching.py``.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator, Sequence
from typing import Any, Literal, NamedTuple, Union

import numpy as np
from simcse_pl.data.files import UTF8_BOM, check_file, decode_line
from simcse_pl.errors import DataError
from simcse_pl.data.files import bad_csv_record, csv_reader

log = logging.getLogger(__name__)


class Labeled(NamedTuple):
    """An example with a gold score (or class): its texts and the label the objective needs (scored pairs)."""

    texts: tuple[str, ...]
    label: float


# what a source yields per item: the texts of one example (one sentence, a pair, a triplet), or them with a label
Example = Union[tuple[str, ...], Labeled]


class TextLines:
    """One sentence per line of a local UTF-8 text file. Blank lines are skipped and counted."""

    columns = ("text",)

    def __init__(self, path: str) -> None:
        self.path = str(path)
        self.offsets = np.zeros(0, dtype=np.int64)
        self.blank_lines = 0
        self._file: Any = None

    def index(self, max_samples: int | None = None) -> None:
        """Scan the file once: validate it and record where each non-blank line starts."""
        check_file(self.path, "data.source.path")
        offsets: list[int] = []
        blank = 0
        with open(self.path, "rb") as f:
            position = 0
            for lineno, raw in enumerate(f, start=1):
                if max_samples is not None and len(offsets) >= max_samples:
                    break
                if decode_line(raw, self.path, lineno).strip():
                    bom = len(UTF8_BOM) if lineno == 1 and raw.startswith(UTF8_BOM) else 0
                    offsets.append(position + bom)  # reads seek past the mark decode_line dropped
                else:
                    blank += 1
                position += len(raw)
        if not offsets:
            raise DataError(f"{self.path}: no sentences (the file is empty or has only blank lines)")
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.blank_lines = blank
        if blank:
            log.warning("%s: skipped %d blank or whitespace-only lines", self.path, blank)

    def __len__(self) -> int:
        return len(self.offsets)

    def __getitem__(self, i: int) -> tuple[str, ...]:
        if self._file is None:
            self._file = open(self.path, "rb")  # noqa: SIM115 - kept open per process for seeking
        self._file.seek(int(self.offsets[i]))
        return (self._file.readline().decode("utf-8").strip(),)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_file": None}  # open handles do not cross into worker processes


BAD_ROW_POLICIES = ("error", "skip")


class NLITriplets:
    """SimCSE's supervised CSV (``sent0,sent1,hard_neg``, or ``sent0,sent1`` pairs): header required, quoted
    fields, CRLF or LF.

    Like ``TextLines`` it keeps only the byte span of each record (16 bytes a row, 4.4 MB for the 275k-row
    file) and reads rows by seeking. Both the index scan and the reads parse with the ``csv`` module, so
    quoted commas and newlines mean the same thing in both. ``columns`` picks (and orders) header columns;
    by default ``sent0, sent1`` and ``hard_neg`` when the header has it. A row with a missing or empty field
    is a ``DataError`` naming its line (``on_bad_row="error"``), or is dropped and counted (``"skip"``).
    """

    def __init__(self, path: str, columns: Sequence[str] | None = None, on_bad_row: Literal["error", "skip"] = "error") -> None:
        if on_bad_row not in BAD_ROW_POLICIES:
            raise DataError(f"data.source.on_bad_row={on_bad_row!r} is not one of {', '.join(BAD_ROW_POLICIES)}")
        self.path = str(path)
        self.requested = tuple(columns) if columns else None
        self.on_bad_row = on_bad_row
        self.columns: tuple[str, ...] = ()
        self.picks: list[int] = []
        self.spans = np.zeros((0, 2), dtype=np.int64)
        self.blank_lines = 0
        self.skipped_rows = 0
        self._file: Any = None

    def _records(self, f: Any) -> Iterator[tuple[int, int, int, list[str]]]:
        """``(start byte, end byte, first line, fields)`` of each CSV record of the open binary file ``f``."""
        position, lineno = [0], [0]

        def lines() -> Iterator[str]:
            for raw in f:
                lineno[0] += 1
                position[0] += len(raw)
                yield decode_line(raw, self.path, lineno[0])

        reader = csv_reader(lines(), strict=True)
        while True:
            start, first = position[0], lineno[0] + 1
            try:
                row = next(reader, None)
            except csv.Error as exc:
                raise bad_csv_record(self.path, first, exc) from None
            if row is None:
                return
            yield start, position[0], first, row

    def _select(self, header: list[str]) -> None:
        header = [h.strip() for h in header]
        duplicate = next((h for i, h in enumerate(header) if h in header[:i]), None)
        if duplicate is not None:
            raise DataError(
                f"{self.path}:1: duplicate column name {duplicate!r} in the header {','.join(header)!r} "
                "(which of them to read would be a guess; rename one)"
            )
        default = ("sent0", "sent1", "hard_neg") if "hard_neg" in header else ("sent0", "sent1")
        wanted = self.requested or default
        missing = [c for c in wanted if c not in header]
        if missing:
            raise DataError(
                f"{self.path}:1: the header {','.join(header)!r} has no column {', '.join(map(repr, missing))} "
                "(a header row is required, e.g. sent0,sent1,hard_neg; or set data.source.columns)"
            )
        self.columns = tuple(wanted)
        self.picks = [header.index(c) for c in wanted]

    def _problem(self, row: list[str], width: int) -> str | None:
        """Why ``row`` cannot be trained on, or None."""
        if len(row) != width:
            return f"expected {width} fields, found {len(row)}"
        empty = [self.columns[k] for k, i in enumerate(self.picks) if not row[i].strip()]
        return f"empty {', '.join(empty)}" if empty else None

    def index(self, max_samples: int | None = None) -> None:
        """Scan the file once: validate every record and keep where it starts and ends."""
        check_file(self.path, "data.source.path")
        spans: list[tuple[int, int]] = []
        blank = skipped = 0
        with open(self.path, "rb") as f:
            records = self._records(f)
            first = next(records, None)
            if first is None:
                raise DataError(f"{self.path}: empty file (a header row such as sent0,sent1,hard_neg is required)")
            header = first[3]
            self._select(header)
            width = len(header)
            for start, end, lineno, row in records:
                if max_samples is not None and len(spans) >= max_samples:
                    break
                if not row or (len(row) == 1 and not row[0].strip()):
                    blank += 1
                    continue
                problem = self._problem(row, width)
                if problem is None:
                    spans.append((start, end))
                elif self.on_bad_row == "skip":
                    skipped += 1
                    log.debug("%s:%d: skipped (%s)", self.path, lineno, problem)
                else:
                    raise DataError(
                        f"{self.path}:{lineno}: {problem} (header {','.join(header)}); fix the row, or set "
                        "data.source.on_bad_row=skip to drop such rows with a count"
                    )
        if not spans:
            raise DataError(f"{self.path}: no usable rows ({skipped} bad rows skipped, {blank} blank lines)")
        self.spans = np.asarray(spans, dtype=np.int64)
        self.blank_lines, self.skipped_rows = blank, skipped
        if skipped:
            log.warning("%s: skipped %d rows with a missing or empty field (data.source.on_bad_row=skip)", self.path, skipped)
        if blank:
            log.warning("%s: skipped %d blank lines", self.path, blank)

    def __len__(self) -> int:
        return len(self.spans)

    def __getitem__(self, i: int) -> tuple[str, ...]:
        if self._file is None:
            self._file = open(self.path, "rb")  # noqa: SIM115 - kept open per process for seeking
        start, end = self.spans[i]
        self._file.seek(int(start))
        row = next(csv_reader([self._file.read(int(end - start)).decode("utf-8")], strict=True))
        return tuple(row[k].strip() for k in self.picks)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_file": None}  # open handles do not cross into worker processes


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


class ScoredPairs:
    """Sentence pairs with a gold score or label (STS-style data) for objectives that learn from scores (CoSENT,
    AnglE): each item is ``Labeled((sentence1, sentence2), score)``, which the Collator turns into
    ``batch["labels"]``.

    ``path`` is read by ``simcse_pl.data.pair_files.read_pairs`` in any of its layouts (``layout``: ``auto`` | ``header``
    (csv/tsv with a ``sentence1,sentence2,score|label`` header) | ``jsonl`` | ``senteval`` (STS-B's
    ``sts-*.csv``) | ``headerless`` (``s1<TAB>s2<TAB>label``, Chinese STS sets)); a bad row is a ``DataError``
    naming ``file:line``. Pair files are small (STS-B train: 5,749 pairs), so the pairs are held in memory.

    Scores:
      - ``score_range`` ``[low, high]``: the scale the scores are on (STS-B: ``[0, 5]``); a score outside it is a
        ``DataError`` naming its line (a wrong column, or a file on another scale).
      - ``normalize``: ``null`` (default) keeps the raw scores; ``minmax`` maps ``score_range`` (default: the
        file's lowest and highest score) linearly onto ``[0, 1]``. CoSENT and AnglE's ranking terms see only the
        order of the scores, which any increasing map keeps, so for them this changes nothing; it matters where
        a score is read as a value: AnglE's in-batch term takes pairs scored ``>= positive_threshold`` as
        positives, and a regression objective would want scores on its similarity's scale. Prefer an explicit
        ``score_range``: the file's own min and max differ between splits and subsets.
    """

    columns = ("sentence1", "sentence2")


    labelled = True  # yields Labeled examples: objectives that need scores can train on it
    def __init__(
        self,
        path: str,
        layout: Literal["auto", "header", "jsonl", "senteval", "headerless"] = "auto",
        normalize: Literal["minmax"] | None = None,
        score_range: Sequence[float] | None = None,
    ) -> None:
        if layout not in ("auto", "header", "jsonl", "senteval", "headerless"):
            raise DataError(f"data.source.layout={layout!r} is not one of auto, header, jsonl, senteval, headerless")
        if normalize not in (None, "minmax"):
            raise DataError(f"data.source.normalize={normalize!r} is not one of null, minmax")
        if score_range is not None:
            score_range = [float(x) for x in score_range]
            if len(score_range) != 2 or not all(np.isfinite(score_range)) or score_range[0] >= score_range[1]:
                raise DataError(f"data.source.score_range={score_range!r}: must be [low, high] with low < high")
        self.path = str(path)
        self.layout = layout
        self.normalize = normalize
        self.score_range = None if score_range is None else tuple(score_range)
        self.pairs: list[tuple[str, str]] = []
        self.scores = np.zeros(0, dtype=np.float64)
        self.blank_lines = 0
        self.read_layout: str | None = None

    def index(self, max_samples: int | None = None) -> None:
        """Read and check the file (its first ``max_samples`` pairs), and normalise the scores."""
        from simcse_pl.data.pair_files import describe, read_pairs  # pair_files imports this module

        found = read_pairs(self.path, self.layout, max_samples)
        scores = np.asarray(found.scores, dtype=np.float64)
        if self.score_range is not None:
            low, high = self.score_range
            outside = np.flatnonzero((scores < low) | (scores > high))
            if len(outside):
                i = int(outside[0])
                raise DataError(
                    f"{found.path}:{found.lines[i]}: score {found.scores[i]:g} is outside data.source.score_range "
                    f"[{low:g}, {high:g}] ({len(outside)} such rows; a wrong column, or another scale?)"
                )
        if self.normalize == "minmax":
            low, high = self.score_range or (float(scores.min()), float(scores.max()))
            if high <= low:
                raise DataError(
                    f"{found.path}: every score is {low:g}, so normalize=minmax has no range to map; "
                    "set data.source.score_range or normalize=null"
                )
            scores = (scores - low) / (high - low)
        self.pairs, self.scores, self.blank_lines, self.read_layout = found.pairs, scores, found.blank_lines, found.layout
        log.info("%s", describe(found))

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> Labeled:
        return Labeled(self.pairs[i], float(self.scores[i]))
