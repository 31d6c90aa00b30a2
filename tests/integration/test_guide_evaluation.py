"""Every runnable block of docs/guides/evaluation.md, in page order, as written there, in a scratch folder with tiny
files at the paths they name: train.py commands get the tiny model and a few steps appended (as in
test_quick_tour.py), ``make data`` runs the checkout's Makefile without its venv setup, the quickstart run's
``outputs/quickstart/<date>_<time>`` is the tiny run, MODEL its export and DIR a folder of Chinese STS files in
text2vec's layout. The numbers simcse-eval prints for a pair file and a Chinese set are the ones the run's own test
wrote to results.json."""

from __future__ import annotations

import json
import os
import random
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from doc_blocks import commands, runnable
from guide_commands import write_guide_data
from sts_fixtures import sentence

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
VENV = BIN.parent
PNG = b"\x89PNG\r\n\x1a\n"
CHINESE = ["atec", "bq", "lcqmc", "pawsx", "stsb_zh", "sohu_dd", "sohu_dc"]
PAGE = runnable("docs/guides/evaluation.md")
RUN, SWEEP = "outputs/quickstart/<date>_<time>", "multirun/quickstart/<date>_<time>"
# the tiny run's own validation and test include the guide's kinds of task (the "same names and paths" claim)
VAL_TASKS = "data.val_tasks=[stsb,my/dev.tsv,beir/scifact,topics.clusters.tsv]"
TEST_TASKS = "data.test_tasks=[stsb,my/dev.tsv,atec]"


def section(heading: str) -> list[str]:
    """The commands of the page's runnable shell blocks under ``heading``, comments cut."""
    found = [c for block in PAGE if block.heading == heading and block.lang == "bash" for c in commands(block)]
    assert found, f"no runnable block under '{heading}' in docs/guides/evaluation.md"
    return found


def write_data(work: Path) -> Path:
    """A data root with the quickstart's files (the 7 SentEval tasks, a wiki sample, SNLI dev), and the guide's
    task files in the scratch folder: my/dev.tsv, beir/scifact/, topics.tsv (+ topics.clusters.tsv), and raw
    Chinese files in text2vec's layout under raw/."""
    data = work / "data"
    write_guide_data(data)
    rng = random.Random(0)
    (work / "my").mkdir()
    rows = [(sentence(rng), sentence(rng), rng.uniform(0, 5)) for _ in range(30)]
    (work / "my" / "dev.tsv").write_text(
        "sentence1\tsentence2\tscore\n" + "".join(f"{a}\t{b}\t{s:.2f}\n" for a, b, s in rows), encoding="utf-8")
    beir = work / "beir" / "scifact"
    (beir / "qrels").mkdir(parents=True)
    docs = {f"d{i}": sentence(rng) for i in range(40)}
    queries = {f"q{i}": sentence(rng) for i in range(8)}
    (beir / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": d, "title": "", "text": t}) + "\n" for d, t in docs.items()), encoding="utf-8")
    (beir / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in queries.items()), encoding="utf-8")
    qrels = "query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\td{3 * i}\t1\nq{i}\td{3 * i + 1}\t2\n" for i in range(8))
    for split in ("test", "dev"):
        (beir / "qrels" / f"{split}.tsv").write_text(qrels, encoding="utf-8")
    topics = "".join(f"{w} {sentence(rng)}\t{w}\n" for w in ("dog", "cat", "guitar") for _ in range(6))
    (work / "topics.tsv").write_text(topics, encoding="utf-8")
    (work / "topics.clusters.tsv").write_text(topics, encoding="utf-8")
    labels = [1, 0, 1, 0, 0, 1, 1, 0]
    pairs = [("花呗怎么还款", "花呗如何还钱"), ("今天天气很好", "我想买一本书"), ("借呗可以提前还吗", "借呗能提前还款吗"),
             ("这个手机多少钱", "北京的天气怎么样"), ("我喜欢看电影", "他在公园里跑步"), ("怎么开通花呗", "花呗如何开通"),
             ("银行卡丢了怎么办", "银行卡丢失怎么处理"), ("猫在睡觉", "狗在跑")]
    for name in ("ATEC", "BQ", "LCQMC", "PAWSX", "STS-B"):
        for split in ("train", "valid", "test"):
            path = work / "raw" / "senteval_cn" / name / f"{name}.{split}.data"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(f"{a}\t{b}\t{s}\n" for (a, b), s in zip(pairs, labels)), encoding="utf-8")
    (work / "raw" / "SOHU").mkdir()
    for name in ("dd-test.jsonl", "dc-test.jsonl"):
        (work / "raw" / "SOHU" / name).write_text("".join(
            json.dumps({"sentence1": a, "sentence2": b, "label": 5 * s}, ensure_ascii=False) + "\n"
            for (a, b), s in zip(pairs, labels)), encoding="utf-8")
    for task, path, columns in (("STSBenchmark", data / "stsb" / "sts-test.csv", (5, 6, 4)),
                                ("SICK-R", data / "sick" / "SICK_test_annotated.txt", (1, 2, 3))):
        folder = work / "mteb_data" / task
        folder.mkdir(parents=True)
        records = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]
        records = records[1:] if task == "SICK-R" else records  # SICK's header row
        (folder / "test.jsonl").write_text("".join(json.dumps(
            {"sentence1": r[columns[0]], "sentence2": r[columns[1]], "score": float(r[columns[2]])}) + "\n"
            for r in records), encoding="utf-8")
    return data


def as_test(command: str, work: Path, substitutions: dict[str, str]) -> list[str]:
    """The argv that runs ``command`` here: placeholders filled in, console scripts from this venv, train.py with the
    tiny model and a few steps, ``make`` on the checkout's Makefile with this venv (its setup step skipped); a
    command with a redirection goes through bash."""
    for placeholder, value in substitutions.items():
        command = command.replace(placeholder, value)
    if ">" in command:
        return ["bash", "-c", command]
    argv = shlex.split(command)
    if argv[0] == "python":
        argv[0] = sys.executable
    elif argv[0] == "make":
        argv[1:1] = ["-f", str(REPO / "Makefile"), f"VENV={VENV}", "-o", f"{VENV}/.installed"]
    elif (BIN / argv[0]).exists():
        argv[0] = str(BIN / argv[0])
    if "train.py" in argv:
        argv += ["model=tiny", "model.pooler=avg", "trainer.max_steps=4", "trainer.val_check_interval=2",
                 "trainer.log_every_n_steps=1", f"paths.data_dir={work / 'data'}", "data.num_workers=0",
                 "data.batch_size=16"]
        if "-m" not in argv:
            argv += [VAL_TASKS, TEST_TASKS]
    return argv


def run(argv: list[str], work: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{shlex.join(argv)}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def only(pattern: str, root: Path) -> Path:
    found = sorted(root.glob(pattern))
    assert len(found) == 1, (pattern, found)
    return found[0]


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, subprocess.CompletedProcess]]:
    """Every runnable block of the page, in order, in a scratch folder holding train.py, conf/ and scripts/; the
    outputs by command (the Python block's under "python"). Once the quickstart run (the page's first block) exists,
    its folder stands for RUN and its export for MODEL; the sweep's folder for SWEEP once it exists. The page's
    ``make data`` commands go first, the copy from DIR before the hub (offline, the hub command has nothing left to
    fetch once --from has copied the files; the hub path itself: tests/unit/data/test_download_chinese.py)."""
    work = tmp_path_factory.mktemp("guide_eval")
    for name in ("train.py", "conf", "scripts"):
        (work / name).symlink_to(REPO / name)
    data = write_data(work)
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR" and not k.startswith("HF_")}
    env.update(SIMCSE_DATA_DIR=str(data), WANDB_MODE="disabled", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", HF_HOME=str(work / "hf_home"), MTEB_CACHE=str(work / "mteb_cache"),
               PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    done: dict[str, subprocess.CompletedProcess] = {}
    subs = {"DIR": str(work / "raw")}

    def placeholders() -> None:
        for placeholder, pattern in ((RUN, "outputs/quickstart/*"), (SWEEP, "multirun/quickstart/*")):
            if placeholder not in subs and list(work.glob(pattern)):
                subs[placeholder] = str(only(pattern, work).relative_to(work))
        if RUN in subs:
            subs["MODEL"] = f"{subs[RUN]}/model"

    shell = [c for block in PAGE if block.lang == "bash" for c in commands(block)]
    for command in sorted((c for c in shell if c.startswith("make ")), key=lambda c: "--from" not in c):
        done[command] = run(as_test(command, work, subs), work, env)  # the data first: the run tests on atec
    for block in PAGE:
        if block.lang == "python":
            placeholders()
            done["python"] = run([sys.executable, "-c", block.code.replace(RUN, subs[RUN])], work, env)
            continue
        for command in commands(block):
            if command.startswith("make ") or ("--mteb" in command and not _has_mteb()):
                continue
            placeholders()
            done[command] = run(as_test(command, work, subs), work, env)
    return work, done


def _has_mteb() -> bool:
    try:
        import mteb  # noqa: F401
    except ImportError:
        return False
    return True


def printed_row(stdout: str, metric: str = "spearman") -> dict[str, str]:
    """simcse-eval's table as {column title: value} for one metric row."""
    lines = [line for line in stdout.splitlines() if line.startswith("| ")]
    titles = [c.strip() for c in lines[0].strip("|").split("|")][1:]
    row = next(line for line in lines if line.startswith(f"| {metric}"))
    return dict(zip(titles, [c.strip() for c in row.strip("|").split("|")][1:], strict=True))


def find(done: dict[str, subprocess.CompletedProcess], start: str) -> subprocess.CompletedProcess:
    return next(result for command, result in done.items() if command.startswith(start))


def test_the_blocks_show_the_documented_commands():
    assert section("Your own tasks: pair files, the Chinese suite, retrieval, clustering") == [
        "simcse-eval MODEL --tasks my/dev.tsv stsb", "make data DATA_ARGS=--chinese",
        'make data DATA_ARGS="--chinese --from DIR"', f"simcse-eval MODEL --tasks {' '.join(CHINESE)}",
        "simcse-eval MODEL --tasks beir/scifact --output scifact.json", "simcse-eval MODEL --tasks clustering:topics.tsv",
    ]
    assert section("MTEB") == ["simcse-eval MODEL --mteb STSBenchmark,SICK-R --mteb-data mteb_data --output mteb.json"]
    assert section("Did I reproduce it?") == [
        f"simcse-report {RUN}", "python train.py -m experiment=quickstart seed=1,2,3", f"simcse-report {SWEEP}",
    ]
    assert commands(PAGE[0]) == ["python train.py experiment=quickstart"]  # the run the other blocks evaluate


@pytest.mark.slow  # the page's blocks run in a few minutes; each kind is also tested in the default suite
def test_the_paper_table_the_export_and_the_python_api(tour):
    work, done = tour
    table = printed_row(find(done, f"simcse-eval {RUN}/model").stdout)
    assert list(table) == ["STS12", "STS13", "STS14", "STS15", "STS16", "STS-B", "SICK-R", "Avg."]
    minilm = json.loads((work / "results.json").read_text())
    # the hub id, read offline from the installed mirror (random gold scores here: any correlation)
    assert -100 <= minilm["tasks"]["stsb"]["spearman"] <= 100 and list(minilm["tasks"]) == ["stsb"]
    assert "align" in find(done, f"simcse-eval {RUN}/checkpoints/last.ckpt").stdout
    lines = done["python"].stdout.splitlines()
    assert -1.0 <= float(lines[0]) <= 1.0 and lines[1].startswith("[Hit(")
    assert np.load(work / "vectors.npy").shape[0] == 2


@pytest.mark.slow  # the page's blocks run in a few minutes; each kind is also tested in the default suite
def test_chinese_data_commands(tour):
    work, done = tour
    assert (work / "data" / "chinese" / "ATEC" / "ATEC.test.data").exists()
    assert (work / "data" / "chinese" / "SOHU" / "dc-test.jsonl").exists()
    assert "nothing more to download" in done["make data DATA_ARGS=--chinese"].stdout
    assert (work / ".data-root").read_text().strip() == str(work / "data")  # make data remembers the root


@pytest.mark.slow  # the page's blocks run in a few minutes; each kind is also tested in the default suite
def test_pair_file_and_chinese_suite_print_the_runs_own_test_numbers(tour):
    work, done = tour
    test = json.loads((only("outputs/quickstart/*", work) / "results.json").read_text())["test"]
    pairs = printed_row(done["simcse-eval MODEL --tasks my/dev.tsv stsb"].stdout)
    assert list(pairs) == ["my-dev", "STS-B", "Avg."]
    assert pairs["my-dev"] == f"{test['test/my-dev_spearman']:.2f}" and pairs["STS-B"] == f"{test['test/stsb_spearman']:.2f}"
    chinese = printed_row(find(done, "simcse-eval MODEL --tasks atec").stdout)
    assert list(chinese) == ["ATEC", "BQ", "LCQMC", "PAWSX", "STS-B-zh", "SOHU-dd", "SOHU-dc", "Avg."]
    assert chinese["ATEC"] == f"{test['test/atec_spearman']:.2f}"
    # the same 8 pairs and labels in every set (SOHU's labels ×5): the same score
    assert len(set(list(chinese.values())[:-1])) == 1


@pytest.mark.slow  # the page's blocks run in a few minutes; each kind is also tested in the default suite
def test_retrieval_and_clustering(tour):
    work, done = tour
    record = json.loads((work / "scifact.json").read_text())["tasks"]["scifact"]
    assert record["kind"] == "retrieval" and record["queries"] == 8 and record["documents"] == 40
    assert all(0 <= record[m] <= 100 for m in ("ndcg_at_10", "mrr_at_10", "recall_at_100"))
    assert record["recall_at_100"] == 100  # 40 documents: every relevant one is in the top 100
    assert f"scifact (retrieval): ndcg_at_10 {record['ndcg_at_10']:.2f}" in find(done, "simcse-eval MODEL --tasks beir").stdout
    assert re.search(r"^topics \(clustering\): v_measure \d+\.\d\d$", find(done, "simcse-eval MODEL --tasks clustering").stdout,
                     re.M)
    # the same kinds of task in the run's own validation
    final = json.loads((only("outputs/quickstart/*", work) / "results.json").read_text())["final"]
    assert {"val/my-dev_spearman", "val/scifact_ndcg_at_10", "val/scifact_mrr_at_10", "val/topics_v_measure"} <= set(final)


@pytest.mark.slow  # the page's blocks run in a few minutes; each kind is also tested in the default suite
def test_mteb_offline_from_local_folders(tour):
    pytest.importorskip("mteb")
    work, done = tour
    record = json.loads((work / "mteb.json").read_text())["mteb"]
    assert list(record) == ["STSBenchmark", "SICK-R"] and all(r["type"] == "STS" for r in record.values())
    test = json.loads((only("outputs/quickstart/*", work) / "results.json").read_text())["test"]
    # mteb's cosine Spearman on the same pairs is the project's own STS-B test Spearman
    assert record["STSBenchmark"]["main_score"] == pytest.approx(test["test/stsb_spearman"], abs=1e-3)
    assert not [p for p in (work / "mteb_cache").rglob("*") if p.is_file()]  # no results cached: the JSON is the record


@pytest.mark.slow  # the page's blocks run in a few minutes; each kind is also tested in the default suite
def test_reports_of_a_run_and_of_a_three_seed_sweep(tour):
    work, done = tour
    run_dir = only("outputs/quickstart/*", work)
    report = (run_dir / "report.md").read_text()
    for figure in ("curves.png", "align_uniform.png"):
        assert (run_dir / figure).read_bytes()[:8] == PNG and f"]({figure})" in report
    test = json.loads((run_dir / "results.json").read_text())["test"]
    row = next(line for line in report.splitlines() if line.startswith(f"| {run_dir.name} | "))
    assert f"| {test['test/stsb_spearman']:.2f} |" in row
    sweep = only("multirun/quickstart/*", work)
    report = (sweep / "report.md").read_text()
    assert "3 of 3 runs finished; preset: quickstart." in report
    # each job labelled by its swept override: the seed is a column (issue 24 item 3)
    assert "| run | seed | STS12 |" in report
    assert sum(line.startswith(f"| {job} | {job + 1} | ") for job in range(3) for line in report.splitlines()) == 6  # test, dev
    assert "| **mean ± sd over 3 seeds** |" in report and (sweep / "curves.png").read_bytes()[:8] == PNG
