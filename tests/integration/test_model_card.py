"""The model card (README.md) of an export and ``simcse-export``: a tiny train.py run writes a card whose front
matter parses as the hub's YAML and whose numbers are results.json's; its three usage snippets run and agree;
``simcse-export`` rewrites the same export and card from the run folder or a checkpoint; ``--push-to-hub``
without a token or a network is one error line, exit status 2, nothing written."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file
from doc_blocks import blocks, commands
from train_runs import run_train

from simcse_pl.export.model_card import write_card
from simcse_pl.export.writer import export_model
from simcse_pl.cli.export import main, objective_from_config
from simcse_pl.inference import SimCSE
from simcse_pl.losses import InfoNCE
from simcse_pl.export.model_card import EXAMPLES, MODEL_ID_PLACEHOLDER, ExportFacts, RunFacts, build_card, card_data
from simcse_pl.training.module import SimCSEModule
from tiny_model import WIDE_INIT_BERT as TINY

REPO = Path(__file__).resolve().parents[2]


def front_matter(card: str) -> dict[str, Any]:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def code_block(card: str, heading: str) -> str:
    found = re.search(rf"### {heading}\n\n```python\n(.*?)```", card, re.S)
    assert found, f"no {heading} code in the card"
    return found.group(1)


def run_snippet(card: str, heading: str, model_dir: Path) -> np.ndarray:
    """A usage snippet of the card, run on the local folder in place of the hub id: its ``embeddings``."""
    namespace: dict[str, Any] = {}
    exec(code_block(card, heading).replace(MODEL_ID_PLACEHOLDER, str(model_dir)), namespace)  # noqa: S102
    return np.asarray(namespace["embeddings"], dtype=np.float32)


def table(card: str) -> dict[tuple[str, str, str], str]:
    """The evaluation table as ``{(split, metric, task column): cell}``."""
    lines = card.split("## Evaluation")[1].split("\n\n##")[0].strip().splitlines()
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines if line.startswith("|")]
    header, body = rows[0], rows[2:]
    return {(row[0], row[1], header[i]): row[i] for row in body for i in range(2, len(header))}


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def export_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``simcse-export`` as its console script runs it: ``sys.exit(main())``, in a fresh process."""
    code = "import sys; from simcse_pl.cli.export import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def run_dir(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny train.py run: untrained validation, 2 steps, export, test."""
    run = tmp_path_factory.mktemp("card_run")
    run_train(run, "model.pooler=avg", "logger=none", "trainer.max_steps=2", "trainer.val_check_interval=2",
              data_dir=tiny_data)
    return run


@pytest.fixture(scope="module")
def card(run_dir: Path) -> str:
    return (run_dir / "model" / "README.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def results(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "results.json").read_text())


def test_front_matter_is_hub_yaml_with_the_expected_keys(card: str):
    meta = front_matter(card)
    assert meta["library_name"] == "sentence-transformers"
    assert meta["pipeline_tag"] == "sentence-similarity"
    assert {"sentence-transformers", "sentence-similarity", "feature-extraction", "simcse", "loss:InfoNCE"} <= set(
        meta["tags"])
    assert meta["metrics"] == ["pearson_cosine", "spearman_cosine"]
    assert meta["model-index"][0]["name"] == "simcse-pl InfoNCE sentence encoder"
    # a random init and a local file: no hub model or dataset to name, so none is invented
    assert "base_model" not in meta and "datasets" not in meta
    from huggingface_hub import ModelCard

    assert ModelCard(card).data.library_name == "sentence-transformers"  # huggingface_hub parses it back


def test_evaluation_numbers_are_results_json(card: str, results: dict[str, Any]):
    cells = table(card)
    test, best, before = results["test"], results["best"], results["before"]
    assert cells[("test", "spearman", "STS-B")] == f"{test['test/stsb_spearman']:.2f}"
    assert cells[("test", "pearson", "STS-B")] == f"{test['test/stsb_pearson']:.2f}"
    dev = f"dev (step {best['step']})"
    assert cells[(dev, "spearman", "STS-B")] == f"{best['val/stsb_spearman']:.2f}"
    assert cells[("dev, untrained", "pearson", "STS-B")] == f"{before['val/stsb_pearson']:.2f}"
    assert cells[("dev, untrained", "uniform", "STS-B")] == f"{before['val/stsb_uniform']:.4f}"
    assert len(cells) == len(test) + 1 + len(before)  # every score of results.json, nothing else
    # the metadata holds the same scores unrounded, as 0–1 the way hub cards write them (issue 24 item 11)
    scores = {(r["dataset"]["split"], m["type"]): m["value"] for r in front_matter(card)["model-index"][0]["results"]
              for m in r["metrics"]}
    assert scores == pytest.approx({
        ("test", "spearman_cosine"): test["test/stsb_spearman"] / 100,
        ("test", "pearson_cosine"): test["test/stsb_pearson"] / 100,
        ("validation", "spearman_cosine"): best["val/stsb_spearman"] / 100,
    }, abs=1e-9)


def test_card_says_how_the_model_was_made(card: str, results: dict[str, Any]):
    assert "- **Objective:** `InfoNCE` (`simcse_pl.losses.InfoNCE`): `tau`=0.05" in card
    assert f"- `wiki/wiki.txt`, read by `TextLines`: {results['train_examples']} examples" in card
    assert results["train_examples"] == 256
    assert "- steps trained: 2" in card and "- `data.batch_size`: 16" in card
    assert "- **Base model:** none: a randomly initialised `bert` (`model.random_init`)" in card
    assert "@inproceedings{gao2021simcse" in card


def test_usage_snippets_run_and_give_the_same_vectors(card: str, run_dir: Path):
    model_dir = run_dir / "model"
    expected = np.asarray(SimCSE.from_pretrained(model_dir, device="cpu").encode(EXAMPLES), dtype=np.float32)
    for heading in ("Sentence Transformers", "Transformers", "simcse-pl"):
        np.testing.assert_allclose(run_snippet(card, heading, model_dir), expected, atol=1e-5, err_msg=heading)


@pytest.mark.parametrize("pooler, mlp_only_train", [
    ("cls", False), ("cls", True), ("cls_before_pooler", False), ("last_token", False), ("avg_first_last", False),
])
def test_transformers_snippet_of_each_pooler(pooler: str, mlp_only_train: bool, tmp_path: Path):
    torch.manual_seed(0)
    module = SimCSEModule(model={"name_or_path": None, "random_init": TINY, "pooler": pooler,
                                 "mlp_only_train": mlp_only_train}, loss=InfoNCE()).eval()
    if module.pooler.mlp is not None:
        torch.nn.init.normal_(module.pooler.mlp.dense.weight, std=0.5)
    export_model(module.sentence_encoder, str(tmp_path))
    card = write_card(tmp_path).read_text()
    expected = np.asarray(SimCSE.from_pretrained(tmp_path, device="cpu").encode(EXAMPLES), dtype=np.float32)
    np.testing.assert_allclose(run_snippet(card, "Transformers", tmp_path), expected, atol=1e-5)
    if pooler == "avg_first_last":  # two layers: no sentence-transformers files, and the card says so
        assert front_matter(card)["library_name"] == "transformers"
        assert "Not a sentence-transformers model: not written: pooler 'avg_first_last' averages two layers" in rendered(
            card)


# --- simcse-export


def guide_commands() -> list[str]:
    """The ``simcse-export`` lines of the export guide's first section, as written there (the hub upload too)."""
    return [c for block in blocks("docs/guides/export-serving.md") if block.heading == "The export and its model card"
            for c in commands(block) if c.startswith("simcse-export")]


def test_export_guide_commands(run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Each command of the export guide on a copy of the run (its export deleted first): the run folder gets back train.py's
    very export and card; another checkpoint gets the run's config but not its scores; --push-to-hub offline
    writes nothing."""
    from sentence_transformers import SentenceTransformer

    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    shutil.rmtree(copy / "model")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    commands = guide_commands()
    assert len(commands) == 3
    status = [main(shlex.split(c.replace("outputs/quickstart/<date>_<time>", str(copy)))[1:]) for c in commands[:2]]
    assert status == [0, 0]
    # train.py's card and simcse-export's come from the same files, and the weights from the same checkpoint
    assert (copy / "model" / "README.md").read_text() == (run_dir / "model" / "README.md").read_text()
    old, new = load_file(run_dir / "model" / "model.safetensors"), load_file(copy / "model" / "model.safetensors")
    assert old.keys() == new.keys() and all(torch.equal(old[k], new[k]) for k in old)
    vectors = SentenceTransformer(str(copy / "model"), device="cpu").encode(EXAMPLES)  # loads with the card there
    assert vectors.shape == (len(EXAMPLES), 32)
    last = (tmp_path / "last_model" / "README.md").read_text()
    assert "## Evaluation" not in last and "model-index" not in front_matter(last)
    assert "`InfoNCE`" in last and "256 examples" in last
    before = snapshot(copy)
    assert main(shlex.split(commands[2].replace("outputs/quickstart/<date>_<time>", str(copy)))[1:]) == 2
    assert snapshot(copy) == before


def test_simcse_export_of_a_lone_checkpoint(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    lone = tmp_path / "best.ckpt"
    shutil.copy(run_dir / "checkpoints" / "last.ckpt", lone)
    assert main([str(lone)]) == 2
    assert capsys.readouterr().err == (
        f"simcse-export: error: {lone} is not inside a run folder: give the folder to write with --output DIR\n")
    assert main([str(lone), "--output", str(tmp_path / "model")]) == 0
    card = (tmp_path / "model" / "README.md").read_text()
    assert "- **Base model:** none: a randomly initialised `bert` (`model.random_init`)" in card  # from its settings
    assert "### Training Hyperparameters\n\n- `optim.lr`: 3e-05" in card


@pytest.mark.parametrize("name, message", [
    ("missing", "{path}: no such run folder or checkpoint"),
    ("folder", "{path}: not a run folder (no run_info.json or checkpoints/); give a run folder or a .ckpt"),
    ("notes.txt", "{path}: neither a run folder nor a .ckpt checkpoint"),
])
def test_a_bad_run_dir_is_one_line(name: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture):
    path = tmp_path / name
    if name == "folder":
        path.mkdir()
    elif name.endswith(".txt"):
        path.write_text("x")
    assert main([str(path)]) == 2
    assert capsys.readouterr().err == f"simcse-export: error: {message.format(path=path)}\n"


def _offline_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_") and k != "HUGGING_FACE_HUB_TOKEN"}
    return {**env, "HF_HOME": str(tmp_path / "hf_home"), **extra}  # no token file there


@pytest.mark.parametrize("setting, reason", [
    ({"HF_TOKEN": "hf_not_a_real_token", "HF_ENDPOINT": "http://127.0.0.1:9"}, "the hub is unreachable (http://127.0.0.1:9 unreachable"),
    ({"HF_TOKEN": "hf_not_a_real_token", "HF_HUB_OFFLINE": "1"}, "the hub is unreachable (HF_HUB_OFFLINE=1 is set)"),
    ({}, "no Hugging Face token (set HF_TOKEN or run `hf auth login`)"),
], ids=["no_network", "offline_mode", "no_token"])
def test_push_to_hub_without_network_or_token_writes_nothing(setting: dict[str, str], reason: str, run_dir: Path,
                                                             tmp_path: Path):
    before = snapshot(run_dir)
    done = export_cli(str(run_dir), "--push-to-hub", "someone/tiny-simcse", env=_offline_env(tmp_path, **setting))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"simcse-export: error: --push-to-hub someone/tiny-simcse: {reason}")
    assert lines[0].endswith("nothing was written") and done.stdout == ""
    assert snapshot(run_dir) == before


def test_push_to_hub_needs_an_owner_and_private_needs_a_repo(run_dir: Path, capsys: pytest.CaptureFixture):
    assert main([str(run_dir), "--push-to-hub", "tiny-simcse"]) == 2
    assert capsys.readouterr().err == "simcse-export: error: --push-to-hub tiny-simcse: give the owner too, as ORG/NAME\n"
    assert main([str(run_dir), "--private"]) == 2
    assert "--private applies to --push-to-hub" in capsys.readouterr().err


# --- the card's rules, without training


def test_hub_ids_become_metadata_local_paths_do_not(tmp_path: Path):
    export = ExportFacts("avg", False, None, None, 32, "bert", None, None, False)
    streamed = RunFacts(config={
        "model": {"name_or_path": "sentence-transformers/all-MiniLM-L6-v2"},
        "data": {"source": {"_target_": "simcse_pl.data.sources.hf.HFText", "path": "princeton-nlp/datasets-for-simcse",
                            "data_files": "wiki1m_for_simcse.txt"}},
        "loss": {"_target_": "simcse_pl.losses.matryoshka.Matryoshka", "dims": [32, 16],
                 "inner": {"_target_": "simcse_pl.losses.cosent.CoSENT", "scale": 20.0}},
    })
    data = card_data(export, streamed, "title").to_dict()
    assert data["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert data["datasets"] == ["princeton-nlp/datasets-for-simcse"]
    assert {"loss:Matryoshka", "loss:CoSENT"} <= set(data["tags"])
    card = build_card(export, streamed).content
    assert "  - **inner:** `CoSENT` (`simcse_pl.losses.cosent.CoSENT`): `scale`=20.0" in card
    assert "`princeton-nlp/datasets-for-simcse` (`wiki1m_for_simcse.txt`)" in card
    local = RunFacts(config={"model": {"name_or_path": str(tmp_path)},
                             "data": {"source": {"_target_": "simcse_pl.data.sources.hf.HFText", "path": str(tmp_path)}}})
    data = card_data(export, local, "title").to_dict()
    assert "base_model" not in data and "datasets" not in data


def test_the_objective_is_rebuilt_only_from_simcse_pl_losses():
    loss = {"_target_": "simcse_pl.losses.matryoshka.Matryoshka", "dims": [32, 16], "weights": None,
            "inner": {"_target_": "simcse_pl.losses.InfoNCE", "tau": 0.05}}
    assert objective_from_config(loss).dims == [32, 16]
    with pytest.raises(ValueError, match=r"loss.inner: 'os.system' is not one of simcse-pl's losses"):
        objective_from_config({**loss, "inner": {"_target_": "os.system", "_args_": ["true"]}})


# --- what a task is: its built-in name, never a file's name

EXPORT = ExportFacts("avg", False, None, None, 32, "bert", None, None, False)


def scored_run(val_tasks: list[str], test_tasks: list[str]) -> RunFacts:
    """A run whose dev and test scored a task keyed ``stsb`` (what load_task names a built-in STS-B and a user's
    ``stsb.tsv`` alike)."""
    return RunFacts(
        config={"data": {"val_tasks": val_tasks, "test_tasks": test_tasks}},
        results={"metric": "val/stsb_spearman", "test": {"test/stsb_spearman": 91.5, "test/stsb_pearson": 90.1},
                 "best": {"step": 10, "val/stsb_spearman": 88.0}},
    )


def test_a_private_pair_file_named_stsb_claims_no_public_dataset(tmp_path: Path):
    private = str(tmp_path / "private" / "stsb.tsv")
    card = build_card(EXPORT, scored_run([private], [private])).content
    assert "STS-B" not in card and "model-index" not in front_matter(card)
    assert table(card) == {("test", "spearman", "stsb.tsv"): "91.50", ("test", "pearson", "stsb.tsv"): "90.10",
                           ("dev (step 10)", "spearman", "stsb.tsv"): "88.00"}


def test_the_built_in_task_keeps_its_title_and_metadata():
    card = build_card(EXPORT, scored_run(["stsb"], ["STSB"])).content
    assert table(card)[("test", "spearman", "STS-B")] == "91.50"
    results = front_matter(card)["model-index"][0]["results"]
    assert {(r["dataset"]["name"], r["dataset"]["split"]) for r in results} == {("STS-B", "test"), ("STS-B", "validation")}
    # the table shows ×100 as the paper does; the metadata 0–1 as hub cards do (issue 24 item 11)
    values = {(r["dataset"]["split"], m["type"]): m["value"] for r in results for m in r["metrics"]}
    assert values == {("test", "spearman_cosine"): 0.915, ("test", "pearson_cosine"): 0.901,
                      ("validation", "spearman_cosine"): 0.88}


def test_built_in_dev_and_private_test_of_one_key(tmp_path: Path):
    """Dev on the real STS-B, test on a user's stsb.tsv: the column is the file's, the metadata only the dev score."""
    card = build_card(EXPORT, scored_run(["stsb"], [str(tmp_path / "stsb.tsv")])).content
    assert table(card)[("test", "spearman", "stsb.tsv")] == "91.50"
    results = front_matter(card)["model-index"][0]["results"]
    assert [(r["dataset"]["name"], r["dataset"]["split"]) for r in results] == [("STS-B", "validation")]


# --- names and values from files and configs are text on the card, never markup

NASTY = "we|ird `x` <b>bold *em* [l](u)"  # a file name (no "/"), as a task key and a path


def rendered(card: str) -> str:
    """The card's body as the hub renders it (CommonMark with GFM tables)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table").render(card.split("\n---\n", 1)[1])


def test_file_names_and_config_values_are_escaped(tmp_path: Path):
    pair_file = str(tmp_path / f"{NASTY}.tsv")
    export = ExportFacts(f"pool|er `<i>x</i>`", True, "`{sentence}` | <u>", None, 32, "be|rt<b>", "no <i>ST</i>", None,
                         False)
    run = RunFacts(
        config={
            "model": {"name_or_path": str(tmp_path / "my|model<b>"), "random_init": None},
            "data": {"val_tasks": [pair_file], "test_tasks": [pair_file], "batch_size": "16 | <img src=x>",
                     "source": {"_target_": "simcse_pl.data.sources.scored_pairs.ScoredPairs", "path": str(tmp_path / f"{NASTY}.csv")}},
            "loss": {"_target_": "simcse_pl.losses.cosent.CoSENT", "scale": "<script>alert(1)</script>|20"},
            "auxiliary": {"a|b`c": {"_target_": "simcse_pl.losses.InfoNCE", "tau": "0.05\n---\nx: 1"}},
            "task_name": "run\n---\nname: injected",
        },
        results={"metric": "val/x`y_spearman", "test": {f"test/{NASTY}_spearman": 91.5},
                 "best": {"step": 10, f"val/{NASTY}_spearman": 88.0}, "train_examples": 12},
        versions={"torch": "2.0 | <b>", "we`ird": "1\n---\n2"},
    )
    card = build_card(export, run).content
    # the front matter is the hub's YAML, and stays the only front matter
    meta = yaml.safe_load(card.split("---\n")[1])
    assert meta["library_name"] == "transformers" and "loss:CoSENT" in meta["tags"]
    from huggingface_hub import ModelCard

    assert ModelCard(card).data.library_name == "transformers"
    html = rendered(card)
    for tag in ("<b>", "<i>", "<u>", "<img", "<script", "<em>", '<a href="u"'):
        assert tag not in html, tag  # shown as text, not markup
    assert html.count("<h1>") == 1 and "<hr" not in html
    # the table stays a table: every row has the header's three cells, the file's name its column title
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)
    cells = [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S) for row in rows]
    assert [len(c) for c in cells] == [3, 3, 3]
    assert cells[0][2] == "we|ird `x` &lt;b&gt;bold *em* [l](u).tsv"
    assert [c[:2] for c in cells[1:]] == [["test", "spearman"], ["dev (step 10)", "spearman"]]
    assert [c[2] for c in cells[1:]] == ["91.50", "88.00"]
    # each value is shown exactly, as text or code, on its list item
    assert "<li><strong>Pooling:</strong> <code>pool|er `&lt;i&gt;x&lt;/i&gt;`</code>" in html
    assert "<li><strong>Prompt template:</strong> <code>`{sentence}` | &lt;u&gt;</code></li>" in html
    assert "<code>scale</code>=&lt;script&gt;alert(1)&lt;/script&gt;|20</li>" in html
    assert "<li><strong>Auxiliary <code>a|b`c</code>:</strong>" in html and "=0.05 --- x: 1</li>" in html
    assert f"<li><code>{NASTY.replace('<', '&lt;').replace('>', '&gt;')}.csv</code>, read by" in html
    assert "<li>torch: 2.0 | &lt;b&gt;</li>" in html and "<li>we`ird: 1 --- 2</li>" in html
    assert "<li><code>data.batch_size</code>: 16 | &lt;img src=x&gt;</li>" in html
