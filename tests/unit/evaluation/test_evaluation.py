"""STS loaders on SentEval-format fixtures, pooled scoring, alignment/uniformity and the batched encoder."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr, spearmanr
from sts_fixtures import write_senteval_root, write_sts_subset

from simcse_pl.encoders.backbone import load_tokenizer
from simcse_pl.evaluation import PAPER_COLUMNS, STSTask, encode, evaluate_tasks, format_table, load_task
from simcse_pl.errors import DataError
from tiny_model import TINY_BERT as TINY
from tiny_model import mean_pooled_tiny_bert



@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("senteval")
    return path, write_senteval_root(path)


def test_sts12_16_pool_all_subsets_and_skip_unscored_pairs(root):
    path, written = root
    for name in ("sts12", "sts13", "sts14", "sts15", "sts16"):
        task = load_task(name, str(path), "test")
        rows = [r for subset in written[name].values() for r in subset if r[2] != ""]
        assert task.name == name
        assert task.pairs == [(a, b) for a, b, _ in rows]
        np.testing.assert_allclose(task.scores, [float(g) for _, _, g in rows])
        assert len(task.pairs) == sum(len(s) - 1 for s in written[name].values())  # one unscored pair per file


def test_empty_gold_line_skips_exactly_that_pair(tmp_path):
    rows = [("a  man plays ", "the dog", "4.5"), ("x", "y", ""), ("red ball", "a ball", "1")]
    folder = tmp_path / "STS13-en-test"
    write_sts_subset(folder, "FNWN", rows)
    write_sts_subset(folder, "headlines", [("h1", "h2", "  "), ("h3", "h4", "2.0")])
    write_sts_subset(folder, "OnWN", [("o1", "o2", "0")])
    task = load_task("sts13", str(tmp_path), "test")
    assert task.pairs == [("a man plays", "the dog"), ("red ball", "a ball"), ("h3", "h4"), ("o1", "o2")]
    assert task.scores.tolist() == [4.5, 1.0, 2.0, 0.0]


@pytest.mark.parametrize("gold", [["1", "2"], ["1", "2", "3", "4"]])
def test_gold_file_of_other_length_names_file_and_line(tmp_path, gold):
    folder = tmp_path / "STS13-en-test"
    write_sts_subset(folder, "FNWN", [("a", "b", "1"), ("c", "d", "2"), ("e", "f", "3")])
    (folder / "STS.gs.FNWN.txt").write_text("\n".join(gold) + "\n")
    with pytest.raises(DataError, match=r"STS13-en-test/STS\.gs\.FNWN\.txt:(3|4): .* 3 sentence pairs"):
        load_task("sts13", str(tmp_path), "test")


def test_bad_score_and_bad_input_line_name_file_and_line(tmp_path):
    folder = tmp_path / "STS13-en-test"
    write_sts_subset(folder, "FNWN", [("a", "b", "1"), ("c", "d", "high")])
    with pytest.raises(DataError, match=r"STS\.gs\.FNWN\.txt:2: score 'high'"):
        load_task("sts13", str(tmp_path), "test")
    write_sts_subset(folder, "FNWN", [("a", "b", "1"), ("c\tx", "d", "2")])
    with pytest.raises(DataError, match=r"STS\.input\.FNWN\.txt:2: expected 2 tab-separated sentences, found 3"):
        load_task("sts13", str(tmp_path), "test")


@pytest.mark.parametrize(
    ("task", "missing"),
    [("sts14", "STS14-en-test/STS.input.tweet-news.txt"), ("sts16", "STS16-en-test/STS.gs.plagiarism.txt"),
     ("sickr", "sick/SICK_test_annotated.txt"), ("stsb", "stsb/sts-test.csv")],
)
def test_missing_task_file_is_an_error_naming_it(tmp_path, task, missing):
    write_senteval_root(tmp_path)
    (tmp_path / missing).unlink()
    with pytest.raises(DataError, match=f"{tmp_path / missing}: no such file"):
        load_task(task, str(tmp_path), "test")


def test_sts12_16_have_no_dev_split(root):
    with pytest.raises(DataError, match="sts12: .* test sets only"):
        load_task("sts12", str(root[0]), "dev")


@pytest.mark.parametrize(("split", "filename"), [("test", "SICK_test_annotated.txt"), ("dev", "SICK_trial.txt")])
def test_sickr_reads_senteval_files_without_header(root, split, filename):
    path, written = root
    task = load_task("sickr", str(path), split)
    assert task.pairs == [(a, b) for a, b, _ in written["sickr"][split]]
    assert task.scores.tolist() == [float(g) for _, _, g in written["sickr"][split]]


def test_stsb_reads_each_split(root):
    path, written = root
    for split in ("dev", "test"):
        task = load_task("stsb", str(path), split)
        assert task.pairs == [(a, b) for a, b, _ in written["stsb"][split]]
        np.testing.assert_allclose(task.scores, [float(g) for _, _, g in written["stsb"][split]])


def test_pooled_all_spearman_is_scipy_on_the_concatenation(root):
    """SimCSE's "all": one correlation over every subset's pairs together, not a mean of per-subset ones."""
    path, written = root
    task = load_task("sts15", str(path), "test")
    rng = np.random.default_rng(0)
    vectors = {s: rng.normal(size=16) for s in task.sentences}
    cos, gold = [], []
    for rows in written["sts15"].values():
        for a, b, g in rows:
            if g:
                va, vb = vectors[a], vectors[b]
                cos.append(va @ vb / np.linalg.norm(va) / np.linalg.norm(vb))
                gold.append(float(g))
    got = task.evaluate(torch.tensor(np.stack([vectors[s] for s in task.sentences])))
    assert got["spearman"] == pytest.approx(spearmanr(cos, gold).statistic * 100, abs=1e-9)
    assert got["pearson"] == pytest.approx(pearsonr(cos, gold).statistic * 100, abs=1e-4)


def test_align_uniform_match_a_hand_computation():
    pairs = [("a", "b"), ("a", "c"), ("c", "d"), ("d", "b")]
    task = STSTask("stsb", pairs, np.array([4.5, 4.0, 5.0, 1.0]), align_threshold=4.0)  # positives: pairs 0, 2
    raw = {"a": [3.0, 4.0], "b": [1.0, 0.0], "c": [0.0, 2.0], "d": [-1.0, -1.0]}
    unit = {k: np.array(v) / np.linalg.norm(v) for k, v in raw.items()}
    align = (np.sum((unit["a"] - unit["b"]) ** 2) + np.sum((unit["c"] - unit["d"]) ** 2)) / 2
    pair_terms = [math.exp(-2 * np.sum((unit[x] - unit[y]) ** 2)) for x, y in itertools.combinations("abcd", 2)]
    uniform = math.log(sum(pair_terms) / len(pair_terms))
    got = task.align_uniform(torch.tensor([raw[s] for s in task.sentences]))
    assert got["align"] == pytest.approx(align, rel=1e-5)
    assert got["uniform"] == pytest.approx(uniform, rel=1e-5)


@pytest.fixture(scope="module")
def tiny_model() -> tuple:
    return mean_pooled_tiny_bert(), load_tokenizer(None, random_init=TINY)


def test_encode_in_length_sorted_batches_equals_one_at_a_time(tiny_model):
    embed, tokenizer = tiny_model
    sentences = ["a much longer sentence about a dog in the park", "cat", "the red ball", "x", "two words"]
    batched = encode(embed, tokenizer, sentences, batch_size=2)
    with torch.inference_mode():
        single = torch.cat([embed(**tokenizer([s], return_tensors="pt")) for s in sentences])
    assert batched.dtype == torch.float32 and batched.shape == (5, TINY["hidden_size"])
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=1e-5)


def test_evaluate_tasks_scores_each_task_from_one_shared_pass(root, tiny_model):
    embed, tokenizer = tiny_model
    tasks = [load_task(n, str(root[0]), "test") for n in ("sts12", "stsb")]
    calls = []

    def encode_sentences(sentences):
        calls.append(len(sentences))
        return encode(embed, tokenizer, sentences, batch_size=16)

    results = evaluate_tasks(encode_sentences, tasks, align_uniform=True)
    assert calls == [len(set(tasks[0].sentences) | set(tasks[1].sentences))]
    for task in tasks:
        expected = task.evaluate(encode(embed, tokenizer, task.sentences))
        assert results[task.name]["spearman"] == pytest.approx(expected["spearman"], abs=1e-3)
        assert results[task.name]["pairs"] == len(task.pairs)
    assert set(results["stsb"]) >= {"align", "uniform"} and "align" not in results["sts12"]


def test_table_has_the_papers_columns_and_average():
    results = {"tasks": {n: {"kind": "sts", "spearman": float(i), "pearson": 10.0 + i}
                         for i, n in enumerate(PAPER_COLUMNS)}}
    header, _, spearman, pearson = format_table(results).splitlines()
    assert header.split("|")[2:-1] == [f" {t.rjust(7)} " for t in
                                       ["STS12", "STS13", "STS14", "STS15", "STS16", "STS-B", "SICK-R", "Avg."]]
    assert spearman.split("|")[-2].strip() == "3.00" and pearson.split("|")[-2].strip() == "13.00"


def _write_hf_dir(folder: Path, split_rows: dict[str, list[dict]]) -> None:
    folder.mkdir(parents=True)
    for split, rows in split_rows.items():
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_dataset_folder_is_read_with_datasets(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    rows = {
        "validation": [{"sentence1": "a  dog", "sentence2": "the dog", "score": 4.0},
                       {"sentence1": "x", "sentence2": "y", "score": 1.0}],
        "test": [{"sentence1": "t1", "sentence2": "t2", "score": 2.5}],
    }
    _write_hf_dir(tmp_path / "my-sts", rows)
    dev = load_task(str(tmp_path / "my-sts"), "unused", "dev")
    assert dev.name == "my-sts" and dev.pairs == [("a dog", "the dog"), ("x", "y")]
    assert dev.scores.tolist() == [4.0, 1.0]
    assert load_task(str(tmp_path / "my-sts"), "unused", "test").pairs == [("t1", "t2")]


def test_hub_ids_get_the_senteval_name_and_scale(tmp_path, monkeypatch):
    """sentence-transformers/stsb scores 0-1: scaled to 0-5 so align's "score > 4" means the same."""
    import datasets

    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    _write_hf_dir(tmp_path / "stsb", {"validation": [{"sentence1": "a", "sentence2": "b", "score": 0.9},
                                                     {"sentence1": "c", "sentence2": "d", "score": 0.2}]})
    real_load, asked = datasets.load_dataset, []

    def offline_load(path, split):
        asked.append((path, split))
        return real_load(str(tmp_path / "stsb"), split=split)

    monkeypatch.setattr(datasets, "load_dataset", offline_load)
    task = load_task("sentence-transformers/stsb", "unused", "dev")
    assert asked == [("sentence-transformers/stsb", "validation")]
    assert task.name == "stsb" and task.scores.tolist() == pytest.approx([4.5, 1.0])


def test_unloadable_dataset_id_is_a_data_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    _write_hf_dir(tmp_path / "only-test", {"test": [{"sentence1": "a", "sentence2": "b", "score": 1.0}]})
    with pytest.raises(DataError, match=r"only-test \(split 'validation'\): cannot load it"):
        load_task(str(tmp_path / "only-test"), "unused", "dev")


def test_precision_bf16_autocast_is_close_and_unknown_precision_is_refused(tiny_model):
    embed, tokenizer = tiny_model
    sentences = ["a man plays the guitar", "the cat sleeps", "dogs run in the big park"]
    fp32 = encode(embed, tokenizer, sentences, precision="fp32")
    bf16 = encode(embed, tokenizer, sentences, precision="bf16")
    assert bf16.dtype == torch.float32 and not torch.equal(bf16, fp32)
    torch.testing.assert_close(bf16, fp32, atol=0.05, rtol=0.05)
    with pytest.raises(ValueError, match="precision='fp8'"):
        encode(embed, tokenizer, sentences, precision="fp8")


def test_real_stsb_splits_have_the_published_sizes(real_data: Path):
    sizes = {split: len(load_task("stsb", str(real_data), split).pairs) for split in ("train", "dev", "test")}
    assert sizes == {"train": 5749, "dev": 1500, "test": 1379}
