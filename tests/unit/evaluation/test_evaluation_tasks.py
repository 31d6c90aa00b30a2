"""Evaluation tasks beyond SentEval: pair files in every layout, the Chinese suite by name, BEIR retrieval and
clustering against hand-computed metrics, and the suite runner's results layout and logger keys."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from simcse_pl.evaluation import (
    CHINESE_TASKS,
    ClusteringTask,
    RetrievalTask,
    STSTask,
    flatten,
    format_table,
    load_task,
    load_tasks,
    ranking_metrics,
    run_suite,
    split_key,
    unflatten,
    v_measure,
)
from simcse_pl.training.loggers import tabulate_test_metrics
from simcse_pl.errors import DataError

PAIRS = [("a man plays", "a man is playing", "4.5"), ("the cat", "a dog runs", "0.5"), ("red ball", "blue ball", "2")]


# --- any pair file as an STS task -------------------------------------------------------------------------------

LAYOUTS = {
    "dev.csv": "sentence1,sentence2,score\n" + "".join(f'"{a}","{b}",{s}\n' for a, b, s in PAIRS),
    "my_dev.tsv": "idx\tsentence1\tsentence2\tlabel\n" + "".join(f"{i}\t{a}\t{b}\t{s}\n" for i, (a, b, s) in enumerate(PAIRS)),
    "test.jsonl": "".join(json.dumps({"sentence1": a, "sentence2": b, "score": float(s)}) + "\n" for a, b, s in PAIRS),
    "sts-dev.csv": "".join(f"main-captions\tMSRvid\t2012test\t{i:04d}\t{s}\t{a}\t{b}\n" for i, (a, b, s) in enumerate(PAIRS)),
    "ATEC.test.data": "".join(f"{a}\t{b}\t{s}\n" for a, b, s in PAIRS),
}


@pytest.mark.parametrize("filename", list(LAYOUTS))
def test_every_pair_layout_is_an_sts_task(tmp_path: Path, filename: str):
    folder = tmp_path / "mine"
    folder.mkdir()
    path = folder / filename
    path.write_text(LAYOUTS[filename], encoding="utf-8")
    task = load_task(str(path), "unused", "dev", tasks_key="data.val_tasks")
    assert isinstance(task, STSTask) and task.kind == "sts"
    assert task.pairs == [(a, b) for a, b, _ in PAIRS]
    assert task.scores.tolist() == [float(s) for _, _, s in PAIRS]
    assert task.align_threshold is None  # a user's file defines no positives
    expected_name = {"dev.csv": "mine-dev", "test.jsonl": "mine-test"}.get(filename, path.name.rsplit(".", 1)[0])
    assert task.name == expected_name


def test_pair_file_bad_row_names_file_and_line(tmp_path: Path):
    path = tmp_path / "dev.tsv"
    path.write_text("sentence1\tsentence2\tscore\na\tb\t1\nc\td\thigh\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"{path}:3: score 'high' is not a number"):
        load_task(str(path), "unused", "dev")
    path.write_text("a\tb\t1\nc\td\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"{path}:2: expected 3 tab-separated fields"):
        load_task(str(path), "unused", "dev")


def test_pair_file_of_unknown_layout_says_what_it_needs_and_missing_file_names_the_option(tmp_path: Path):
    path = tmp_path / "odd.txt"
    path.write_text("just one column\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_task(str(path), "unused", "test", tasks_key="--tasks")
    assert f"{path}:1: cannot tell the layout" in str(info.value) and "layout=" not in str(info.value)
    assert "header row naming sentence1, sentence2 and score or label" in str(info.value)
    with pytest.raises(DataError, match=r"nope\.tsv: no such file \(--tasks\)"):
        load_task(str(tmp_path / "nope.tsv"), "unused", "test", tasks_key="--tasks")


def test_two_tasks_of_one_name_are_refused(tmp_path: Path):
    for folder in ("a", "b"):
        (tmp_path / folder / "x").mkdir(parents=True)
        (tmp_path / folder / "x" / "test.tsv").write_text(LAYOUTS["ATEC.test.data"], encoding="utf-8")
    with pytest.raises(DataError, match=r"data\.test_tasks: .* are both task 'x-test'"):
        load_tasks([str(tmp_path / "a/x/test.tsv"), str(tmp_path / "b/x/test.tsv")], "unused", "test",
                   tasks_key="data.test_tasks")


def test_unknown_task_name_lists_what_is_known():
    with pytest.raises(DataError, match=r"--tasks: unknown task 'stsx'; known: sts12, .*atec.*sohu_dc"):
        load_task("stsx", "unused", "test", tasks_key="--tasks")


# --- the Chinese suite by name ----------------------------------------------------------------------------------

TEXT2VEC = {"atec": "ATEC", "bq": "BQ", "lcqmc": "LCQMC", "pawsx": "PAWSX", "stsb_zh": "STS-B"}
ZH_ROWS = [("花呗怎么还款", "花呗如何还钱", 1), ("今天天气很好", "我想买一本书", 0), ("一个男人在弹吉他", "一个人在弹吉他", 1)]


def write_chinese_root(root: Path) -> dict[str, list]:
    """Every Chinese task in its distributed layout: text2vec's .data files, SOHU's jsonl; returns rows per task."""
    written = {}
    for i, (name, folder) in enumerate(TEXT2VEC.items()):
        rows = [(a, b, (label * 5 if name == "stsb_zh" else label)) for a, b, label in ZH_ROWS[: 2 + i % 2]]
        for split in ("train", "valid", "test"):
            path = root / "chinese" / folder / f"{folder}.{split}.data"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(f"{a}\t{b}\t{s}\n" for a, b, s in rows), encoding="utf-8")
        written[name] = rows
    for prefix in ("dd", "dc"):
        rows = [("体坛联播", "C罗粉丝数破5亿", 3), ("延迟退休真的来了", "延迟退休真的来了!", 5), ("盒子", "春运", 0)]
        path = root / "chinese" / "SOHU" / f"{prefix}-test.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps({"sentence1": a, "sentence2": b, "label": s}, ensure_ascii=False) + "\n"
                                for a, b, s in rows), encoding="utf-8")
        written[f"sohu_{prefix}"] = rows
    return written


def test_every_chinese_task_name_reads_its_distributed_layout(tmp_path: Path):
    written = write_chinese_root(tmp_path)
    assert set(written) == set(CHINESE_TASKS)
    for name, rows in written.items():
        task = load_task(name, str(tmp_path), "test")
        assert task.name == name and task.pairs == [(a, b) for a, b, _ in rows]
        assert task.scores.tolist() == [float(s) for _, _, s in rows]
        if not name.startswith("sohu"):
            assert load_task(name, str(tmp_path), "dev").pairs == task.pairs  # dev = the .valid.data file


def test_chinese_cmteb_parquet_layout(tmp_path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "chinese" / "C-MTEB" / "STSB" / "data"
    folder.mkdir(parents=True)
    table = pa.table({"sentence1": [a for a, _, _ in ZH_ROWS], "sentence2": [b for _, b, _ in ZH_ROWS],
                      "score": pa.array([5, 0, 4], pa.int32())})
    pq.write_table(table, folder / "validation-00000-of-00001-abc.parquet")
    task = load_task("stsb_zh", str(tmp_path), "dev")
    assert len(task.pairs) == 3 and task.scores.tolist() == [5.0, 0.0, 4.0]
    # the text2vec copy wins when both are there
    write_chinese_root(tmp_path)
    assert len(load_task("stsb_zh", str(tmp_path), "dev").pairs) == 2


def test_chinese_errors(tmp_path: Path):
    with pytest.raises(DataError) as info:
        load_task("lcqmc", str(tmp_path), "test", data_key="--data-dir")
    message = str(info.value)
    assert "chinese/LCQMC/LCQMC.test.data" in message and "C-MTEB/LCQMC/data/test-*.parquet" in message
    assert "Point --data-dir at your data root" in message and "--chinese" in message
    with pytest.raises(DataError, match=r"sohu_dd: SOHU's sets are test sets only"):
        load_task("sohu_dd", str(tmp_path), "dev")
    with pytest.raises(DataError, match=r"SOHU/dc-test\.jsonl: no such file .*not on the Hugging Face hub"):
        load_task("sohu_dc", str(tmp_path), "test")
    write_chinese_root(tmp_path)
    bad = tmp_path / "chinese" / "BQ" / "BQ.test.data"
    bad.write_text("a\tb\t1\nc\td\tx\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"{bad}:2: score 'x' is not a number"):
        load_task("bq", str(tmp_path), "test")


def test_binary_labels_are_scored_by_spearman_of_cosine():
    task = STSTask("atec", [("a", "b"), ("c", "d"), ("e", "f"), ("a", "d")], np.array([1.0, 0.0, 1.0, 0.0]))
    vectors = torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [1.0, 0.0], [0.3, 1.0], [0.3, 0.9]])
    cosine = [float(torch.nn.functional.cosine_similarity(vectors[i], vectors[j], dim=0))
              for i, j in [(0, 1), (2, 3), (4, 5), (0, 3)]]
    assert task.evaluate(vectors)["spearman"] == pytest.approx(100 * spearmanr(cosine, [1, 0, 1, 0]).statistic)


# --- retrieval --------------------------------------------------------------------------------------------------


def test_ranking_metrics_by_hand():
    ranked = ["d3", "d1", "d7", "d2"] + [f"x{i}" for i in range(200)]
    judgements = {"d1": 2.0, "d2": 1.0, "d9": 1.0, "d3": 0.0}  # d3 judged irrelevant, d9 never retrieved
    got = ranking_metrics(ranked, judgements)
    dcg = 2 / math.log2(3) + 1 / math.log2(5)
    idcg = 2 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert got["ndcg_at_10"] == pytest.approx(dcg / idcg)
    assert got["mrr_at_10"] == pytest.approx(1 / 2)
    assert got["recall_at_100"] == pytest.approx(2 / 3)


def write_beir(folder: Path) -> None:
    folder.mkdir(parents=True)
    corpus = [("d1", "", "north"), ("d2", "Title", "east"), ("d3", "", "south"), ("d4", "", "west")]
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n"
                                                 for i, t, x in corpus))
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": q, "text": t}) + "\n"
                                                  for q, t in [("q1", "up"), ("q2", "right"), ("q3", "unjudged")]))
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td4\t1\nq2\td3\t2\n")


def test_beir_folder_retrieval_metrics_by_hand(tmp_path: Path):
    write_beir(tmp_path / "tiny-beir")
    task = load_task(str(tmp_path / "tiny-beir"), "unused", "test", tasks_key="--tasks")
    assert isinstance(task, RetrievalTask) and task.name == "tiny-beir"
    assert task.sizes() == {"queries": 2, "documents": 4}  # q3 has no judgement: not scored
    angle = {"north": 90, "Title east": 0, "south": 270, "west": 180, "up": 80, "right": 10}
    vectors = {t: [math.cos(math.radians(a)), math.sin(math.radians(a))] for t, a in angle.items()}
    results = run_suite([task], lambda sentences: np.array([vectors[s] for s in sentences]))
    got = results["tasks"]["tiny-beir"]
    # q1 (80°): d1 (10° away), d2 (80°), d4 (100°), d3 (170°): relevant d1, d4 at ranks 1 and 3
    q1_ndcg = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    # q2 (10°): d2 (10°), d1 (80°), d3 (100°), d4: relevant d3 (gain 2) at rank 3
    q2_ndcg = (2 / math.log2(4)) / 2
    assert got["ndcg_at_10"] == pytest.approx(100 * (q1_ndcg + q2_ndcg) / 2)
    assert got["mrr_at_10"] == pytest.approx(100 * (1 + 1 / 3) / 2)
    assert got["recall_at_100"] == pytest.approx(100.0)
    assert got["kind"] == "retrieval" and "avg" not in results


def test_beir_qrels_naming_an_unknown_document_is_an_error(tmp_path: Path):
    write_beir(tmp_path / "b")
    (tmp_path / "b" / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tzz\t1\n")
    with pytest.raises(DataError, match=r"qrels/test\.tsv:2: document 'zz' is not in"):
        load_task(str(tmp_path / "b"), "unused", "test")


# --- clustering -------------------------------------------------------------------------------------------------


def test_v_measure_by_hand():
    labels = ["a", "a", "a", "b", "b", "b"]
    clusters = [0, 0, 1, 1, 1, 1]
    n = 6
    h_c = -2 * (0.5 * math.log(0.5))
    h_k = -(2 / n * math.log(2 / n) + 4 / n * math.log(4 / n))
    h_c_k = -(2 / n * math.log(2 / 2) + 1 / n * math.log(1 / 4) + 3 / n * math.log(3 / 4))
    h_k_c = -(2 / n * math.log(2 / 3) + 1 / n * math.log(1 / 3) + 3 / n * math.log(3 / 3))
    homogeneity, completeness = 1 - h_c_k / h_c, 1 - h_k_c / h_k
    assert v_measure(labels, clusters) == pytest.approx(2 * homogeneity * completeness / (homogeneity + completeness))
    assert v_measure(labels, [5, 5, 5, 7, 7, 7]) == pytest.approx(1.0)


def test_clustering_task_from_a_file(tmp_path: Path):
    path = tmp_path / "topics.clusters.tsv"
    rows = [("cat", "animal"), ("dog", "animal"), ("cow", "animal"), ("car", "vehicle"), ("bus", "vehicle"),
            ("van", "vehicle")]
    path.write_text("text\tlabel\n" + "".join(f"{t}\t{lab}\n" for t, lab in rows))
    task = load_task(str(path), "unused", "test")
    assert isinstance(task, ClusteringTask) and task.name == "topics" and task.sizes() == {"texts": 6, "clusters": 2}
    # cow sits with the vehicles: k-means finds {cat, dog} / {cow, car, bus, van}, the partition hand-scored above
    where = {"cat": [1, 0.1], "dog": [1, 0.0], "cow": [0.1, 1], "car": [0, 1], "bus": [0.05, 1], "van": [0.0, 0.9]}
    got = run_suite([task], lambda s: torch.tensor([where[x] for x in s]))["tasks"]["topics"]
    assert got["v_measure"] == pytest.approx(100 * v_measure([lab for _, lab in rows], [0, 0, 1, 1, 1, 1]))
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text('{"text": "a", "label": 1}\n{"text": "b"}\n')
    with pytest.raises(DataError, match=r"c\.jsonl:2: expected a JSON object with text and label"):
        load_task(f"clustering:{jsonl}", "unused", "test")


# --- the suite runner -------------------------------------------------------------------------------------------


class Model:
    """Anything with ``encode`` (SimCSE, sentence-transformers) returning numpy."""

    calls = 0

    def encode(self, sentences):
        Model.calls += 1
        return np.array([[len(s), s.count("a") + 1.0, 1.0] for s in sentences], dtype=np.float32)


def test_run_suite_layout_and_flat_keys_with_underscored_names():
    pairs = [("a", "bb"), ("aaa", "b"), ("ab", "ba"), ("bbb", "aab")]
    tasks = [STSTask("stsb_zh", pairs, np.array([1.0, 2.0, 3.0, 0.5])),
             STSTask("stsb", pairs[::-1], np.array([4.5, 1.0, 4.2, 2.0]), align_threshold=4.0)]
    results = run_suite(tasks, Model(), align_uniform=True)
    assert Model.calls == 1
    assert list(results["tasks"]) == ["stsb_zh", "stsb"] and results["tasks"]["stsb"]["pairs"] == 4
    assert "align" in results["tasks"]["stsb"] and "align" not in results["tasks"]["stsb_zh"]
    assert results["avg"]["spearman"] == pytest.approx(
        (results["tasks"]["stsb_zh"]["spearman"] + results["tasks"]["stsb"]["spearman"]) / 2)
    flat = flatten("test", results)
    assert set(flat) == {"test/stsb_zh_spearman", "test/stsb_zh_pearson", "test/stsb_spearman", "test/stsb_pearson",
                         "test/stsb_align", "test/stsb_uniform", "test/avg_spearman", "test/avg_pearson"}
    assert split_key("test/stsb_zh_spearman") == ("test", "stsb_zh", "spearman")
    back = unflatten(flat)
    assert back["stsb_zh"] == {"spearman": flat["test/stsb_zh_spearman"], "pearson": flat["test/stsb_zh_pearson"]}
    columns, rows = tabulate_test_metrics(flat)
    assert [r[0] for r in rows] == ["avg", "stsb", "stsb_zh"]
    assert "STS-B-zh" in format_table(results).splitlines()[0]
    # one STS task: no average logged (it would repeat the task)
    assert not any("avg" in k for k in flatten("val", run_suite(tasks[:1], Model())))


def test_run_suite_refuses_two_tasks_of_one_name():
    task = STSTask("x", [("a", "b"), ("c", "d")], np.array([1.0, 2.0]))
    with pytest.raises(DataError, match="task name"):
        run_suite([task, task], Model())
