"""``NLITriplets``: SimCSE's supervised CSV of (anchor, entailment, contradiction) rows, read by byte span."""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import numpy as np

from simcse_pl.data.files import OffsetReader, bad_csv_record, check_file, csv_reader, decode_line
from simcse_pl.errors import DataError

log = logging.getLogger(__name__)


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

    def __init__(self, path: str, columns: Sequence[str] | None = None, on_bad_row: Literal["error", "skip"] = "error",
                 delimiter: str = ",") -> None:
        if on_bad_row not in BAD_ROW_POLICIES:
            raise DataError(f"data.source.on_bad_row={on_bad_row!r} is not one of {', '.join(BAD_ROW_POLICIES)}")
        self.path = str(path)
        self.requested = tuple(columns) if columns else None
        self.on_bad_row = on_bad_row
        self.delimiter = delimiter  # "\t": the same reader for tab-separated files (data=retrieval's .tsv rows)
        self.columns: tuple[str, ...] = ()
        self.picks: list[int] = []
        self.spans = np.zeros((0, 2), dtype=np.int64)
        self.blank_lines = 0
        self.skipped_rows = 0
        self._file = OffsetReader(self.path)

    def _records(self, f: Any) -> Iterator[tuple[int, int, int, list[str]]]:
        """``(start byte, end byte, first line, fields)`` of each CSV record of the open binary file ``f``."""
        position, lineno = [0], [0]

        def lines() -> Iterator[str]:
            for raw in f:
                lineno[0] += 1
                position[0] += len(raw)
                yield decode_line(raw, self.path, lineno[0])

        reader = csv_reader(lines(), strict=True, delimiter=self.delimiter)
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
        start, end = self.spans[i]
        text = self._file.read(int(start), int(end)).decode("utf-8")
        row = next(csv_reader([text], strict=True, delimiter=self.delimiter))
        return tuple(row[k].strip() for k in self.picks)

