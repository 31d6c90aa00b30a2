"""``simcse-validate``: read a data file the way training or evaluation will, with no model, and say what it holds or
the one line that is wrong with it. A bad row found here costs a second, not a model load and half an epoch.

Training files are read by the reader their ``data=`` option builds (every row, as the dataloader would read it);
evaluation tasks by the same ``load_task`` that ``data.val_tasks`` and ``simcse-eval --tasks`` use."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any, Callable

from simcse_pl.data_root import data_root
from simcse_pl.data.sources.nli import NLITriplets
from simcse_pl.data.sources.retrieval import RetrievalRows
from simcse_pl.data.sources.scored_pairs import ScoredPairs
from simcse_pl.data.sources.text_lines import TextLines
from simcse_pl.data.text_index import TextIndex
from simcse_pl.errors import ConfigError, DataError

# kind -> (the data= option or the config key it stands for, how the reader is built from the arguments)
TRAINING: dict[str, tuple[str, Callable[[argparse.Namespace], Any]]] = {
    "text": ("data=wiki", lambda a: TextLines(a.path)),
    "nli": ("data=nli", lambda a: NLITriplets(a.path)),
    "pairs": ("data=pairs", lambda a: ScoredPairs(a.path, layout=a.layout)),
    "retrieval": ("data=retrieval",
                  lambda a: RetrievalRows(a.path, split=a.split or "train", num_negatives=a.num_negatives)),
}


def validate_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simcse-validate",
        description="Check a data file as training or evaluation will read it (no model is loaded). Prints what it "
                    "holds; a bad file is one line naming the file, the line and what is wrong (exit status 2).")
    parser.add_argument("kind", choices=[*TRAINING, "task"],
                        help="text (data=wiki), nli (data=nli), pairs (data=pairs), retrieval (data=retrieval), or "
                             "task: an evaluation task as data.val_tasks / simcse-eval --tasks name it")
    parser.add_argument("path", help="the file or folder; for task, a task name (stsb, sts12, sickr, atec ...), a "
                                     "pair file, a BEIR folder or clustering:FILE")
    parser.add_argument("--layout", default="auto", choices=["auto", "header", "jsonl", "senteval", "headerless"],
                        help="pairs: the file's layout (data.source.layout; default: told from the extension and "
                             "the first line)")
    parser.add_argument("--split", default=None,
                        help="retrieval: the qrels split of a BEIR folder (default train); task: test or dev "
                             "(default test)")
    parser.add_argument("--num-negatives", type=int, default=None,
                        help="retrieval: negatives each row must have (data.source.num_negatives; default: as the "
                             "first row)")
    parser.add_argument("--corpus", default=None,
                        help="retrieval: also check the documents simcse-mine would mine from (BEIR corpus.jsonl, "
                             "jsonl with text, or a text file)")
    parser.add_argument("--data-dir", default=None,
                        help="task: the data root that task names are read under (default: SIMCSE_DATA_DIR, else "
                             "the root make recorded in .data-root, else ./data)")
    return parser


def check_training_file(args: argparse.Namespace) -> str:
    """Index the file and read every example, as an epoch would; what it holds, in one line."""
    option, build = TRAINING[args.kind]
    source = build(args)
    source.index()
    for i in range(len(source)):
        source[i]
    columns = ", ".join(getattr(source, "columns", ()) or ())
    checked = f"{args.path}: {len(source)} examples ({columns}), readable by {option}"
    if args.corpus:
        documents = len(TextIndex(args.corpus, "--corpus", need_id=False).index())
        checked += f"\n{args.corpus}: {documents} documents, readable by simcse-mine"
    return checked


def check_task(args: argparse.Namespace) -> str:
    """Load the task as validation would. The evaluation package imports torch (seconds), so only this kind pays
    for it: checking a training file stays a fraction of a second."""
    from simcse_pl.evaluation.registry import load_task

    root = data_root(args.data_dir)
    task = load_task(args.path, root.path, args.split or "test", data_key=root.key, tasks_key="simcse-validate task")
    return f"{args.path}: {describe_task(task)}, readable as an evaluation task"


def describe_task(task: Any) -> str:
    """The sizes a task reports (pairs, queries and documents, or texts and labels)."""
    sizes = {name: value for name, value in vars(task).items() if isinstance(value, (list, tuple, dict))}
    return ", ".join(f"{len(value)} {name}" for name, value in sizes.items()) or type(task).__name__


def main(argv: list[str] | None = None) -> int:
    args = validate_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
    try:
        print(check_task(args) if args.kind == "task" else check_training_file(args))
    except (DataError, ConfigError, FileNotFoundError) as exc:
        print(f"simcse-validate: error: {exc}", file=sys.stderr)
        return 2
    return 0
