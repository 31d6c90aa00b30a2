"""Retrieval in BEIR's layout: rank a corpus by cosine similarity to each query; nDCG@10, MRR@10, Recall@100.

A folder holds ``corpus.jsonl`` (``{"_id", "title", "text"}`` per line; title optional), ``queries.jsonl``
(``{"_id", "text"}``) and ``qrels/<split>.tsv`` (header ``query-id<TAB>corpus-id<TAB>score``; ``dev`` falls back to
``qrels/validation.tsv``). A document's text is its title and text joined by a space, as sentence-transformers'
BEIR evaluation does. Metrics (×100) follow trec_eval (as BEIR's pytrec_eval): a document is relevant when its
judgement is > 0; nDCG's gain is the judgement, discounted by log2(rank + 1); MRR@10 is 1 / the rank of the first
relevant document within the top 10 (0 if none); Recall@100 is the share of a query's relevant documents in its
top 100. Each is averaged over the queries that have a relevant document. Ties in score keep corpus order.

Roles (``model.prompts``): ``query_prompt`` goes before every query and ``document_prompt`` before every document
(``with_roles``), as sentence-transformers' ``encode_query`` / ``encode_document`` prefix them, so validation,
``simcse-eval`` and an exported model's ``encode_query`` / ``encode_document`` see the same texts.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from simcse_pl.data.files import bad_csv_record, check_file, csv_reader, decode_line
from simcse_pl.errors import DataError
from simcse_pl.evaluation.base import Task

CUTOFFS = {"ndcg_at_10": 10, "mrr_at_10": 10, "recall_at_100": 100}
QRELS_SPLITS = {"dev": ("dev", "validation"), "test": ("test",), "train": ("train",)}


@dataclass(frozen=True)
class RetrievalTask:
    name: str
    queries: dict[str, str] = field(repr=False)  # query id -> text
    corpus: dict[str, str] = field(repr=False)  # doc id -> text
    qrels: dict[str, dict[str, float]] = field(repr=False)  # query id -> doc id -> judgement
    query_prompt: str = ""  # model.prompts.query, before each query
    document_prompt: str = ""  # model.prompts.document, before each document
    kind: ClassVar[str] = "retrieval"

    @cached_property
    def _judged_queries(self) -> list[str]:
        return [q for q in self.queries if any(rel > 0 for rel in self.qrels.get(q, {}).values())]

    def _query(self, query_id: str) -> str:
        return self.query_prompt + self.queries[query_id]

    def _document(self, doc_id: str) -> str:
        return self.document_prompt + self.corpus[doc_id]

    @cached_property
    def sentences(self) -> list[str]:
        return list(dict.fromkeys([*map(self._query, self._judged_queries), *map(self._document, self.corpus)]))

    def sizes(self) -> dict[str, int]:
        return {"queries": len(self._judged_queries), "documents": len(self.corpus)}

    def evaluate(self, embeddings: Tensor) -> dict[str, float]:
        position = {s: i for i, s in enumerate(self.sentences)}
        vectors = F.normalize(embeddings.float().cpu(), dim=-1)
        doc_ids = list(self.corpus)
        docs = vectors[torch.tensor([position[self._document(d)] for d in doc_ids])]
        k = min(max(CUTOFFS.values()), len(doc_ids))
        totals = dict.fromkeys(CUTOFFS, 0.0)
        queries = self._judged_queries
        for start in range(0, len(queries), 256):
            chunk = queries[start : start + 256]
            q = vectors[torch.tensor([position[self._query(i)] for i in chunk])]
            scores = q @ docs.T
            # stable order: equal scores keep corpus order (topk alone does not promise it)
            order = torch.sort(scores, dim=-1, descending=True, stable=True).indices[:, :k]
            for query, ranked in zip(chunk, order.tolist(), strict=True):
                for metric, value in ranking_metrics([doc_ids[i] for i in ranked], self.qrels[query]).items():
                    totals[metric] += value
        return {metric: 100 * total / max(len(queries), 1) for metric, total in totals.items()}


def with_roles(tasks: list[Task], prompts: Mapping[str, str | None] | None) -> list[Task]:
    """``tasks`` with ``model.prompts``' query / document prefixes on each retrieval task (others are unchanged)."""
    query, document = (prompts or {}).get("query") or "", (prompts or {}).get("document") or ""
    if not (query or document):
        return list(tasks)
    return [replace(t, query_prompt=query, document_prompt=document) if isinstance(t, RetrievalTask) else t
            for t in tasks]


def ranking_metrics(ranked: list[str], judgements: dict[str, float]) -> dict[str, float]:
    """nDCG@10, MRR@10 and Recall@100 (as fractions) of one query's ranked document ids."""
    relevant = {d: rel for d, rel in judgements.items() if rel > 0}
    dcg = sum(relevant.get(d, 0.0) / math.log2(rank + 2) for rank, d in enumerate(ranked[:10]))
    ideal = sorted(relevant.values(), reverse=True)[:10]
    idcg = sum(rel / math.log2(rank + 2) for rank, rel in enumerate(ideal))
    first = next((rank for rank, d in enumerate(ranked[:10]) if d in relevant), None)
    found = sum(1 for d in ranked[:100] if d in relevant)
    return {
        "ndcg_at_10": dcg / idcg if idcg else 0.0,
        "mrr_at_10": 0.0 if first is None else 1.0 / (first + 1),
        "recall_at_100": found / len(relevant) if relevant else 0.0,
    }


def is_beir_folder(path: str) -> bool:
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, "corpus.jsonl"))


def _jsonl(path: str, key: str, fields: tuple[str, ...]) -> list[dict]:
    check_file(path, key)
    rows = []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            line = decode_line(raw, path, lineno)
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: invalid JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(obj, dict) or any(k not in obj for k in fields):
                raise DataError(f"{path}:{lineno}: expected a JSON object with {', '.join(fields)}")
            obj["_line"] = lineno
            rows.append(obj)
    return rows


def _tsv_rows(lines: Iterable[str], path: str) -> Iterator[tuple[int, list[str]]]:
    """``(line number, fields)`` of an unquoted tab-separated file; a line the csv module cannot take (a field
    over its limit) is a one-line ``DataError`` naming it, not a trace."""
    reader = csv_reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    while True:
        try:
            row = next(reader, None)
        except csv.Error as exc:
            raise bad_csv_record(path, reader.line_num, exc) from None
        if row is None:
            return
        yield reader.line_num, row


def load_beir(folder: str, split: str = "test", key: str = "--tasks") -> RetrievalTask:
    """A BEIR-layout folder as a retrieval task named after the folder."""
    corpus, queries = {}, {}
    corpus_path, queries_path = os.path.join(folder, "corpus.jsonl"), os.path.join(folder, "queries.jsonl")
    for row in _jsonl(corpus_path, key, ("_id", "text")):
        title = str(row.get("title") or "").strip()
        text = " ".join(p for p in (title, str(row["text"]).strip()) if p)
        if not text:
            raise DataError(f"{corpus_path}:{row['_line']}: empty document")
        corpus[str(row["_id"])] = text
    for row in _jsonl(queries_path, key, ("_id", "text")):
        if not str(row["text"]).strip():
            raise DataError(f"{queries_path}:{row['_line']}: empty query")
        queries[str(row["_id"])] = str(row["text"]).strip()
    candidates = [os.path.join(folder, "qrels", f"{name}.tsv") for name in QRELS_SPLITS.get(split, (split,))]
    qrels_path = next((p for p in candidates if os.path.isfile(p)), candidates[0])
    check_file(qrels_path, key)
    qrels: dict[str, dict[str, float]] = {}
    with open(qrels_path, encoding="utf-8", newline="") as f:
        for lineno, row in _tsv_rows(f, qrels_path):
            if not row or (lineno == 1 and row[0].strip() == "query-id"):
                continue
            if len(row) < 3:
                raise DataError(f"{qrels_path}:{lineno}: expected query-id<TAB>corpus-id<TAB>score, found {len(row)} fields")
            query, doc = row[0].strip(), row[1].strip()
            try:
                score = float(row[2])
            except ValueError:
                raise DataError(f"{qrels_path}:{lineno}: score {row[2]!r} is not a number") from None
            if query not in queries:
                raise DataError(f"{qrels_path}:{lineno}: query {query!r} is not in {queries_path}")
            if doc not in corpus:
                raise DataError(f"{qrels_path}:{lineno}: document {doc!r} is not in {corpus_path}")
            qrels.setdefault(query, {})[doc] = score
    task = RetrievalTask(os.path.basename(os.path.normpath(folder)), queries, corpus, qrels)
    if not task._judged_queries:
        raise DataError(f"{qrels_path}: no query has a relevant document (score > 0)")
    return task
