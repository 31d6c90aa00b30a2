"""Evaluation: tasks (STS, retrieval, clustering), one suite runner, and ``encode``.

- ``base.py``: the ``Task`` protocol and the metric names;
- ``sts.py``: STS in SimCSE's protocol (SentEval's STS12-16 / STS-B / SICK-R, hub datasets, any pair file);
- ``chinese.py``: the Chinese STS suite by name; ``retrieval.py`` (BEIR layout); ``clustering.py`` (V-measure);
- ``registry.py``: ``load_task`` from what a user writes; ``suite.py``: ``run_suite``, the results layout, the flat
  logger keys; ``encoding.py``: ``encode``; ``mteb_eval.py``: ``simcse-eval --mteb`` through the mteb package.
"""

from simcse_pl.evaluation.base import ALL_METRICS, MAIN_METRIC, METRICS, STS_METRICS, Task
from simcse_pl.evaluation.chinese import CHINESE_TASKS, load_chinese
from simcse_pl.evaluation.clustering import ClusteringTask, load_clustering, v_measure
from simcse_pl.evaluation.encoding import (
    CHARS_PER_TOKEN,
    MIN_CLIP_CHARS,
    PRECISIONS,
    Embed,
    clip_text,
    encode,
    positive_int,
)
from simcse_pl.evaluation.registry import TASKS, load_task, load_tasks
from simcse_pl.evaluation.retrieval import RetrievalTask, load_beir, ranking_metrics
from simcse_pl.evaluation.sts import (
    ALIGN_THRESHOLD,
    HUB_TASKS,
    SCORE_RANGES,
    SENTEVAL_STS,
    SICK_FILES,
    SICK_HEADER,
    STSTask,
    alignment,
    correlations,
    load_hub_task,
    load_pair_file,
    load_senteval_sts,
    load_sickr,
    load_stsb,
    uniformity,
)
from simcse_pl.evaluation.suite import (
    PAPER_COLUMNS,
    average,
    check_unique,
    evaluate_tasks,
    flatten,
    format_table,
    run_suite,
    split_key,
    unflatten,
)

__all__ = [
    "ALIGN_THRESHOLD", "ALL_METRICS", "CHARS_PER_TOKEN", "CHINESE_TASKS", "HUB_TASKS", "MAIN_METRIC", "METRICS",
    "MIN_CLIP_CHARS", "PAPER_COLUMNS", "PRECISIONS", "SCORE_RANGES", "SENTEVAL_STS", "SICK_FILES", "SICK_HEADER",
    "STS_METRICS", "TASKS", "ClusteringTask", "Embed", "RetrievalTask", "STSTask", "Task", "alignment", "average",
    "check_unique", "clip_text", "correlations", "encode", "evaluate_tasks", "flatten", "format_table",
    "load_beir", "load_chinese", "load_clustering", "load_hub_task", "load_pair_file", "load_senteval_sts",
    "load_sickr", "load_stsb", "load_task", "load_tasks", "positive_int", "ranking_metrics", "run_suite",
    "split_key", "unflatten", "uniformity", "v_measure",
]
