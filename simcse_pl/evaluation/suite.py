"""The suite runner: one way to score a list of tasks, used by validation, ``trainer.test``, ``simcse-eval`` and
inference, and the one place that names metrics for loggers and reads those names back.

Results layout (what ``run_suite`` returns and ``simcse-eval --output`` writes)::

    {"tasks": {"stsb":   {"kind": "sts", "spearman": 83.1, "pearson": 82.0, "pairs": 1379,
                          "align": 0.21, "uniform": -2.4},        # align/uniform: asked for, STS-B only
               "msmarco": {"kind": "retrieval", "ndcg_at_10": 41.0, "mrr_at_10": 35.2, "recall_at_100": 80.1,
                           "queries": 50, "documents": 1000},
               "topics": {"kind": "clustering", "v_measure": 43.2, "texts": 500, "clusters": 10}},
     "avg": {"spearman": 76.3, "pearson": 75.0}}                  # mean over the STS tasks (the paper's Avg.)

Flat keys for loggers (``flatten``): ``<stage>/<task>_<metric>`` for every metric of every task, and
``<stage>/avg_<metric>`` when the stage has two or more STS tasks; ``unflatten`` reads them back by the known
metric names (``base.METRICS``), so task names may contain underscores (``stsb_zh``, ``sohu_dd``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from simcse_pl.evaluation.base import (  # noqa: F401 - split_key / unflatten are part of this module's interface
    MAIN_METRIC,
    METRICS,
    PAPER_COLUMNS,
    STS_METRICS,
    TITLES,
    Task,
    split_key,
    unflatten,
)
from simcse_pl.errors import DataError

Results = dict[str, Any]
EncodeFn = Callable[[list[str]], Any]  # sentences -> [n, d] vectors (Tensor or numpy), in input order
AVG = "avg"


def _encode_fn(encoder: Any) -> EncodeFn:
    """A function of sentences from an ``encode`` callable or an object with an ``encode`` method (``SimCSE``,
    a sentence-transformers model)."""
    return encoder.encode if hasattr(encoder, "encode") else encoder


def _as_tensor(vectors: Any) -> Tensor:
    return vectors if isinstance(vectors, Tensor) else torch.from_numpy(np.asarray(vectors))


def check_unique(tasks: Sequence[Task]) -> None:
    names = [t.name for t in tasks]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DataError(f"task name(s) {', '.join(twice)} given twice: each task's metrics need their own name")


def run_suite(
    tasks: Sequence[Task],
    encoder: Any = None,
    *,
    embeddings: Mapping[str, Tensor] | None = None,
    align_uniform: bool = False,
) -> Results:
    """Score ``tasks``: from ``embeddings`` (task name -> vectors of ``task.sentences``, as the Lightning loop
    collects them) or by encoding every distinct sentence of all tasks once, in one call of ``encoder`` (a
    function of a list of sentences, or an object with ``encode``). ``align_uniform``: STS tasks that define
    positives (STS-B) also report alignment and uniformity. Returns the nested results (module docstring)."""
    check_unique(tasks)
    if embeddings is None:
        if encoder is None:
            raise ValueError("run_suite needs an encoder or the tasks' embeddings")
        sentences = list(dict.fromkeys(s for task in tasks for s in task.sentences))
        vectors = _as_tensor(_encode_fn(encoder)(sentences))
        position = {s: i for i, s in enumerate(sentences)}
        embeddings = {t.name: vectors[torch.tensor([position[s] for s in t.sentences])] for t in tasks}
    results: Results = {"tasks": {}}
    for task in tasks:
        vectors = embeddings[task.name]
        metrics = task.evaluate(vectors)
        if align_uniform and task.kind == "sts":
            metrics.update(task.align_uniform(vectors))
        results["tasks"][task.name] = {"kind": task.kind, **metrics, **task.sizes()}
    sts = [r for r in results["tasks"].values() if r["kind"] == "sts"]
    if sts:
        results[AVG] = {m: float(np.mean([r[m] for r in sts])) for m in STS_METRICS}
    return results


def evaluate_tasks(encode_sentences: EncodeFn, tasks: Sequence[Task], align_uniform: bool = False) -> dict[str, dict]:
    """Per-task results of ``run_suite`` (kept for callers of the former API)."""
    return run_suite(tasks, encode_sentences, align_uniform=align_uniform)["tasks"]


def flatten(stage: str, results: Results) -> dict[str, float]:
    """``{"<stage>/<task>_<metric>": value}`` for loggers; the average only over two or more STS tasks (one task's
    average would repeat it)."""
    flat = {}
    for name, task in results["tasks"].items():
        for metric in METRICS[task["kind"]]:
            if metric in task:
                flat[f"{stage}/{name}_{metric}"] = float(task[metric])
    if AVG in results and sum(t["kind"] == "sts" for t in results["tasks"].values()) > 1:
        flat.update({f"{stage}/{AVG}_{m}": float(v) for m, v in results[AVG].items()})
    return flat


def title(task: str) -> str:
    return TITLES.get(task, task)


def average(results: dict[str, dict[str, float]], metric: str) -> float:
    """The table's "Avg." column: the plain mean over tasks, as in the paper."""
    return float(np.mean([r[metric] for r in results.values()]))


def format_table(results: Results) -> str:
    """STS tasks in the paper's layout (one column per task, then Avg.; Spearman row, Pearson beside it), then one
    line per retrieval / clustering task with its metrics."""
    tasks = results["tasks"]
    sts = {n: r for n, r in tasks.items() if r.get("kind", "sts") == "sts"}
    lines: list[str] = []
    if sts:
        titles = [title(n) for n in sts] + ["Avg."]
        width = max(7, *(len(t) for t in titles))
        lines.append("| " + " | ".join(["metric".ljust(8), *(t.rjust(width) for t in titles)]) + " |")
        lines.append("|" + "|".join(["-" * 10, *("-" * (width + 2) for _ in titles)]) + "|")
        avg = results.get(AVG) or {m: average(sts, m) for m in STS_METRICS}
        for metric in STS_METRICS:
            values = [r[metric] for r in sts.values()] + [avg[metric]]
            lines.append("| " + " | ".join([metric.ljust(8), *(f"{v:.2f}".rjust(width) for v in values)]) + " |")
    for name, r in tasks.items():
        if r.get("kind", "sts") != "sts":
            shown = ", ".join(f"{m} {r[m]:.2f}" for m in METRICS[r["kind"]] if m in r)
            lines.append(f"{title(name)} ({r['kind']}): {shown}")
    return "\n".join(lines)


def main_metric(task: Mapping[str, Any]) -> str:
    return MAIN_METRIC[task.get("kind", "sts")]
