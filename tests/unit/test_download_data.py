"""scripts/download_data.py on local raw files (--from): the layout and the samples it cuts."""

import importlib.util
import io
import tarfile
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "download_data.py"
spec = importlib.util.spec_from_file_location("download_data", SCRIPT)
download_data = importlib.util.module_from_spec(spec)
spec.loader.exec_module(download_data)


def add(tar: tarfile.TarFile, name: str, text: str) -> None:
    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def raw_files(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir()
    with tarfile.open(raw / "senteval.tar", "w") as tar:
        for split in ("train", "dev", "test"):
            add(tar, f"downstream/STS/STSBenchmark/sts-{split}.csv", f"g\tf\ty\t0\t1.0\ta {split}\tb\n")
        add(tar, "downstream/STS/STS12-en-test/STS.input.MSRpar.txt", "a\tb\n")
        add(tar, "downstream/STS/STS12-en-test/STS.gs.MSRpar.txt", "3.2\n")
        for year in (13, 14, 15, 16):
            add(tar, f"downstream/STS/STS{year}-en-test/STS.input.x.txt", "a\tb\n")
        add(tar, "downstream/SICK/SICK_test_annotated.txt", "pair_ID\tsentence_A\n")
        add(tar, "downstream/MR/rt-polarity.pos", "ignored\n")
    (raw / "wiki1m_for_simcse.txt").write_text("".join(f"sentence {i}\n" for i in range(12_000)))
    (raw / "nli_for_simcse.csv").write_text("sent0,sent1,hard_neg\r\n" + "a,b,c\r\n" * 100)
    return raw


def test_full_download_from_local_files_builds_the_layout(tmp_path):
    data = tmp_path / "data"
    assert download_data.main(["--data-dir", str(data), "--full", "--from", str(raw_files(tmp_path))]) == 0
    assert (data / "stsb" / "sts-dev.csv").read_text() == "g\tf\ty\t0\t1.0\ta dev\tb\n"
    assert (data / "STS12-en-test" / "STS.gs.MSRpar.txt").read_text() == "3.2\n"
    assert (data / "sick" / "SICK_test_annotated.txt").exists()
    assert not list(data.rglob("rt-polarity.pos"))
    sample = (data / "wiki" / "wiki1m_head11914.txt").read_text().splitlines()
    assert len(sample) == 11_914 and sample[-1] == "sentence 11913"
    assert (data / "nli" / "nli_for_simcse_head72.csv").read_bytes().count(b"\r\n") == 73


def test_nothing_is_fetched_when_data_is_present(tmp_path, capsys):
    data = tmp_path / "data"
    download_data.main(["--data-dir", str(data), "--from", str(raw_files(tmp_path))])
    capsys.readouterr()
    assert download_data.main(["--data-dir", str(data), "--from", str(tmp_path / "does-not-exist")]) == 0
    assert "nothing to download" in capsys.readouterr().out
