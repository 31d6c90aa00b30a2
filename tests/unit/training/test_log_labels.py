"""Issue 24, friction 9: the labels a run and its tools print say what things are. A random decoder is not called
BERT; labelled pairs are not counted as sentences; the export, its card and simcse-eval's JSON name the pooler
alike; the closing line names the loggers that really took the metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from simcse_pl.cli.evaluate import eval_main
from simcse_pl.config import compose_config
from simcse_pl.console import config_summary
from simcse_pl.data.sources.base import examples_label
from simcse_pl.data.sources.nli import NLITriplets
from simcse_pl.data.sources.retrieval import RetrievalRows
from simcse_pl.data.sources.scored_pairs import ScoredPairs
from simcse_pl.data.sources.text_lines import TextLines
from simcse_pl.encoders.sentence_encoder import SentenceEncoder
from simcse_pl.export.model_card import RunFacts, write_card
from simcse_pl.export.writer import export_model
from simcse_pl.inference import SimCSE
from simcse_pl.training.loggers import metrics_destinations
from sts_fixtures import write_senteval_root
from tiny_model import TINY_MODEL


@pytest.mark.parametrize("model, label", [("tiny-llama", "model: random llama {'hidden_size': 32"),
                                          ("tiny", "model: random bert {")])
def test_a_random_model_is_named_by_its_architecture(model: str, label: str):
    assert config_summary(compose_config(f"model={model}", "paths.output_dir=run"))[0].startswith(label)


def _file(tmp_path: Path, name: str, text: str) -> str:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return str(tmp_path / name)


def test_training_examples_are_named_as_the_source_holds_them(tmp_path: Path):
    sources = {
        "sentences": TextLines(_file(tmp_path, "wiki.txt", "one line\nanother\n")),
        "scored pairs (sentence1, sentence2)": ScoredPairs(_file(tmp_path, "p.tsv", "a cat\ta dog\t3.0\nx\ty\t1\n")),
        "triplets (sent0, sent1, hard_neg)": NLITriplets(_file(tmp_path, "nli.csv", "sent0,sent1,hard_neg\na,b,c\n")),
        "pairs (sent0, sent1)": NLITriplets(_file(tmp_path, "nli2.csv", "sent0,sent1\na,b\n")),
        "rows of 4 texts (query, positive, negative_1, negative_2)": RetrievalRows(_file(
            tmp_path, "rows.jsonl", json.dumps({"query": "q", "positive": "p", "negative_1": "n", "negative_2": "m"})
            + "\n")),
    }
    for label, source in sources.items():
        source.index()
        assert examples_label(source[0], tuple(getattr(source, "columns", ()))) == label


def test_export_card_and_eval_name_the_pooler_alike(tmp_path: Path, capsys: pytest.CaptureFixture):
    """The unsupervised recipe's ``cls`` (MLP head in training only) runs as ``cls_before_pooler`` at inference:
    every place a user reads the pooler of the export says that."""
    encoder = SentenceEncoder.from_config(dict(TINY_MODEL))  # pooler cls, mlp_only_train
    out = tmp_path / "model"
    export_model(encoder, str(out))
    write_card(out, RunFacts(config={"model": dict(TINY_MODEL)}))
    write_senteval_root(tmp_path / "data", pairs_per_file=4)
    assert eval_main([str(out), "--tasks", "stsb", "--data-dir", str(tmp_path / "data"), "--output",
                      str(tmp_path / "r.json")]) == 0
    names = {
        "simcse_pl.json": json.loads((out / "simcse_pl.json").read_text())["pooler"],
        "SimCSE": SimCSE.from_pretrained(out, device="cpu").pooler.kind,
        "simcse-eval": json.loads((tmp_path / "r.json").read_text())["pooler"],
    }
    assert names == dict.fromkeys(names, "cls_before_pooler")
    assert "**Pooling:** `cls_before_pooler`" in (out / "README.md").read_text()


def test_the_closing_line_names_the_loggers_that_took_the_metrics(tmp_path: Path):
    csv = CSVLogger(save_dir=str(tmp_path), name="csv", version="")
    board = TensorBoardLogger(save_dir=str(tmp_path), name="tensorboard", version="")
    assert metrics_destinations([csv], str(tmp_path)) == "metrics in csv/"
    assert metrics_destinations([board], str(tmp_path)) == "metrics in tensorboard/"
    assert metrics_destinations([csv, board], str(tmp_path)) == "metrics in csv/ and tensorboard/"
    assert metrics_destinations([], str(tmp_path)) == "no metrics logger (logger=none)"
