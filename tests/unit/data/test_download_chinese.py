"""scripts/download_data.py --chinese: the Chinese STS suite into the data root from local files (text2vec's .data,
C-MTEB's parquet folders, SOHU's jsonl) or from the hub (a stand-in serving local files), read back by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts_module import load_script
from simcse_pl.data import downloads as data_files
from simcse_pl import hub as hub_module
from simcse_pl.data.downloads import DATA_FILES, QUICKSTART
from simcse_pl.evaluation import CHINESE_TASKS, load_task

download_data = load_script("download_data")

ROWS = [("花呗怎么还款", "花呗如何还钱", 1), ("今天天气很好", "我想买一本书", 0)]


def quickstart_present(data: Path) -> None:
    """The default files, so only --chinese has work to do."""
    for entry in DATA_FILES:
        if entry.group == QUICKSTART:
            (data / entry.path).parent.mkdir(parents=True, exist_ok=True)
            (data / entry.path).write_text("x\n")


def write_parquet(folder: Path, splits: tuple[str, ...] = ("train", "validation", "test")) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    for split in splits:
        table = pa.table({"sentence1": [a for a, _, _ in ROWS], "sentence2": [b for _, b, _ in ROWS],
                          "score": pa.array([s for *_, s in ROWS], pa.int32())})
        pq.write_table(table, folder / f"{split}-00000-of-00001-0123abcd.parquet")


def raw_dir(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    for t2v in ("ATEC", "BQ", "LCQMC", "PAWSX"):  # text2vec's senteval_cn layout
        for split in ("train", "valid", "test"):
            path = raw / "senteval_cn" / t2v / f"{t2v}.{split}.data"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(f"{a}\t{b}\t{s}\n" for a, b, s in ROWS), encoding="utf-8")
    write_parquet(raw / "C-MTEB" / "STSB" / "data")  # STS-B from C-MTEB
    for name in ("dd-test.jsonl", "dc-test.jsonl"):
        path = raw / "examples" / "data" / "SOHU" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps({"sentence1": a, "sentence2": b, "label": s * 5}) + "\n" for a, b, s in ROWS))
    return raw


def test_chinese_from_local_files_then_every_name_loads(tmp_path: Path):
    data = tmp_path / "data"
    quickstart_present(data)
    assert download_data.main(["--data-dir", str(data), "--chinese", "--from", str(raw_dir(tmp_path))]) == 0
    assert (data / "chinese" / "ATEC" / "ATEC.valid.data").exists()
    assert list((data / "chinese" / "C-MTEB" / "STSB" / "data").glob("test-*.parquet"))
    for name in CHINESE_TASKS:
        task = load_task(name, str(data), "test")
        assert len(task.pairs) == 2, name
    # a second run has nothing to do
    assert download_data.main(["--data-dir", str(data), "--chinese", "--from", str(raw_dir(tmp_path))]) == 0


def test_chinese_from_dir_lacking_a_set_names_it(tmp_path: Path, capsys: pytest.CaptureFixture):
    data = tmp_path / "data"
    quickstart_present(data)
    raw = raw_dir(tmp_path)
    for path in (raw / "senteval_cn" / "BQ").iterdir():
        path.unlink()
    assert download_data.main(["--data-dir", str(data), "--chinese", "--from", str(raw)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: --from {raw}: not found there: BQ (")


def test_chinese_from_the_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    calls = []

    def snapshot_download(repo_id, repo_type, allow_patterns, local_dir, cache_dir):
        calls.append(repo_id)
        assert repo_type == "dataset" and allow_patterns == ["data/*.parquet"]
        write_parquet(Path(local_dir) / "data")
        (Path(local_dir) / ".cache").mkdir()
        return local_dir

    monkeypatch.setattr(hub_module, "hub_unreachable", lambda timeout=5.0: None)
    monkeypatch.setattr("huggingface_hub.snapshot_download", snapshot_download)
    data = tmp_path / "data"
    quickstart_present(data)
    assert download_data.main(["--data-dir", str(data), "--chinese"]) == 0
    assert calls == [f"C-MTEB/{name}" for name in data_files.CMTEB_SETS]
    assert not list(data.rglob("*.part")) and not (data / "chinese" / "C-MTEB" / "ATEC" / ".cache").exists()
    for name in ("atec", "bq", "lcqmc", "pawsx", "stsb_zh"):
        assert load_task(name, str(data), "dev").scores.tolist() == [1.0, 0.0]
    assert "SOHU-dd / SOHU-dc" in capsys.readouterr().out


def test_chinese_offline_is_one_line_pointing_at_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture):
    monkeypatch.setattr(hub_module, "hub_unreachable", lambda timeout=5.0: "HF_HUB_OFFLINE=1 is set")
    data = tmp_path / "data"
    quickstart_present(data)
    assert download_data.main(["--data-dir", str(data), "--chinese"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot fetch C-MTEB/ATEC, C-MTEB/BQ" in err
    assert f"--data-dir {data} --chinese --from DIR" in err


def test_missing_chinese_set_error_names_the_command(tmp_path: Path):
    from simcse_pl.errors import DataError

    with pytest.raises(DataError, match=r"make data DATA_ARGS=--chinese"):
        load_task("atec", str(tmp_path), "test")
