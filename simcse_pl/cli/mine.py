"""``simcse-mine``: hard negatives for (query, positive) data from any model simcse-pl loads, as data=retrieval rows.

    simcse-mine MODEL scifact --output scifact_mined.jsonl          # <data root>/scifact: qrels/train.tsv, corpus.jsonl
    simcse-mine MODEL pairs.jsonl --corpus docs.txt --output rows.jsonl --num-negatives 5 --relative-margin 0.05

MODEL: a run's export, a checkpoint, a sentence-transformers or Hugging Face folder or id (``SimCSE.from_pretrained``).
DATA: a BEIR folder (queries of ``qrels/<--split>.tsv``; corpus: its ``corpus.jsonl`` unless ``--corpus``) or a row
file data=retrieval reads (its first two columns: query, positive); a DATA not found as given is looked for
under the data root (``--data-dir``, else ``SIMCSE_DATA_DIR``, else ``.data-root`` here, else ``./data``).
``--corpus``: a BEIR ``corpus.jsonl``, a jsonl of ``{"text"}`` objects or a text file, one document a line; without
it a row file mines among its own positives. The options are sentence-transformers' ``mine_hard_negatives``
(simcse_pl/evaluation/mining.py). Prompts default to the model's ``query`` / ``document`` prompts. Corpus vectors
are cached in ``--cache-dir`` (keyed by model, prompt and texts): a change of options re-mines without encoding, an
interrupted run resumes from the parts written.

Writes ``--output`` (jsonl: ``query``, ``positive``, ``negative_1`` …, ``scores``) whole or not at all, and
``<output stem>.mining.json`` beside it (settings, score distributions, short queries, false-negative suspects).
Bad input is one line, ``simcse-mine: error: ...``, exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from simcse_pl.data_root import DataRoot, data_root
from simcse_pl.errors import DataError, ModelLoadError

ERRORS = (DataError, ModelLoadError, ValueError)


class Corpus(Sequence[str]):
    """Texts by position: an indexed file (never held as strings), then positives it lacks (kept in memory)."""

    def __init__(self, base: Sequence[str], extra: list[str]) -> None:
        self.base, self.extra = base, extra

    def __len__(self) -> int:
        return len(self.base) + len(self.extra)

    def __getitem__(self, i: int) -> str:  # type: ignore[override]
        return self.base[i] if i < len(self.base) else self.extra[i - len(self.base)]


def mine_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="simcse-mine", description="Mine hard negatives for (query, positive) data.")
    p.add_argument("model", metavar="MODEL", help="export, checkpoint, sentence-transformers / Hugging Face folder or id")
    p.add_argument("data", metavar="DATA", help="a BEIR folder, or a .jsonl/.csv/.tsv of query, positive rows; a path "
                   "not found here is looked for under the data root (simcse-mine MODEL scifact: <data root>/scifact)")
    p.add_argument("--data-dir", help="the data root (default: $SIMCSE_DATA_DIR, else .data-root here, else ./data)")
    p.add_argument("--output", required=True, help="the rows to write (.jsonl), data=retrieval's format")
    p.add_argument("--corpus", help="documents to mine from (BEIR corpus.jsonl, jsonl with text, or a text file)")
    p.add_argument("--split", default="train", help="BEIR: the qrels split (default train)")
    p.add_argument("--num-negatives", type=int, default=3)
    p.add_argument("--range-min", type=int, default=0, help="skip the first N candidates (default 0)")
    p.add_argument("--range-max", type=int, help="consider only the first N candidates (default: derived)")
    p.add_argument("--absolute-margin", type=float, help="drop candidates scoring > positive - m")
    p.add_argument("--relative-margin", type=float, help="drop candidates scoring > positive * (1 - m)")
    p.add_argument("--max-score", type=float, help="drop candidates scoring above this")
    p.add_argument("--min-score", type=float, help="drop candidates scoring below this")
    p.add_argument("--sampling-strategy", choices=("top", "random"), default="top")
    p.add_argument("--seed", type=int, default=0, help="for --sampling-strategy random")
    p.add_argument("--query-prompt", help="prefix of each query (default: the model's query prompt)")
    p.add_argument("--document-prompt", help="prefix of each document (default: the model's document prompt)")
    p.add_argument("--faiss", choices=("auto", "yes", "no"), default="auto",
                   help="search with faiss (auto: when installed) or chunked torch top-k")
    p.add_argument("--chunk-size", type=int, default=None,
                   help="documents per search chunk (memory bound; default: evaluation.search.DEFAULT_CHUNK, 16384)")
    p.add_argument("--cache-dir", help="embedding cache (default: <output folder>/.mining_cache)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-length", type=int, help="tokens per text (default: the model's)")
    p.add_argument("--device", help="cpu, cuda ... (default: cuda when available)")
    return p


def locate(data: str, root: DataRoot) -> str:
    """``data`` as given when it exists, else under the data root: the folders ``make`` placed (``scifact``) are
    named as train.py's configs name them, wherever the root is."""
    if os.path.exists(data) or os.path.isabs(data):
        return data
    under = os.path.join(root.path, data)
    if os.path.exists(under):
        return under
    raise DataError(f"DATA {data}: no such file or folder, here or under the data root {root}")


def read_pairs(args: argparse.Namespace) -> tuple[list[str], list[str], Sequence[str]]:
    """``(queries, positive texts or ids, corpus)`` per pair; BEIR gives document ids, a row file texts."""
    from simcse_pl.data.qrels import positive_pairs, qrels_path
    from simcse_pl.data.sources.retrieval import RetrievalRows
    from simcse_pl.data.text_index import TextIndex

    if os.path.isdir(args.data):
        corpus = TextIndex(args.corpus or os.path.join(args.data, "corpus.jsonl"), "--corpus", need_id=True).index()
        queries = TextIndex(os.path.join(args.data, "queries.jsonl"), "DATA").index()
        pairs = positive_pairs(qrels_path(args.data, args.split), queries, corpus, "--split")
        return [queries.text(q) for q, _ in pairs], [d for _, d in pairs], corpus
    rows = RetrievalRows(args.data, num_negatives=0)
    rows.index()
    texts = [rows[i] for i in range(len(rows))]
    corpus = TextIndex(args.corpus, "--corpus", need_id=False).index() if args.corpus else []
    return [t[0] for t in texts], [t[1] for t in texts], corpus


def positions(queries: list[str], positives: list[str], corpus: Sequence[str], by_id: bool
              ) -> tuple[list[str], list[list[int]], Sequence[str]]:
    """Unique queries (first-seen order) with their positives' corpus positions; positives the corpus lacks are
    added to it (as sentence-transformers adds them)."""
    from simcse_pl.data.samplers.no_duplicates import text_key

    if by_id:
        where: Callable[[str], int] = corpus.position.__getitem__  # type: ignore[attr-defined]
    else:
        known = {text_key(corpus[i]): i for i in range(len(corpus))}
        extra: list[str] = []

        def where(text: str) -> int:
            key = text_key(text)
            if key not in known:
                known[key] = len(corpus) + len(extra)
                extra.append(text)
            return known[key]

    unique: dict[str, list[int]] = {}
    for query, positive in zip(queries, positives, strict=True):
        doc = where(positive)
        if doc not in unique.setdefault(query, []):
            unique[query].append(doc)
    full = corpus if by_id else Corpus(corpus, extra)
    return list(unique), list(unique.values()), full


def write_rows(path: Path, result: Any, corpus: Sequence[str]) -> int:
    """The rows of every query with all its negatives, one per positive, written whole (rename into place)."""
    partial = path.with_name(path.name + ".partial")
    count = 0
    with open(partial, "w", encoding="utf-8") as f:
        for q, query in enumerate(result.queries):
            if not result.complete(q):
                continue
            negatives = [corpus[d] for d in result.negatives[q].tolist()]
            for doc, score in zip(result.positives[q], result.positive_scores[q], strict=True):
                row = {"query": query, "positive": corpus[doc],
                       **{f"negative_{i}": t for i, t in enumerate(negatives, start=1)},
                       "scores": [round(score, 6), *(round(s, 6) for s in result.negative_scores[q].tolist())]}
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
    os.replace(partial, path)
    return count


def progress_bar(label: str, total: int) -> Callable[[int], None]:
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=f"encoding {label}", unit="text", file=sys.stderr)

    def update(done: int) -> None:
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


def summary(stats: dict[str, Any]) -> list[str]:
    def dist(d: dict[str, float]) -> str:
        return "—" if not d else f"mean {d['mean']:.3f} ± {d['std']:.3f} (min {d['min']:.3f}, median {d['median']:.3f}, max {d['max']:.3f})"

    lines = [f"{stats['queries']} queries, {stats['pairs']} pairs, {stats['documents']} documents; "
             f"{stats['rows_written']} rows written",
             f"positive scores: {dist(stats['positive_scores'])}",
             f"negative scores: {dist(stats['negative_scores'])}"]
    if stats["queries_short_of_negatives"]:
        lines.append(f"{stats['queries_short_of_negatives']} queries got fewer than "
                     f"{stats['settings']['num_negatives']} negatives: left out (lower the options' cuts, raise range_max)")
    if stats["negatives_above_their_positive"]:
        lines.append(f"warning: {stats['negatives_above_their_positive']} negatives score above their query's positive, "
                     "likely false negatives (unjudged positives); consider --relative-margin 0.05 or --range-min. E.g.:")
        lines += [f"  {e['query'][:80]!r}: {e['negative_score']:.3f} > {e['lowest_positive_score']:.3f} for "
                  f"{e['negative'][:80]!r}" for e in stats["false_negative_examples"]]
    return lines


def run_mine(args: argparse.Namespace) -> dict[str, Any]:
    from simcse_pl.evaluation.embedding_cache import model_key
    from simcse_pl.evaluation.mining import MiningOptions, mine
    from simcse_pl.evaluation.search import DEFAULT_CHUNK
    from simcse_pl.inference import SimCSE

    output = Path(args.output)
    if not output.parent.is_dir():
        raise ValueError(f"--output {output}: the folder {output.parent} does not exist")
    options = MiningOptions(args.num_negatives, args.range_min, args.range_max, args.absolute_margin,
                            args.relative_margin, args.max_score, args.min_score, args.sampling_strategy, args.seed)
    options.window(1)  # a bad combination fails before anything is read or loaded
    args.data = locate(args.data, data_root(args.data_dir))
    queries, positives, corpus = read_pairs(args)
    unique, docs, corpus = positions(queries, positives, corpus, os.path.isdir(args.data))
    options.window(max(len(d) for d in docs))
    model = SimCSE.from_pretrained(args.model, device=args.device, max_length=args.max_length)
    query_prompt = args.query_prompt if args.query_prompt is not None else model.prompt_text("query")
    document_prompt = args.document_prompt if args.document_prompt is not None else model.prompt_text("document")
    cache = args.cache_dir or str(output.parent / ".mining_cache")
    result = mine(model, unique, docs, corpus, options, model_key(args.model), cache, query_prompt, document_prompt,
                  args.batch_size, args.chunk_size or DEFAULT_CHUNK, {"auto": None, "yes": True, "no": False}[args.faiss], progress_bar)
    write_rows(output, result, corpus)
    stats = {"model": args.model, "data": args.data, "corpus": args.corpus, "output": str(output),
             "query_prompt": query_prompt, "document_prompt": document_prompt, **result.statistics}
    output.with_suffix(".mining.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False))
    return stats


def main(argv: list[str] | None = None) -> int:
    args = mine_parser().parse_args(argv)
    from simcse_pl.console import quiet_libraries

    quiet_libraries()
    try:
        stats = run_mine(args)
    except ERRORS as exc:
        print(f"simcse-mine: error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(summary(stats)))
    print(f"written: {stats['output']} and {Path(stats['output']).with_suffix('.mining.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
