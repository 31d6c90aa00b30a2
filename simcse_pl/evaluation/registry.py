"""``load_task``: a task from what a user writes in ``data.val_tasks`` / ``data.test_tasks`` / ``simcse-eval --tasks``.

In order: a task name (SentEval's ``sts12`` … ``sickr``, the Chinese suite's ``atec`` … ``sohu_dc``, read from the
data root); ``clustering:PATH`` or a ``*.clusters.*`` file (clustering); a folder with ``corpus.jsonl`` (BEIR
retrieval); a file of scored pairs (STS); anything else with a ``/`` is a Hugging Face dataset id or a local
dataset folder with ``sentence1``/``sentence2``/``score`` columns (STS).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from simcse_pl.evaluation.base import MAIN_METRIC, Task
from simcse_pl.evaluation.chinese import CHINESE_TASKS, load_chinese
from simcse_pl.evaluation.clustering import is_clustering_file, load_clustering
from simcse_pl.evaluation.retrieval import is_beir_folder, load_beir
from simcse_pl.evaluation.senteval_files import SENTEVAL_STS, check_task_files
from simcse_pl.evaluation.sts import (
    DATA_KEY,
    load_hub_task,
    load_pair_file,
    load_senteval_sts,
    load_sickr,
    load_stsb,
    looks_like_pair_file,
)
from simcse_pl.errors import DataError

# tasks read from the data root by name: (data_dir, split, key) -> task
TASKS: dict[str, Callable[..., Task]] = {
    **{name: partial(load_senteval_sts, name) for name in SENTEVAL_STS},
    "stsb": load_stsb,
    "sickr": load_sickr,
    **{name: partial(load_chinese, name) for name in CHINESE_TASKS},
}


def load_task(name: str, data_dir: str, split: str, data_key: str = DATA_KEY, tasks_key: str = "data.val_tasks") -> Task:
    """The task ``name`` means (see the module docstring). ``data_key`` names the data root in errors
    (``paths.data_dir``, ``--data-dir``), ``tasks_key`` the list the name came from (``data.val_tasks``,
    ``--tasks``)."""
    lowered = name.lower()
    if lowered in TASKS:
        return TASKS[lowered](data_dir, split, key=data_key)
    if is_clustering_file(name):
        return load_clustering(name, key=tasks_key)
    if is_beir_folder(name):
        return load_beir(name, split, key=tasks_key)
    if looks_like_pair_file(name):
        return load_pair_file(name, key=tasks_key)
    if "/" in name:
        return load_hub_task(name, split)
    raise DataError(
        f"{tasks_key}: unknown task {name!r}; known: {', '.join(TASKS)}; or a file of scored pairs (.tsv/.csv/"
        f".jsonl/.txt), a BEIR folder (corpus.jsonl, queries.jsonl, qrels/), clustering:FILE, or a Hugging Face "
        "dataset id"
    )


def load_tasks(names: Sequence[str], data_dir: str, split: str, data_key: str = DATA_KEY,
               tasks_key: str = "data.val_tasks") -> list[Task]:
    """Each task of ``names``; two tasks with one name (two ``test.tsv`` from folders of one name ...) are an
    error, since their metrics would be logged under one key. Every task's known files are checked first."""
    check_task_files(names, data_dir, split, data_key)
    tasks = [load_task(n, data_dir, split, data_key, tasks_key) for n in names]
    seen: dict[str, str] = {}
    for given, task in zip(names, tasks, strict=True):
        if task.name in seen:
            raise DataError(f"{tasks_key}: {seen[task.name]!r} and {given!r} are both task {task.name!r}; "
                            "list each task once (rename one file)")
        seen[task.name] = given
    return tasks


def default_monitor(val_tasks: Sequence[str], data_dir: str) -> str:
    """``optimized_metric: null``: ``val/<first task>_<its main metric>`` (``val/stsb_spearman``,
    ``val/scifact_ndcg_at_10``), the task read as validation will read it so its name is the logged one; with no
    validation task, SimCSE's ``val/stsb_spearman``."""
    if not val_tasks:
        return "val/stsb_spearman"
    task = load_task(val_tasks[0], data_dir, "dev")
    return f"val/{task.name}_{MAIN_METRIC[task.kind]}"
