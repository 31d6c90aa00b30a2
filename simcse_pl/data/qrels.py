"""BEIR's relevance judgements (``qrels/<split>.tsv``: ``query-id<TAB>corpus-id<TAB>score``) as training pairs."""

from __future__ import annotations

import csv
import os

from simcse_pl.data.files import check_file, csv_reader, decode_line
from simcse_pl.data.text_index import TextIndex
from simcse_pl.errors import DataError

SPLIT_FILES = {"dev": ("dev", "validation"), "validation": ("validation", "dev")}


def qrels_path(folder: str, split: str) -> str:
    """``folder/qrels/<split>.tsv`` (``dev`` falls back to ``validation.tsv`` and back, as BEIR's downloads vary)."""
    candidates = [os.path.join(folder, "qrels", f"{name}.tsv") for name in SPLIT_FILES.get(split, (split,))]
    return next((p for p in candidates if os.path.isfile(p)), candidates[0])


def positive_pairs(path: str, queries: TextIndex, corpus: TextIndex, key: str) -> list[tuple[str, str]]:
    """``(query id, document id)`` of every judgement > 0, in file order. A line naming a query or document that is
    not in its file, a malformed line, or a judged query without any positive is a ``DataError`` naming the line."""
    check_file(path, key)
    pairs: list[tuple[str, str]] = []
    judged: dict[str, int] = {}
    with open(path, "rb") as f:
        lines = (decode_line(raw, path, n) for n, raw in enumerate(f, start=1))
        for lineno, row in enumerate(csv_reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
            if not row or (lineno == 1 and row[0].strip() == "query-id"):
                continue
            if len(row) < 3:
                raise DataError(f"{path}:{lineno}: expected query-id<TAB>corpus-id<TAB>score, found {len(row)} fields")
            query, doc = row[0].strip(), row[1].strip()
            try:
                score = float(row[2])
            except ValueError:
                raise DataError(f"{path}:{lineno}: score {row[2]!r} is not a number") from None
            if query not in queries.position:
                raise DataError(f"{path}:{lineno}: query {query!r} is not in {queries.path}")
            if doc not in corpus.position:
                raise DataError(f"{path}:{lineno}: document {doc!r} is not in {corpus.path}")
            judged.setdefault(query, lineno)
            if score > 0:
                pairs.append((query, doc))
    positive = {q for q, _ in pairs}
    lonely = next((q for q in judged if q not in positive), None)
    if lonely is not None:
        raise DataError(f"{path}:{judged[lonely]}: query {lonely!r} has no positive document (every score <= 0)")
    if not pairs:
        raise DataError(f"{path}: no judgements (an empty qrels file)")
    return pairs
