"""Console scripts: ``simcse-eval`` (the paper's STS table for any model) and ``simcse-encode`` (text -> .npy).

    simcse-eval outputs/.../model                                   # STS12-16, STS-B, SICK-R (test)
    simcse-eval sentence-transformers/all-MiniLM-L6-v2 --pooler avg --tasks stsb --output results.json
    simcse-eval run.ckpt --split dev --metrics sts align_uniform    # STS-B + SICK-R dev, align/uniform
    simcse-encode MODEL sentences.txt --output vectors.npy
    simcse-eval outputs/.../model --tasks stsb --dim 64            # a Matryoshka model cut to 64 dims
    simcse-eval MODEL --tasks my/dev.tsv atec lcqmc                  # any pair file; the Chinese suite by name
    simcse-eval MODEL --tasks path/to/beir_folder clustering:topics.tsv   # retrieval, clustering
    simcse-eval MODEL --mteb STSBenchmark --mteb-data DIR          # MTEB tasks through the mteb package

Errors in data or model (a missing task file, a bad line, an unknown model) print one line naming the cause
and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from functools import partial
from typing import Any

import numpy as np

# light imports only, so that --help answers at once; torch and the models load when a command runs
from simcse_pl.config import POOLERS
from simcse_pl.data_root import ENV_VAR, DataRoot, data_root
from simcse_pl.evaluation.base import PAPER_COLUMNS, PRECISIONS
from simcse_pl.evaluation.chinese import CHINESE_TASKS
from simcse_pl.evaluation.senteval_files import present_tasks
from simcse_pl.errors import DataError
from simcse_pl.data.downloads import COMMANDS, command, find
from simcse_pl.data.files import check_file, decode_line

DEV_TASKS = ["stsb", "sickr"]  # SimCSE's dev mode: the two STS tasks that have a dev split


def _positive_int(text: str) -> int:
    """argparse type of counts: argparse then reports ``argument --batch-size: must be ...`` in one line."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer (got {text!r})") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer (got {text!r})")
    return value


def _model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="exported model folder, sentence-transformers folder, hub id, or .ckpt")
    parser.add_argument("--pooler", choices=POOLERS, help="override the model's pooler")
    parser.add_argument("--batch-size", type=_positive_int, default=128)
    parser.add_argument(
        "--max-length", type=_positive_int, metavar="TOKENS",
        help="cut each input to this many tokens (default: the max_seq_length a sentence-transformers folder or an "
        "export was saved with, e.g. 256 for all-MiniLM-L6-v2, as SentenceTransformer does; else the tokenizer's "
        "limit, at most the model's positions); the value used is printed and written to --output as max_length",
    )
    parser.add_argument("--device", help="cpu, cuda, cuda:1 … (default: cuda when available)")
    parser.add_argument(
        "--precision", choices=PRECISIONS, default="auto",
        help="auto: fp32 on CPU (exact paper numbers), bf16/fp16 autocast on GPU; bf16 speeds up AMX CPUs",
    )
    parser.add_argument(
        "--trust-remote-code", action="store_true",
        help="let transformers run the model's own Python code (off: a model or checkpoint cannot turn it on)",
    )
    parser.add_argument(
        "--backend", choices=("torch", "onnx"), default="torch",
        help="onnx: the backbone through ONNX Runtime on the CPU (a folder written with simcse-export --onnx)",
    )
    parser.add_argument(
        "--onnx-file", metavar="NAME",
        help="with --backend onnx: the file in the folder (default onnx/model.onnx; onnx/model_quint8_avx2.onnx: int8)",
    )
    parser.add_argument(
        "--dim", "--truncate-dim", dest="dim", type=_positive_int,
        help="keep the first DIM coordinates of each vector (a model trained with loss=matryoshka: one of its "
        "trained sizes, listed in its simcse_pl.json); default: all",
    )


def _load_model(args: argparse.Namespace) -> Any:
    from simcse_pl.inference import SimCSE

    if args.onnx_file and args.backend != "onnx":
        raise ValueError(f"--onnx-file {args.onnx_file}: applies to --backend onnx")
    model = SimCSE.from_pretrained(
        args.model, pooler=args.pooler, device=args.device, max_length=args.max_length, precision=args.precision,
        trust_remote_code=args.trust_remote_code, backend=args.backend, file_name=args.onnx_file,
    )
    if args.dim:
        model.truncate_dim = model.check_dim(args.dim, label=f"--dim {args.dim}")
    return model


def eval_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simcse-eval", description="STS evaluation in the SimCSE protocol.")
    _model_args(parser)
    parser.add_argument(
        "--tasks", nargs="+",
        help=f"SentEval task names ({', '.join(PAPER_COLUMNS)}), the Chinese suite ({', '.join(CHINESE_TASKS)}), "
        "files of scored pairs (.tsv/.csv/.jsonl/.txt), BEIR folders (retrieval), clustering:FILE, or Hugging Face "
        f"dataset ids / folders (default: those of the paper's seven for test, {' '.join(DEV_TASKS)} for dev, whose "
        "files are under the data root; the others are named)",
    )
    parser.add_argument("--split", choices=["test", "dev"], default="test", help="split of STS-B and SICK-R")
    parser.add_argument("--metrics", nargs="+", choices=["sts", "align_uniform"], default=["sts"])
    parser.add_argument(
        "--data-dir", help="the data root (default: $SIMCSE_DATA_DIR, else the one `make` recorded in .data-root "
        "here, else ./data)",
    )
    parser.add_argument(
        "--mteb", metavar="TASK[,TASK]",
        help="run these MTEB tasks through the mteb package instead (pip install 'simcse-pl[mteb]'); their numbers "
        "are MTEB's, not SentEval's",
    )
    parser.add_argument(
        "--mteb-data", metavar="DIR",
        help="offline: read each --mteb task from DIR/<task>/ (a local dataset folder) instead of the hub",
    )
    parser.add_argument("--output", help="write the results as JSON here")
    return parser


def _model_record(args: argparse.Namespace, model: Any) -> dict[str, Any]:
    return {
        "model": args.model,
        "pooler": model.pooler.kind,
        "device": str(model.device),
        "precision": args.precision,
        "dim": model.truncate_dim or model.dimension,
        "max_length": model.max_length,  # long passages score differently at another cut: say which one was used
        "trained_dims": model.trained_dims,
    }


def run_eval(args: argparse.Namespace) -> dict[str, Any]:
    """Load tasks (cheap, and the usual failure) before the model, encode, score; returns the JSON record."""
    from simcse_pl.evaluation import load_task, load_tasks, run_suite
    from simcse_pl.evaluation.retrieval import with_roles

    if args.mteb:
        return run_mteb_eval(args)
    if args.mteb_data:
        raise ValueError("--mteb-data DIR: give the MTEB tasks to read from it with --mteb TASK[,TASK]")
    root = data_root(args.data_dir)
    if "sts" not in args.metrics:
        names = ["stsb"]
    else:
        names = args.tasks or default_tasks(args.split, root)
    keys = {"data_key": root.key, "tasks_key": "--tasks"}
    tasks = load_tasks(names, root.path, args.split, **keys)
    align_uniform = "align_uniform" in args.metrics
    if align_uniform and not any(getattr(t, "align_threshold", None) for t in tasks):
        tasks.append(load_task("stsb", root.path, args.split, **keys))  # the task that defines positives
    model = _load_model(args)
    tasks = with_roles(tasks, model.model.roles)  # a retriever's query / document prompts on retrieval tasks
    start = time.perf_counter()
    vectors = partial(model.encode, batch_size=args.batch_size, show_progress_bar=True, convert_to_tensor=True)
    results = run_suite(tasks, vectors, align_uniform=align_uniform)
    seconds = time.perf_counter() - start
    return {
        **_model_record(args, model),
        "split": args.split,
        **results,
        "sentences": len({s for t in tasks for s in t.sentences}),
        "seconds": round(seconds, 2),
    }


def default_tasks(split: str, root: DataRoot) -> list[str]:
    """The default tasks of ``split`` whose files are under ``root``; the others are named in one line on stderr,
    with the command that downloads them (``make data`` fetches STS-B only; STS12-16 and SICK-R come with
    ``--full``). None there is an error: there is nothing to evaluate on."""
    defaults = list(PAPER_COLUMNS) if split == "test" else DEV_TASKS
    present, absent = present_tasks(defaults, root.path, split)
    missing = list(absent.values())
    commands = {entry.group: command(entry.group, at) for entry, at in map(find, missing)}
    downloads = " or ".join(commands[group] for group in COMMANDS if group in commands)  # make data first
    if not present:
        raise DataError(f"no default task ({', '.join(defaults)}) has its files under the data root {root} "
                        f"({missing[0]}: no such file): point {root.option} or {ENV_VAR} at your data root, run "
                        f"{downloads} to download them, or name tasks with --tasks")
    if absent:
        print(f"simcse-eval: skipping {', '.join(absent)}: their files are not under the data root {root} "
              f"({missing[0]} …); {downloads} downloads them", file=sys.stderr)
    return present


def run_mteb_eval(args: argparse.Namespace) -> dict[str, Any]:
    from simcse_pl.evaluation.mteb_eval import mteb_tasks, run_mteb

    if args.tasks:
        raise ValueError("--mteb runs MTEB's tasks only: drop --tasks, or run the two evaluations separately")
    names = [n.strip() for n in args.mteb.split(",") if n.strip()]
    if not names:
        raise ValueError("--mteb: give at least one MTEB task name, e.g. --mteb STSBenchmark")
    tasks = mteb_tasks(names, args.mteb_data)  # before the model: a wrong name or folder fails at once
    model = _load_model(args)
    start = time.perf_counter()
    record = run_mteb(model, tasks, args.model, args.mteb_data, args.batch_size)
    return {**_model_record(args, model), "mteb": record, "seconds": round(time.perf_counter() - start, 2)}


def eval_main(argv: list[str] | None = None) -> int:
    args = eval_parser().parse_args(argv)
    from simcse_pl.console import quiet_libraries
    from simcse_pl.errors import ModelLoadError

    quiet_libraries()  # no weight-loading bars or library chatter around the results
    try:
        if args.output:
            check_output(args.output)
        record = run_eval(args)
    except (DataError, ModelLoadError, ValueError) as exc:
        print(f"simcse-eval: error: {exc}", file=sys.stderr)
        return 2
    if "mteb" in record:
        from simcse_pl.evaluation.mteb_eval import format_mteb

        print(format_mteb(record["mteb"]))
        print("(MTEB's scores on MTEB's datasets: not comparable with the SentEval table)")
    else:
        from simcse_pl.evaluation import format_table

        print(format_table(record))
        for name, task in record["tasks"].items():
            if "align" in task:
                print(f"{name} {args.split}: align {task['align']:.4f}  uniform {task['uniform']:.4f}")
        print(f"{record['sentences']} sentences encoded and scored in {record['seconds']:.1f} s "
              f"(each cut to {record['max_length']} tokens{'' if args.max_length else '; --max-length to change'})")
    if args.dim:
        print(f"vectors cut to their first {args.dim} coordinates (--dim)")
    if args.output:
        with open(args.output, "w") as f:
            json.dump(record, f, indent=2)
    return 0


def encode_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simcse-encode", description="Embed each line of a text file into a .npy.")
    _model_args(parser)
    parser.add_argument("input", help="UTF-8 text, one sentence per line (row i of the output is line i+1)")
    parser.add_argument("--output", required=True, help="the .npy file to write: float32 [lines, dim]")
    parser.add_argument("--normalize", action="store_true", help="unit-length vectors")
    return parser


def read_sentences(path: str) -> list[str]:
    """Every line, blank ones included, so output rows stay aligned with input lines."""
    check_file(path, "input")
    with open(path, "rb") as f:
        return [decode_line(raw, path, n).rstrip("\r\n") for n, raw in enumerate(f, start=1)]


def check_output(path: str) -> str:
    """``path`` if a file can be written there, checked before the model loads: a bad ``--output`` must not
    cost a whole encoding run."""
    folder = os.path.dirname(path) or "."
    if os.path.isdir(path):
        example = os.path.join(path, "vectors.npy")
        raise ValueError(f"--output {path}: is a directory; give the file to write, e.g. {example}")
    if not os.path.isdir(folder):
        raise ValueError(f"--output {path}: no such directory {folder}")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"--output {path}: cannot write in {folder} (permission denied)")
    return path


def save_vectors(path: str, vectors: np.ndarray) -> None:
    """Write ``vectors`` to exactly ``path``: ``np.save`` given a name would append ``.npy`` to it."""
    try:
        with open(path, "wb") as f:
            np.save(f, vectors)
    except OSError as exc:
        raise ValueError(f"--output {path}: cannot write it ({exc.strerror})") from None


def encode_main(argv: list[str] | None = None) -> int:
    args = encode_parser().parse_args(argv)
    from simcse_pl.console import quiet_libraries
    from simcse_pl.errors import ModelLoadError

    quiet_libraries()  # no weight-loading bars or library chatter around the results
    try:
        check_output(args.output)
        sentences = read_sentences(args.input)
        if not sentences:
            raise DataError(f"{args.input}: empty file")
        vectors = _load_model(args).encode(sentences, args.batch_size, show_progress_bar=True,
                                           normalize_embeddings=args.normalize)
        save_vectors(args.output, vectors.astype(np.float32))
    except (DataError, ModelLoadError, ValueError) as exc:
        print(f"simcse-encode: error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.output}: {vectors.shape[0]} × {vectors.shape[1]} float32")
    return 0
