"""simcse-report on a 3-seed `model=tiny` sweep: report.md and its figures, the table's numbers checked against the
runs' results.json; the paper's row for a paper preset; runs labelled by their swept overrides (issue 24 item 3)."""

from __future__ import annotations

import csv
import json
import random
import re
import statistics
from pathlib import Path

import pytest
import yaml
from sts_fixtures import WORDS, write_senteval_root
from train_runs import run_train

from simcse_pl.cli.report import PAPER, SEVEN, main

REPO = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report_data")
    write_senteval_root(root, pairs_per_file=10)
    rng = random.Random(0)
    (root / "wiki").mkdir()
    (root / "wiki" / "wiki.txt").write_text(
        "\n".join(" ".join(rng.choices(WORDS, k=rng.randint(4, 12))) for _ in range(96)) + "\n", encoding="utf-8")
    pairs = [(" ".join(rng.choices(WORDS, k=6)), " ".join(rng.choices(WORDS, k=6)), rng.uniform(0, 1)) for _ in range(30)]
    (root / "mine").mkdir()
    (root / "mine" / "my_dev.tsv").write_text("sentence1\tsentence2\tscore\n" + "".join(
        f"{a}\t{b}\t{s:.3f}\n" for a, b, s in pairs), encoding="utf-8")
    out = tmp_path_factory.mktemp("sweep")
    run_train(
        out, "model.pooler=avg", "trainer.max_steps=4", "trainer.val_check_interval=2", "trainer.log_every_n_steps=1",
        "export=false", f"data.val_tasks=[stsb,sickr,{root}/mine/my_dev.tsv]", f"data.test_tasks=[{','.join(SEVEN)}]",
        "seed=1,2,3", data_dir=root, multirun=True, full_error=False, timeout=900,
    )
    return out


def table_rows(report: str, swept: int = 1) -> dict[str, list[str]]:
    """The test table's rows by their first cell: the ``swept`` key columns, then the 7 tasks and the average."""
    rows = {}
    for line in report.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 9 + swept and cells[0] != "run" and cells[-1] != "status":
            rows[cells[0]] = cells[1:]
    return rows


@pytest.mark.slow  # a 3-job sweep (~15 s)
def test_report_on_a_three_seed_sweep(sweep_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    assert main([str(sweep_dir), "--out", str(tmp_path)]) == 0
    report = (tmp_path / "report.md").read_text()
    for figure in ("curves.png", "align_uniform.png"):
        assert (tmp_path / figure).read_bytes()[:8] == PNG and f"]({figure})" in report
    assert not (tmp_path / "sweep.png").exists()  # only the seed varies: no hyperparameter to plot against
    rows = table_rows(report)
    results = {}
    for job in sorted(p for p in sweep_dir.iterdir() if (p / "results.json").exists()):
        seed = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
        results[job.name] = (json.loads((job / "results.json").read_text())["test"], seed)
    assert len(results) == 3
    assert "| run | seed | STS12 |" in report  # the swept key is a column
    for job, (test, overrides) in results.items():
        seed = next(o.split("=")[1] for o in overrides if o.startswith("seed="))
        cells = rows[job]
        expected = [test[f"test/{t}_spearman"] for t in SEVEN]
        assert cells == [seed, *(f"{v:.2f}" for v in [*expected, statistics.fmean(expected)])]
    mean_row = rows["**mean ± sd over 3 seeds**"]
    assert mean_row[0] == "–"
    for i, task in enumerate(SEVEN):
        values = [test[f"test/{task}_spearman"] for test, _ in results.values()]
        assert mean_row[1 + i] == f"{statistics.fmean(values):.2f} ± {statistics.stdev(values):.2f}"
    # dev table, best first: each run's untrained / best / final objective as results.json has them
    records = {job: json.loads((sweep_dir / job / "results.json").read_text()) for job in results}
    dev = [line for line in report.splitlines() if line.startswith(tuple(f"| {job} | " for job in results))
           and line.endswith(" | ok |")]
    best = [records[line.split(" | ")[0].removeprefix("| ")]["best"]["val/stsb_spearman"] for line in dev]
    assert len(dev) == 3 and best == sorted(best, reverse=True)
    for job, record in records.items():
        line = next(line for line in dev if line.startswith(f"| {job} | "))
        assert f"{record['best']['val/stsb_spearman']:.2f} ({record['best']['step']})" in line
    with (tmp_path / "runs.csv").open() as f:  # the same, and the test scores, for a spreadsheet
        rows_csv = list(csv.DictReader(f))
    assert [float(r["best"]) for r in rows_csv] == best
    assert {r["seed"] for r in rows_csv} == {"1", "2", "3"} and all(r["status"] == "ok" for r in rows_csv)
    assert "No paper numbers" in report
    # a pair file given by path is validated like any task, under its own name
    final = json.loads((sweep_dir / "0" / "results.json").read_text())["final"]
    assert {"val/my_dev_spearman", "val/stsb_align", "val/avg_spearman"} <= set(final)
    assert final["val/avg_spearman"] == pytest.approx(
        statistics.fmean(final[f"val/{t}_spearman"] for t in ("stsb", "sickr", "my_dev")), abs=1e-4)


def write_fake_run(folder: Path, preset: str, seed: int, test: dict[str, float]) -> None:
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"experiment={preset}", f"seed={seed}"]))
    (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"task_name": preset, "seed": seed}))
    record = {"metric": "val/stsb_spearman", "before": {"val/stsb_spearman": 60.0},
              "best": {"step": 125, "val/stsb_spearman": 80.0}, "test": {f"test/{k}_spearman": v for k, v in test.items()}}
    (folder / "results.json").write_text(json.dumps(record))


def test_paper_row_for_a_paper_preset_and_a_hyperparameter_sweep_figure(tmp_path: Path):
    for seed in (1, 2):
        write_fake_run(tmp_path / "sweep" / str(seed), "unsup_bert_base", seed, {t: 70.0 + seed for t in SEVEN})
    assert main([str(tmp_path / "sweep")]) == 0
    report = (tmp_path / "sweep" / "report.md").read_text()
    paper = table_rows(report)["paper (unsup_bert_base)"]
    assert paper == ["–", *(f"{v:.2f}" for v in PAPER["unsup_bert_base"]), "76.25"]
    assert table_rows(report)["**mean ± sd over 2 seeds**"][1] == "71.50 ± 0.71"


def test_paper_numbers_average_to_the_presets_quoted_averages():
    for preset, values in PAPER.items():
        text = (REPO / "conf" / "experiment" / f"{preset}.yaml").read_text()
        quoted = float(re.search(r"avg STS (\d+\.\d+)", text).group(1))
        assert round(statistics.fmean(values), 2) == pytest.approx(quoted, abs=0.005), preset


def test_no_runs_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture):
    assert main([str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("simcse-report: error: no run folders")


def test_symlink_loops_and_a_killed_run_folder(tmp_path: Path, capsys: pytest.CaptureFixture):
    """Issue 23 item 8: links back up the tree neither hang the search nor list a run twice; a run killed before
    results.json is one row saying so."""
    (tmp_path / "sweep" / "0" / ".hydra").mkdir(parents=True)  # killed before results.json
    (tmp_path / "sweep" / "0" / "up").symlink_to("..", target_is_directory=True)
    (tmp_path / "sweep" / "self").symlink_to(".", target_is_directory=True)
    assert main([str(tmp_path / "sweep")]) == 0
    report = (tmp_path / "sweep" / "report.md").read_text()
    assert "0 of 1 runs finished" in report and report.count("failed or running (no results.json)") == 1


def test_summary_figure_is_a_heatmap_for_a_two_parameter_grid(tmp_path: Path):
    from simcse_pl.cli.plots import is_grid, objective_figure

    rows = [{"params": {"lr": lr, "tau": tau}, "objective": 70 + lr * 1e5 + tau * 10}
            for lr in (1e-5, 3e-5) for tau in (0.03, 0.05)]
    assert is_grid(rows, ["lr", "tau"]) and not is_grid(rows[:2], ["lr", "tau"])
    objective_figure(rows, ["lr", "tau"], "val/stsb_spearman", tmp_path / "grid.png", baseline=60.0)
    assert (tmp_path / "grid.png").read_bytes()[:8] == PNG


GOOD = json.dumps({"metric": "val/stsb_spearman", "best": {"step": 2, "val/stsb_spearman": 80.0},
                   "test": {"test/stsb_spearman": 75.0}})
DAMAGED = {
    "not_json": ("this is not json", "not valid JSON"),
    "truncated": (GOOD[: len(GOOD) // 2], "not valid JSON"),
    "a_list": ("[1, 2]", "a JSON list, not the object of results"),
    "section_not_an_object": ('{"test": [75.0]}', '"test" is a JSON list, not an object of scores'),
    "score_not_a_number": ('{"best": {"step": 2, "val/stsb_spearman": "high"}}', '"best"."val/stsb_spearman" is \'high\''),
    "metric_not_a_name": ('{"metric": 3}', '"metric" is 3, not a metric name'),
}


def write_run(folder: Path, results: str) -> None:
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"seed={folder.name}"]))
    (folder / "results.json").write_text(results)


@pytest.mark.parametrize("kind", DAMAGED)
def test_a_damaged_results_json_is_one_line_and_the_report_goes_on(kind: str, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture):
    content, why = DAMAGED[kind]
    write_run(tmp_path / "sweep" / "1", GOOD)
    write_run(tmp_path / "sweep" / "2", content)
    assert main([str(tmp_path / "sweep"), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"simcse-report: warning: {tmp_path / 'sweep' / '2' / 'results.json'}: ")
    assert why in err[0] and err[0].endswith("; that run is left out")
    report = (tmp_path / "out" / "report.md").read_text()
    assert "1 of 2 runs finished" in report
    assert table_rows(report)["1"][6] == "75.00"  # the good run's STS-B test score
    assert "| 2 | 2 | – | – | – | – | left out: unreadable results.json |" in report


def test_only_damaged_results_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture):
    write_run(tmp_path / "sweep" / "1", "{")
    write_run(tmp_path / "sweep" / "2", "[]")
    assert main([str(tmp_path / "sweep")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"simcse-report: error: no usable run: {tmp_path / 'sweep' / '1' / 'results.json'}: not valid JSON")
    assert err[0].endswith("(and the 1 other run(s)' too)")
    assert not (tmp_path / "sweep" / "report.md").exists()


def write_tau_job(folder: Path, tau: float, best: float, failed: str | None = None) -> None:
    """A sweep job over loss.tau with a short CSV log (two validations, no loss logged); ``failed``: no results,
    its error in train.log as a sweep writes it."""
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"loss.tau={tau}", "trainer.max_steps=4"]))
    (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"trainer": {"log_every_n_steps": 10}}))
    if failed:
        (folder / "train.log").write_text(f"[2026-01-01 00:00:00,000][simcse_pl.cli.reporting][ERROR] - error: {failed}\n")
        return
    (folder / "csv").mkdir()
    (folder / "csv" / "metrics.csv").write_text(
        "step,val/stsb_spearman,val/stsb_align,val/stsb_uniform,train/loss\n"
        f"0,60.0,0.2,-2.0,\n4,{best},0.3,-2.5,\n")
    (folder / "results.json").write_text(json.dumps({
        "metric": "val/stsb_spearman", "before": {"val/stsb_spearman": 60.0},
        "best": {"step": 4, "val/stsb_spearman": best}, "final": {"step": 4, "val/stsb_spearman": best},
        "train": {"train/sentences_per_sec": 123.4}}))


def test_a_sweeps_runs_are_labelled_by_their_swept_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Issue 24 item 3: not `0`/`1` but `loss.tau=0.03`, a column per swept key, best first, failures explained."""
    from simcse_pl.cli import plots
    from simcse_pl.cli.report import find_runs
    from simcse_pl.cli.sweep_summary import best_line

    sweep = tmp_path / "sweep"
    for job, (tau, best) in enumerate([(0.03, 70.0), (0.05, 75.5), (0.1, 72.0)]):
        write_tau_job(sweep / str(job), tau, best)
    write_tau_job(sweep / "3", 0.2, 0, failed="data.source.path: no such file")
    drawn: dict[str, list] = {}
    for name in ("curves_figure", "align_uniform_figure"):
        monkeypatch.setattr(plots, name, lambda runs, *args, _name=name, **kw: drawn.setdefault(_name, runs))
    assert main([str(sweep)]) == 0
    report = (sweep / "report.md").read_text()
    assert "| run | loss.tau | untrained | best (step) | final | sentences/s | status |" in report
    dev = [line for line in report.splitlines() if line.startswith(("| 0 |", "| 1 |", "| 2 |", "| 3 |"))]
    assert dev == ["| 1 | 0.05 | 60.00 | 75.50 (4) | 75.50 | 123 | ok |", "| 2 | 0.1 | 60.00 | 72.00 (4) | 72.00 | 123 | ok |",
                   "| 0 | 0.03 | 60.00 | 70.00 (4) | 70.00 | 123 | ok |",
                   "| 3 | 0.2 | – | – | – | – | failed: data.source.path: no such file |"]
    labels = ["loss.tau=0.03", "loss.tau=0.05", "loss.tau=0.1"]
    assert [r["label"] for r in drawn["curves_figure"]] == labels
    assert [r["label"] for r in drawn["align_uniform_figure"]] == labels
    assert {(r["log_every"], r["steps"]) for r in drawn["curves_figure"]} == {(10, 4)}  # for the empty loss panel's note
    with (sweep / "runs.csv").open() as f:
        assert [(r["run"], r["loss.tau"]) for r in csv.DictReader(f)] == [("1", "0.05"), ("2", "0.1"), ("0", "0.03"), ("3", "0.2")]
    assert best_line(find_runs([sweep])) == f"best: job 1 (loss.tau=0.05) STS-B dev Spearman 75.50 ({sweep / '1'})"
