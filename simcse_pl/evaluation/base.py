"""The one interface every evaluation task follows, and the names of what tasks report.

A task owns its data and its statistics. It lists the distinct texts it needs vectors for (``sentences``, each
once) and, given those vectors in that order, returns its metrics; it never encodes anything itself, so the same
task is scored from the Lightning loop's embeddings (validation, ``trainer.test``), from ``simcse-eval`` and from
inference (``run_suite(tasks, model)``) alike. The suite runner (``suite.py``) is the only caller.

Metric names are fixed per kind of task (``METRICS``); they are how flat logger keys
(``<stage>/<task>_<metric>``) are read back without guessing at underscores (``suite.unflatten``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:  # this module stays free of torch: simcse-report and --help import it
    from torch import Tensor

# metrics each kind of task reports (×100 where a correlation or a rate), in table order
STS_METRICS = ("spearman", "pearson")
ALIGN_UNIFORM = ("align", "uniform")  # STS tasks that define positives (STS-B), when asked: validation, --metrics
RETRIEVAL_METRICS = ("ndcg_at_10", "mrr_at_10", "recall_at_100")
CLUSTERING_METRICS = ("v_measure",)
METRICS = {
    "sts": (*STS_METRICS, *ALIGN_UNIFORM),
    "retrieval": RETRIEVAL_METRICS,
    "clustering": CLUSTERING_METRICS,
}
# the headline metric of each kind (what a table shows first, what "avg" averages for STS)
MAIN_METRIC = {"sts": "spearman", "retrieval": "ndcg_at_10", "clustering": "v_measure"}
ALL_METRICS = tuple(dict.fromkeys(m for names in METRICS.values() for m in names))


@runtime_checkable
class Task(Protocol):
    """What the suite runner needs of a task."""

    name: str  # unique within a suite; the ``<task>`` of ``<stage>/<task>_<metric>``
    kind: str  # a key of METRICS

    @property
    def sentences(self) -> list[str]:
        """The distinct texts to encode, each once, in a fixed order."""
        ...

    def evaluate(self, embeddings: "Tensor") -> dict[str, float]:
        """Metrics (names from ``METRICS[kind]``) from ``embeddings[i]`` = the vector of ``sentences[i]``."""
        ...

    def sizes(self) -> dict[str, int]:
        """Counts reported beside the metrics (``pairs``, ``queries`` ...), never logged as metrics."""
        ...


DATA_KEY = "paths.data_dir"  # the setting that names the data root, in errors; the CLIs pass DataRoot.key
PRECISIONS = ("auto", "fp32", "bf16", "fp16")  # of encoding (encoding.py); here so CLIs list them without torch

# the paper's table: column titles in its order
PAPER_COLUMNS = {
    "sts12": "STS12", "sts13": "STS13", "sts14": "STS14", "sts15": "STS15", "sts16": "STS16",
    "stsb": "STS-B", "sickr": "SICK-R",
}
TITLES = {**PAPER_COLUMNS, "stsb_zh": "STS-B-zh", "atec": "ATEC", "bq": "BQ", "lcqmc": "LCQMC", "pawsx": "PAWSX",
          "sohu_dd": "SOHU-dd", "sohu_dc": "SOHU-dc"}


def split_key(key: str) -> tuple[str, str, str] | None:
    """``"test/stsb_zh_spearman"`` -> ``("test", "stsb_zh", "spearman")``; None for a key that is no task metric."""
    stage, _, rest = key.partition("/")
    for metric in sorted(ALL_METRICS, key=len, reverse=True):
        if rest.endswith(f"_{metric}") and len(rest) > len(metric) + 1:
            return stage, rest[: -len(metric) - 1], metric
    return None


def unflatten(metrics: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """Flat logger keys back to ``{task: {metric: value}}`` (``avg`` included as a task); other keys are left out."""
    by_task: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        parts = split_key(key)
        if parts is not None:
            by_task.setdefault(parts[1], {})[parts[2]] = value
    return by_task
