"""``simcse-check-data``: check retrieval data as ``data=retrieval`` and ``simcse-mine`` will read it, with no model.

    simcse-check-data data/scifact                      # BEIR: corpus.jsonl, queries.jsonl, qrels/train.tsv
    simcse-check-data data/scifact --split dev
    simcse-check-data rows.jsonl --num-negatives 3      # a row file: query, positive, negative_1 ... (jsonl/csv/tsv)
    simcse-check-data pairs.tsv --corpus docs.jsonl     # and the corpus simcse-mine would mine from

Every line is read and checked by the readers training and mining use (ids, qrels naming a missing query or
document, a query without a positive, an empty corpus, a repeated id, a jsonl line that is not BEIR's, a row short of
negatives), so a bad file fails here in seconds and in one line, ``simcse-check-data: error: FILE:LINE: ...`` (exit
status 2), rather than after a model has loaded. On success it prints what the data holds.
"""

from __future__ import annotations

import argparse
import sys

from simcse_pl.errors import DataError


def check_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="simcse-check-data", description="Check retrieval data without a model.")
    p.add_argument("data", metavar="DATA", help="a BEIR folder, or a .jsonl/.csv/.tsv of query, positive[, negatives]")
    p.add_argument("--split", default="train", help="BEIR: the qrels split (default train)")
    p.add_argument("--num-negatives", type=int, default=None,
                   help="negatives each row must have (data.source.num_negatives; default: as the first row)")
    p.add_argument("--corpus", help="documents to mine from (BEIR corpus.jsonl, jsonl with text, or a text file)")
    return p


def check(args: argparse.Namespace) -> list[str]:
    """What the data holds, one line each; a ``DataError`` naming the file and line at the first bad one."""
    from simcse_pl.data.sources.retrieval import RetrievalRows
    from simcse_pl.data.text_index import TextIndex

    rows = RetrievalRows(args.data, split=args.split, num_negatives=args.num_negatives)
    rows.index()
    negatives = len(rows.columns) - 2
    if rows.beir:
        lines = [f"{args.data}: BEIR folder, {len(rows.corpus or ())} documents, {len(rows.queries or ())} queries; "
                 f"qrels {args.split}: {len(rows)} judged pairs over {len(set(rows.pairs[:, 0].tolist()))} queries"]
    else:
        lines = [f"{args.data}: {len(rows)} rows (query, positive" + (f", {negatives} negatives)" if negatives else ")")]
    if args.corpus:
        lines.append(f"{args.corpus}: {len(TextIndex(args.corpus, '--corpus', need_id=False).index())} documents")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = check_parser().parse_args(argv)
    try:
        lines = check(args)
    except DataError as exc:
        print(f"simcse-check-data: error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    print("ok: data=retrieval and simcse-mine can read it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
