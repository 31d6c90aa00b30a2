"""Clustering: k-means on the texts' unit vectors, k = the number of gold labels; V-measure (×100) vs the labels.

A file of texts with their cluster label: jsonl (``{"text": ..., "label": ...}`` per line), csv/tsv with a header
naming ``text`` and ``label``, or headerless ``text<TAB>label``; a ``.clusters`` suffix before the extension
(``topics.clusters.tsv``) or ``data.val_tasks=[clustering:path]`` marks a file as a clustering task. Vectors are
unit-normalised first (SimCSE compares by cosine), then k-means (scikit-learn, k-means++, 10 restarts, seed 0)
clusters them, so the score is deterministic. V-measure is the harmonic mean of homogeneity (each cluster holds
one label) and completeness (each label falls in one cluster), as Rosenberg & Hirschberg (2007) define it.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import ClassVar

import numpy as np
import torch.nn.functional as F
from torch import Tensor

from simcse_pl.data.files import bad_csv_record, check_file, csv_reader, decode_line
from simcse_pl.errors import DataError

SEED = 0


@dataclass(frozen=True)
class ClusteringTask:
    name: str
    texts: list[str] = field(repr=False)
    labels: list[str] = field(repr=False)
    kind: ClassVar[str] = "clustering"

    @cached_property
    def sentences(self) -> list[str]:
        return list(dict.fromkeys(self.texts))

    def sizes(self) -> dict[str, int]:
        return {"texts": len(self.texts), "clusters": len(set(self.labels))}

    def evaluate(self, embeddings: Tensor) -> dict[str, float]:
        from sklearn.cluster import KMeans

        position = {s: i for i, s in enumerate(self.sentences)}
        vectors = F.normalize(embeddings.float().cpu(), dim=-1).numpy()[[position[t] for t in self.texts]]
        k = len(set(self.labels))
        predicted = KMeans(n_clusters=k, n_init=10, random_state=SEED).fit_predict(vectors.astype(np.float64))
        return {"v_measure": 100 * v_measure(self.labels, predicted.tolist())}


def _entropy(counts: Sequence[int], total: int) -> float:
    return -sum(c / total * math.log(c / total) for c in counts if c)


def v_measure(labels: Sequence[object], clusters: Sequence[object]) -> float:
    """Rosenberg & Hirschberg's V-measure (beta = 1) of a clustering against gold labels, in [0, 1]."""
    n = len(labels)
    joint = Counter(zip(labels, clusters, strict=True))
    by_label, by_cluster = Counter(labels), Counter(clusters)
    h_labels, h_clusters = _entropy(list(by_label.values()), n), _entropy(list(by_cluster.values()), n)
    # conditional entropies H(C|K) and H(K|C)
    h_labels_given = -sum(c / n * math.log(c / by_cluster[k]) for (_, k), c in joint.items())
    h_clusters_given = -sum(c / n * math.log(c / by_label[lab]) for (lab, _), c in joint.items())
    homogeneity = 1.0 if h_labels == 0 else 1 - h_labels_given / h_labels
    completeness = 1.0 if h_clusters == 0 else 1 - h_clusters_given / h_clusters
    return 0.0 if homogeneity + completeness == 0 else 2 * homogeneity * completeness / (homogeneity + completeness)


def is_clustering_file(name: str) -> bool:
    return name.startswith("clustering:") or ".clusters." in os.path.basename(name)


def _csv_fields(line: str, delimiter: str, path: str, lineno: int) -> list[str]:
    """The fields of one line; a field too long for the csv module is a one-line ``DataError``, not a trace."""
    try:
        return next(csv_reader([line], delimiter=delimiter))
    except csv.Error as exc:
        raise bad_csv_record(path, lineno, exc) from None


def load_clustering(path: str, key: str = "--tasks") -> ClusteringTask:
    """A clustering task from a file of (text, label) rows, named after the file (without ``.clusters.ext``)."""
    path = path.removeprefix("clustering:")
    check_file(path, key)
    rows: list[tuple[str, str, int]] = []
    with open(path, "rb") as f:
        lines = [(n, decode_line(raw, path, n).rstrip("\r\n")) for n, raw in enumerate(f, start=1)]
    lines = [(n, line) for n, line in lines if line.strip()]
    if path.lower().endswith((".jsonl", ".ndjson")):
        for n, line in lines:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{n}: invalid JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(obj, dict) or "text" not in obj or "label" not in obj:
                raise DataError(f"{path}:{n}: expected a JSON object with text and label")
            rows.append((str(obj["text"]), str(obj["label"]), n))
    else:
        delimiter = "," if path.lower().endswith(".csv") else "\t"
        parsed = [(n, _csv_fields(line, delimiter, path, n)) for n, line in lines]
        header = [h.strip() for h in parsed[0][1]] if parsed else []
        text_col, label_col, body = 0, 1, parsed
        if "text" in header and "label" in header:
            text_col, label_col, body = header.index("text"), header.index("label"), parsed[1:]
        for n, fields in body:
            if len(fields) <= max(text_col, label_col):
                raise DataError(f"{path}:{n}: expected text and label, found {len(fields)} field(s)")
            rows.append((fields[text_col], fields[label_col], n))
    for text, label, n in rows:
        if not text.strip() or not label.strip():
            raise DataError(f"{path}:{n}: empty text or label")
    if len({label for _, label, _ in rows}) < 2:
        raise DataError(f"{path}: a clustering task needs at least 2 distinct labels")
    name = os.path.basename(path).split(".clusters.")[0] if ".clusters." in path else os.path.splitext(os.path.basename(path))[0]
    return ClusteringTask(name, [t.strip() for t, _, _ in rows], [lab.strip() for _, lab, _ in rows])
