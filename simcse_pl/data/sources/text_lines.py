"""``TextLines``: one sentence per line of a local UTF-8 file (unsupervised SimCSE's wiki1m).

It never holds the corpus text in memory: one pass checks every line (UTF-8, blank lines) and records the byte
offset of each sentence (8 bytes a line, 8 MB for wiki1m); sentences are then read by seeking. That gives an exact
global shuffle per epoch (as the paper's random sampler) and a position in the data that is just a step number,
so a run can resume exactly. How sources are cut into batches per DDP rank and worker is ``data/batching.py``."""

from __future__ import annotations

import logging

import numpy as np

from simcse_pl.data.files import UTF8_BOM, OffsetReader, check_file, decode_line
from simcse_pl.errors import DataError

log = logging.getLogger(__name__)


class TextLines:
    """One sentence per line of a local UTF-8 text file. Blank lines are skipped and counted."""

    columns = ("text",)

    def __init__(self, path: str) -> None:
        self.path = str(path)
        self.offsets = np.zeros(0, dtype=np.int64)
        self.blank_lines = 0
        self._file = OffsetReader(self.path)

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
        return (self._file.readline(int(self.offsets[i])).decode("utf-8").strip(),)

