"""CPU inference speed and quality of one exported model: torch fp32, ONNX fp32 and ONNX int8, in one run.

    flock /tmp/simcse-cpu.lock python scripts/benchmark_inference.py MODEL_DIR --data-dir data --threads 2

The sentences are every distinct sentence of the STS test sets found under the data root (of the paper's seven:
STS12-16, STS-B, SICK-R; which were found is printed; STS-B is required, for its Spearman). Each backend is
``SimCSE.from_pretrained(MODEL_DIR, backend=...)`` encoding them with ``SimCSE.encode`` (length-sorted batches),
so the numbers are what a user of the API gets. Torch and ONNX Runtime use ``--threads`` threads each. After
one warm-up batch, the backends take turns ``--repeats`` times (a change in machine load then hits all three
alike); sentences/s is from each one's median time. The STS-B test Spearman (×100) is from its last pass's
vectors. A folder without the ONNX files gets them first (``simcse_pl.export.onnx.export_onnx``; that time is
not measured). The closing table gives sentences/s, the ratio to torch fp32 and the Spearman per backend.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence

import numpy as np
import onnxruntime
import torch

from simcse_pl.data_root import DataRoot, data_root
from simcse_pl.evaluation import PAPER_COLUMNS, load_tasks, present_tasks
from simcse_pl.evaluation.base import Task
from simcse_pl.inference import SimCSE
from simcse_pl.export.layout import INT8_FILE, ONNX_FILE
from simcse_pl.export.onnx import export_onnx
from simcse_pl.errors import DataError

BACKENDS = {
    "torch fp32": {},
    "ONNX fp32": {"backend": "onnx"},
    "ONNX int8": {"backend": "onnx", "file_name": INT8_FILE},
}


def sts_tasks(root: DataRoot) -> tuple[list[Task], list[str]]:
    """The paper's STS test sets found under the data root and the names of those missing (STS-B must be there)."""
    present, absent = present_tasks([n for n in PAPER_COLUMNS if n != "stsb"], root.path, "test")
    names = [n for n in PAPER_COLUMNS if n == "stsb" or n in present]
    return load_tasks(names, root.path, "test", data_key=root.key), list(absent)


def encode_seconds(model: SimCSE, sentences: Sequence[str], batch_size: int) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    vectors = model.encode(list(sentences), batch_size=batch_size)
    return time.perf_counter() - start, np.asarray(vectors)


def stsb_spearman(stsb: Task, sentences: Sequence[str], vectors: np.ndarray) -> float:
    """STS-B's Spearman from the vectors of all ``sentences`` (its own are among them)."""
    position = {s: i for i, s in enumerate(sentences)}
    rows = [position[s] for s in stsb.sentences]
    return float(stsb.evaluate(torch.from_numpy(vectors[rows]))["spearman"])


def format_table(speeds: dict[str, float], spearman: dict[str, float]) -> str:
    base = speeds["torch fp32"]
    lines = [f"{'backend':<12} {'sentences/s':>12} {'vs torch fp32':>14} {'STS-B Spearman':>15}"]
    for name, speed in speeds.items():
        lines.append(f"{name:<12} {speed:>12.1f} {speed / base:>13.2f}x {spearman[name]:>15.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", help="an exported model folder (simcse-pl or sentence-transformers)")
    parser.add_argument("--data-dir", help="data root (default: $SIMCSE_DATA_DIR, else .data-root here, else ./data)")
    parser.add_argument("--threads", type=int, default=2, help="threads of torch and of ONNX Runtime (default 2)")
    parser.add_argument("--batch-size", type=int, default=128, help="SimCSE.encode's batch size (its default)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per backend (median)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)  # before loading: the ONNX sessions take torch's thread count

    root = data_root(args.data_dir)
    try:
        tasks, missing = sts_tasks(root)
    except DataError as exc:
        print(f"benchmark_inference: error: {exc}", file=sys.stderr)
        return 2
    sentences = list(dict.fromkeys(s for task in tasks for s in task.sentences))
    print(f"STS test sets: {', '.join(PAPER_COLUMNS[t.name] for t in tasks)} ({len(sentences)} distinct sentences); "
          f"not under {root}: {', '.join(PAPER_COLUMNS[n] for n in missing) or 'none'}")
    if not all(os.path.exists(os.path.join(args.model_dir, f)) for f in (ONNX_FILE, INT8_FILE)):
        print(f"writing {', '.join(export_onnx(args.model_dir))}")

    models = {name: SimCSE.from_pretrained(args.model_dir, device="cpu", **kwargs) for name, kwargs in BACKENDS.items()}
    for model in models.values():
        model.encode(sentences[: args.batch_size], batch_size=args.batch_size)  # warm-up
    seconds: dict[str, list[float]] = {name: [] for name in models}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.repeats):
        for name, model in models.items():
            elapsed, vectors[name] = encode_seconds(model, sentences, args.batch_size)
            seconds[name].append(elapsed)
    speeds = {name: len(sentences) / statistics.median(times) for name, times in seconds.items()}
    stsb = next(t for t in tasks if t.name == "stsb")
    spearman = {name: stsb_spearman(stsb, sentences, v) for name, v in vectors.items()}
    print(format_table(speeds, spearman))
    print(f"{args.threads} threads (torch and ONNX Runtime), batch size {args.batch_size}, median of {args.repeats} "
          f"passes over {len(sentences)} sentences, torch {torch.__version__}, onnxruntime {onnxruntime.__version__}; "
          f"1-min load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (other work skews speeds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
