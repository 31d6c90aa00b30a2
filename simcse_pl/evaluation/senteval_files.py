"""Where SentEval's seven STS tasks sit under the data root, known before any is read.

Light on purpose (no torch): ``simcse-eval`` checks every named task's files, and picks the default tasks that are
present, before it loads a task or a model; ``load_tasks`` checks them before reading any (reading one can take
long: a big file, a hub download).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from simcse_pl.data.files import check_file
from simcse_pl.evaluation.base import DATA_KEY

# SentEval's STS12-16 folders and subsets (STS13 without SMT, which SentEval does not distribute)
SENTEVAL_STS = {
    "sts12": ("STS12-en-test", ("MSRpar", "MSRvid", "SMTeuroparl", "surprise.OnWN", "surprise.SMTnews")),
    "sts13": ("STS13-en-test", ("FNWN", "headlines", "OnWN")),
    "sts14": ("STS14-en-test", ("deft-forum", "deft-news", "headlines", "images", "OnWN", "tweet-news")),
    "sts15": ("STS15-en-test", ("answers-forums", "answers-students", "belief", "headlines", "images")),
    "sts16": ("STS16-en-test", ("answer-answer", "headlines", "plagiarism", "postediting", "question-question")),
}
SICK_FILES = {"train": "SICK_train.txt", "dev": "SICK_trial.txt", "test": "SICK_test_annotated.txt"}
SENTEVAL_TASKS = (*SENTEVAL_STS, "stsb", "sickr")


def senteval_files(name: str, data_dir: str, split: str) -> list[str]:
    """The files SentEval task ``name`` reads for ``split`` (none for a split it does not have: its loader says
    so), so a caller can check them all before reading any, or skip a task whose files are absent."""
    if name == "stsb":
        return [os.path.join(data_dir, "stsb", f"sts-{split}.csv")]
    if name == "sickr":
        return [os.path.join(data_dir, "sick", SICK_FILES[split])] if split in SICK_FILES else []
    if split != "test":
        return []
    folder, subsets = SENTEVAL_STS[name]
    return [f for subset in subsets for f in sts_subset_files(os.path.join(data_dir, folder), subset)]


def sts_subset_files(folder: str, subset: str) -> tuple[str, str]:
    return os.path.join(folder, f"STS.input.{subset}.txt"), os.path.join(folder, f"STS.gs.{subset}.txt")


def task_files(name: str, data_dir: str, split: str) -> list[str]:
    """The files of the data root a task named ``name`` reads, where they are known before reading (SentEval's
    seven); none for others (a file, a folder, a hub id, the Chinese suite's several layouts: checked as read)."""
    lowered = name.lower()
    return senteval_files(lowered, data_dir, split) if lowered in SENTEVAL_TASKS else []


def check_task_files(names: Sequence[str], data_dir: str, split: str, data_key: str = DATA_KEY) -> None:
    """Every known file of every task in ``names`` is there, before any task is read (reading one can take
    long: a big corpus, a hub download) and before a model is loaded: a missing file fails at once."""
    for name in names:
        for path in task_files(name, data_dir, split):
            check_file(path, data_key)


def present_tasks(names: Sequence[str], data_dir: str, split: str) -> tuple[list[str], dict[str, str]]:
    """``names`` split into the tasks that have files under ``data_dir`` and, for each task with none, its first
    file (a default list can then run what is there and say what is not). A task with some of its files counts
    as present: the missing one is then an error naming it, as a damaged download should be."""
    present: list[str] = []
    absent: dict[str, str] = {}
    for name in names:
        files = task_files(name, data_dir, split)
        if files and not any(os.path.exists(f) for f in files):
            absent[name] = files[0]
        else:
            present.append(name)
    return present, absent
