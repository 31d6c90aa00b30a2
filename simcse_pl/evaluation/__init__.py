"""Evaluation: tasks (STS, retrieval, clustering), one suite runner, and ``encode``.

- ``base.py``: the ``Task`` protocol and the metric names;
- ``sts.py``: STS in SimCSE's protocol (SentEval's STS12-16 / STS-B / SICK-R, hub datasets, any pair file);
  ``senteval_files.py``: where SentEval's files are (light: checked before anything loads);
- ``chinese.py``: the Chinese STS suite by name; ``retrieval.py`` (BEIR layout); ``clustering.py`` (V-measure);
- ``registry.py``: ``load_task`` from what a user writes; ``suite.py``: ``run_suite``, the results layout, the flat
  logger keys; ``encoding.py``: ``encode``; ``mteb_eval.py``: ``simcse-eval --mteb`` through the mteb package.

Names are imported on first use (PEP 562), so ``simcse_pl.evaluation.base`` (metric names, ``unflatten``) can be
used without torch, as ``simcse-report`` does.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ALL_METRICS": "simcse_pl.evaluation.base",
    "MAIN_METRIC": "simcse_pl.evaluation.base",
    "METRICS": "simcse_pl.evaluation.base",
    "STS_METRICS": "simcse_pl.evaluation.base",
    "Task": "simcse_pl.evaluation.base",
    "CHINESE_TASKS": "simcse_pl.evaluation.chinese",
    "load_chinese": "simcse_pl.evaluation.chinese",
    "ClusteringTask": "simcse_pl.evaluation.clustering",
    "load_clustering": "simcse_pl.evaluation.clustering",
    "v_measure": "simcse_pl.evaluation.clustering",
    "CHARS_PER_TOKEN": "simcse_pl.evaluation.encoding",
    "MIN_CLIP_CHARS": "simcse_pl.evaluation.encoding",
    "PRECISIONS": "simcse_pl.evaluation.base",
    "Embed": "simcse_pl.evaluation.encoding",
    "clip_text": "simcse_pl.evaluation.encoding",
    "encode": "simcse_pl.evaluation.encoding",
    "positive_int": "simcse_pl.evaluation.encoding",
    "TASKS": "simcse_pl.evaluation.registry",
    "load_task": "simcse_pl.evaluation.registry",
    "load_tasks": "simcse_pl.evaluation.registry",
    "RetrievalTask": "simcse_pl.evaluation.retrieval",
    "load_beir": "simcse_pl.evaluation.retrieval",
    "ranking_metrics": "simcse_pl.evaluation.retrieval",
    "ALIGN_THRESHOLD": "simcse_pl.evaluation.sts",
    "HUB_TASKS": "simcse_pl.evaluation.sts",
    "SCORE_RANGES": "simcse_pl.evaluation.sts",
    "SENTEVAL_STS": "simcse_pl.evaluation.senteval_files",
    "SICK_FILES": "simcse_pl.evaluation.senteval_files",
    "check_task_files": "simcse_pl.evaluation.senteval_files",
    "present_tasks": "simcse_pl.evaluation.senteval_files",
    "task_files": "simcse_pl.evaluation.senteval_files",
    "SICK_HEADER": "simcse_pl.evaluation.sts",
    "STSTask": "simcse_pl.evaluation.sts",
    "alignment": "simcse_pl.evaluation.sts",
    "correlations": "simcse_pl.evaluation.sts",
    "load_hub_task": "simcse_pl.evaluation.sts",
    "load_pair_file": "simcse_pl.evaluation.sts",
    "load_senteval_sts": "simcse_pl.evaluation.sts",
    "load_sickr": "simcse_pl.evaluation.sts",
    "load_stsb": "simcse_pl.evaluation.sts",
    "uniformity": "simcse_pl.evaluation.sts",
    "PAPER_COLUMNS": "simcse_pl.evaluation.suite",
    "average": "simcse_pl.evaluation.suite",
    "check_unique": "simcse_pl.evaluation.suite",
    "evaluate_tasks": "simcse_pl.evaluation.suite",
    "flatten": "simcse_pl.evaluation.suite",
    "format_table": "simcse_pl.evaluation.suite",
    "run_suite": "simcse_pl.evaluation.suite",
    "split_key": "simcse_pl.evaluation.suite",
    "unflatten": "simcse_pl.evaluation.suite",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'simcse_pl.evaluation' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
