"""``RetrievalRows``: (query, positive document[, hard negatives]) rows for training a retriever (``data=retrieval``).

Two inputs:

- **a BEIR folder** (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``): one row per judgement > 0, as
  ``(query, title + " " + text)``. BEIR gives no negatives (in-batch negatives only); ``simcse-mine`` writes a row
  file with mined ones. The corpus and the queries are indexed by byte offset (``data/text_index.py``), never held
  as strings.
- **a row file**: ``.jsonl`` (``{"query", "positive", "negative_1", ...}`` or ``"negatives": [...]``, what
  ``simcse-mine`` and sentence-transformers' ``mine_hard_negatives(output_format="n-tuple")`` write) or ``.csv`` /
  ``.tsv`` with a header row whose columns are, by position, query, positive, negative_1 … negative_k (the names
  are free: ``anchor,positive,negative_1`` reads the same). Each row is kept as its byte span and read by seeking.

**A query with several positives gives several rows, one per positive**, not a positive sampled per epoch: every
judged pair is trained once an epoch, the epoch's length (the LR schedule, an exact resume) is fixed before
training, and it is the row layout ``mine_hard_negatives`` and ``simcse-mine`` write. The rows of one query share
its text, so the duplicate-free sampler (``data/sampler=no_duplicates``, data=retrieval's default) never puts two
of them in one step, where one's positive would be the other's in-batch negative; the same holds for two queries
sharing a positive, and for a document that is one row's negative and another's positive.

``num_negatives``: the first ``k`` negatives of each row (a row with fewer is an error naming its line);
``null``: as many as the first row has (each row must have at least as many).
"""

from __future__ import annotations

import json
import logging
import os

import numpy as np

from simcse_pl.data.files import UTF8_BOM, OffsetReader, check_file, csv_reader, decode_line
from simcse_pl.data.qrels import positive_pairs, qrels_path
from simcse_pl.data.sources.nli import NLITriplets
from simcse_pl.data.text_index import TextIndex
from simcse_pl.errors import DataError

log = logging.getLogger(__name__)

ROW_FILES = (".jsonl", ".csv", ".tsv")


def jsonl_row(line: str, path: str, lineno: int) -> list[str]:
    """``[query, positive, negatives...]`` of one jsonl row, or a one-line ``DataError``."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{lineno}: invalid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(row, dict) or "query" not in row or "positive" not in row:
        raise DataError(f"{path}:{lineno}: expected a JSON object with 'query', 'positive' and optional "
                        "'negative_1' ... or 'negatives' (a BEIR folder is given as the folder)")
    negatives = row.get("negatives")
    if negatives is None:
        numbered = sorted((k for k in row if k.startswith("negative_") and k[9:].isdigit()), key=lambda k: int(k[9:]))
        negatives = [row[k] for k in numbered]
    texts = [row["query"], row["positive"], *negatives]
    if not all(isinstance(t, str) and t.strip() for t in texts):
        raise DataError(f"{path}:{lineno}: an empty or non-text field")
    return [t.strip() for t in texts]


class RetrievalRows:
    """Training rows ``(query, positive, negative_1 … negative_k)`` from a BEIR folder or a row file."""

    def __init__(self, path: str, split: str = "train", num_negatives: int | None = None) -> None:
        if num_negatives is not None and num_negatives < 0:
            raise DataError(f"data.source.num_negatives={num_negatives}: must be >= 0 (or null: all)")
        self.path = str(path)
        self.split = split
        self.num_negatives = num_negatives
        self.columns: tuple[str, ...] = ()
        self.blank_lines = 0
        self.corpus: TextIndex | None = None
        self.queries: TextIndex | None = None
        self.pairs = np.zeros((0, 2), dtype=np.int64)  # BEIR: (query position, document position)
        self.spans = np.zeros((0, 2), dtype=np.int64)  # jsonl rows: byte span
        self.table: NLITriplets | None = None  # csv / tsv rows
        self._file = OffsetReader(self.path)

    @property
    def beir(self) -> bool:
        return os.path.isdir(self.path)

    def index(self, max_samples: int | None = None) -> None:
        if self.beir:
            self._index_beir(max_samples)
        elif self.path.endswith(".jsonl"):
            self._index_jsonl(max_samples)
        elif self.path.endswith((".csv", ".tsv")):
            self._index_table(max_samples)
        else:
            check_file(self.path, "data.source.path")
            raise DataError(f"{self.path}: data=retrieval reads a BEIR folder or a {'/'.join(ROW_FILES)} row file")
        k = len(self.columns) - 2
        log.info("%s: %d training rows (query, positive%s)", self.path, len(self), f", {k} negatives" if k else "")

    def _index_beir(self, max_samples: int | None) -> None:
        if self.num_negatives:
            raise DataError(f"{self.path}: a BEIR folder has no negatives (data.source.num_negatives="
                            f"{self.num_negatives}); mine them first: simcse-mine MODEL {self.path} --output rows.jsonl")
        self.corpus = TextIndex(os.path.join(self.path, "corpus.jsonl"), "data.source.path").index()
        self.queries = TextIndex(os.path.join(self.path, "queries.jsonl"), "data.source.path").index()
        pairs = positive_pairs(qrels_path(self.path, self.split), self.queries, self.corpus, "data.source.split")
        pairs = pairs[:max_samples] if max_samples else pairs
        self.pairs = np.asarray([(self.queries.position[q], self.corpus.position[d]) for q, d in pairs], dtype=np.int64)
        self.columns = ("query", "positive")

    def _width(self, found: int, path: str, lineno: int) -> int:
        """How many columns a row keeps: 2 + k (``num_negatives``, or the first row's count)."""
        wanted = 2 + (self.num_negatives if self.num_negatives is not None else found - 2)
        if found < wanted:
            raise DataError(f"{path}:{lineno}: {found - 2} negatives, fewer than data.source.num_negatives="
                            f"{wanted - 2} (or null: as many as the first row has)")
        return wanted

    def _index_jsonl(self, max_samples: int | None) -> None:
        check_file(self.path, "data.source.path")
        spans: list[tuple[int, int]] = []
        width = None
        with open(self.path, "rb") as f:
            position = 0
            for lineno, raw in enumerate(f, start=1):
                start, position = position, position + len(raw)
                if max_samples is not None and len(spans) >= max_samples:
                    break
                line = decode_line(raw, self.path, lineno)
                if not line.strip():
                    self.blank_lines += 1
                    continue
                found = len(jsonl_row(line, self.path, lineno))
                if width is None:
                    width = self._width(found, self.path, lineno)
                elif found < width:
                    raise DataError(f"{self.path}:{lineno}: {found - 2} negatives, the first row has {width - 2}")
                spans.append((start + (len(UTF8_BOM) if lineno == 1 and raw.startswith(UTF8_BOM) else 0), position))
        if not spans:
            raise DataError(f"{self.path}: no rows (empty file)")
        self.spans = np.asarray(spans, dtype=np.int64)
        assert width is not None
        self.columns = ("query", "positive", *(f"negative_{i}" for i in range(1, width - 1)))

    def _index_table(self, max_samples: int | None) -> None:
        check_file(self.path, "data.source.path")
        delimiter = "\t" if self.path.endswith(".tsv") else ","
        with open(self.path, "rb") as f:
            first = decode_line(f.readline(), self.path, 1)
        header = next(csv_reader([first], delimiter=delimiter), [])
        if len(header) < 2:
            raise DataError(f"{self.path}:1: expected a header row: query{delimiter}positive[{delimiter}negative_1 ...]")
        width = self._width(len(header), self.path, 1)
        self.table = NLITriplets(self.path, columns=[h.strip() for h in header[:width]], delimiter=delimiter)
        self.table.index(max_samples)
        self.blank_lines = self.table.blank_lines
        self.columns = ("query", "positive", *(f"negative_{i}" for i in range(1, width - 1)))

    def __len__(self) -> int:
        return len(self.table) if self.table is not None else len(self.pairs) + len(self.spans)

    def __getitem__(self, i: int) -> tuple[str, ...]:
        if self.table is not None:
            return self.table[i]
        if len(self.pairs):
            assert self.queries is not None and self.corpus is not None
            query, doc = self.pairs[i]
            return self.queries[int(query)], self.corpus[int(doc)]
        start, end = self.spans[i]
        line = self._file.read(int(start), int(end)).decode("utf-8")
        return tuple(jsonl_row(line, self.path, 0)[: len(self.columns)])

