"""scripts/download_data.py and simcse_pl/data_files.py: the layout built from local raw files (--from) in every
form, the SNLI dev triplets builder, the one-line offline error, and the "no such file" hints naming the command."""

import csv
import io
import json
import re
import os
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from scripts_module import load_script
from simcse_pl.data import downloads as data_files
from simcse_pl import hub as hub_module
from simcse_pl.data.downloads import DATA_FILES, FULL, QUICKSTART, ORIGINS
from simcse_pl.evaluation import load_task
from simcse_pl.errors import DataError
from simcse_pl.data.files import check_file

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "scripts" / "download_data.py"
download_data = load_script("download_data")
SHARED = REPO.parent / "shared" / "data"

# SNLI dev rows as the official files hold them (raw text, gold label; "-": no gold label)
SNLI_ROWS = [
    ("Two women are embracing while holding to go packages.",
     "The sisters are hugging goodbye while holding to go packages after just eating lunch.", "neutral"),
    ("Two women are embracing while holding to go packages.", "Two woman are holding packages.", "entailment"),
    ("Two women are embracing while holding to go packages.", "The men are fighting outside a deli.", "contradiction"),
    ("A man plays a guitar.", "A man plays music.", "entailment"),  # only an entailment: no triplet
    ("A man plays a guitar.", "A man is outside.", "neutral"),
    ("A dog runs.", "A cat sleeps.", "contradiction"),  # only a contradiction: no triplet
    ("A cyclist in neon yellow uniform rides past spectators behind a yellow banner reading \"Lotos.\"",
     "A cyclist is biking past spectators.", "entailment"),
    ("A cyclist in neon yellow uniform rides past spectators behind a yellow banner reading \"Lotos.\"",
     "A cyclist is biking, fast.", "entailment"),  # a second entailment: the first one is kept
    ("A cyclist in neon yellow uniform rides past spectators behind a yellow banner reading \"Lotos.\"",
     "Nobody is here.", "-"),  # no gold label: ignored
    ("A cyclist in neon yellow uniform rides past spectators behind a yellow banner reading \"Lotos.\"",
     "A cyclist is taking a water break.", "contradiction"),
    ("A cyclist in neon yellow uniform rides past spectators behind a yellow banner reading \"Lotos.\"",
     "A cyclist is sleeping.", "contradiction"),  # a second contradiction: the first one is kept
]
# the shared nli/snli_dev_triplets.csv's first line, and one with quotes, commas and the CSV quoting
SNLI_CSV = (
    "sent0,sent1,hard_neg\n"
    "Two women are embracing while holding to go packages .,Two woman are holding packages .,"
    "The men are fighting outside a deli .\n"
    "A cyclist in neon yellow uniform rides past spectators behind a yellow banner reading `` Lotos . '',"
    "A cyclist is biking past spectators .,A cyclist is taking a water break .\n"
)
SNLI_TXT_HEADER = ("gold_label\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\t"
                   "sentence1\tsentence2\tcaptionID\tpairID\tlabel1\n")


def add(tar: tarfile.TarFile, name: str, text: str) -> None:
    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


SENTEVAL = {
    **{f"downstream/STS/STSBenchmark/sts-{s}.csv": f"g\tf\ty\t0\t1.0\ta {s}\tb\n" for s in ("train", "dev", "test")},
    "downstream/STS/STS12-en-test/STS.input.MSRpar.txt": "a\tb\n",
    "downstream/STS/STS12-en-test/STS.gs.MSRpar.txt": "3.2\n",
    **{f"downstream/STS/STS{y}-en-test/STS.input.x.txt": "a\tb\n" for y in (13, 14, 15, 16)},
    **{f"downstream/SICK/SICK_{s}.txt": f"pair_ID\tsentence_A\n{s}\n" for s in ("train", "trial", "test_annotated")},
    "downstream/MR/rt-polarity.pos": "ignored\n",
}


# BEIR's scifact.zip in miniature: 150 claims judged in train (some twice), 5 test claims, documents with metadata
SCIFACT_TRAIN = [(str(q), f"{q * 7 % 40}") for q in range(150)] + [("3", "39"), ("140", "1")]
SCIFACT_TEST = [(str(q), "2") for q in range(150, 155)]


def scifact_zip(path: Path) -> Path:
    docs = [{"_id": str(d), "title": f"Title {d}" if d % 5 else "", "text": f"Abstract {d} ü", "metadata": {}}
            for d in range(40)]
    claims = [{"_id": str(q), "text": f"claim {q} é", "metadata": {}} for q in range(155)]
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("scifact/corpus.jsonl", "".join(json.dumps(d) + "\n" for d in docs))
        z.writestr("scifact/queries.jsonl", "".join(json.dumps(q) + "\n" for q in claims))
        for split, pairs in (("train", SCIFACT_TRAIN), ("test", SCIFACT_TEST)):
            z.writestr(f"scifact/qrels/{split}.tsv",
                       "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, d in pairs))
    return path


def snli_jsonl(rows=SNLI_ROWS) -> str:
    return "".join(json.dumps({"gold_label": g, "sentence1": p, "sentence2": h, "pairID": str(i)}) + "\n"
                   for i, (p, h, g) in enumerate(rows))


def raw_files(tmp_path: Path, senteval: str = "tar", snli: str = "jsonl") -> Path:
    """A --from folder: wiki1m, nli_for_simcse, SentEval's files (as senteval.tar or loose) and SNLI dev in the
    form ``snli`` (jsonl, txt, zip, parquet)."""
    raw = tmp_path / "raw"
    raw.mkdir()
    if senteval == "tar":
        with tarfile.open(raw / "senteval.tar", "w") as tar:
            for name, text in SENTEVAL.items():
                add(tar, name, text)
    else:  # an unpacked SentEval data/downstream folder
        for name, text in SENTEVAL.items():
            (raw / "SentEval" / "data" / name).parent.mkdir(parents=True, exist_ok=True)
            (raw / "SentEval" / "data" / name).write_text(text)
    (raw / "wiki1m_for_simcse.txt").write_text("".join(f"sentence {i}\n" for i in range(12_000)))
    (raw / "nli_for_simcse.csv").write_text("sent0,sent1,hard_neg\r\n" + "a,b,c\r\n" * 100)
    write_snli(raw, snli)
    scifact_zip(raw / "scifact.zip")
    return raw


def write_snli(raw: Path, form: str) -> None:
    if form == "jsonl":
        (raw / "snli_1.0_dev.jsonl").write_text(snli_jsonl())
    elif form == "txt":
        lines = "".join(f"{g}\t(x)\t(y)\t(X)\t(Y)\t{p}\t{h}\t1#0\t1#0r{i}\t{g}\n"
                        for i, (p, h, g) in enumerate(SNLI_ROWS))
        (raw / "snli_1.0_dev.txt").write_text(SNLI_TXT_HEADER + lines)
    elif form == "zip":
        with zipfile.ZipFile(raw / "snli_1.0.zip", "w") as z:
            z.writestr("snli_1.0/snli_1.0_train.jsonl", "")
            z.writestr("snli_1.0/snli_1.0_dev.jsonl", snli_jsonl())
    elif form == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        ids = {"entailment": 0, "neutral": 1, "contradiction": 2, "-": -1}
        table = pa.table({"premise": [r[0] for r in SNLI_ROWS], "hypothesis": [r[1] for r in SNLI_ROWS],
                          "label": [ids[r[2]] for r in SNLI_ROWS]})
        (raw / "snli" / "plain_text").mkdir(parents=True)
        pq.write_table(table, raw / "snli" / "plain_text" / "validation-00000-of-00001.parquet")


# --- the SNLI dev triplets -------------------------------------------------------------------------------------


def test_triplets_first_entailment_and_first_contradiction_of_premises_with_both():
    assert download_data.snli_triplets(SNLI_ROWS) == [
        ("Two women are embracing while holding to go packages .", "Two woman are holding packages .",
         "The men are fighting outside a deli ."),
        ("A cyclist in neon yellow uniform rides past spectators behind a yellow banner reading `` Lotos . ''",
         "A cyclist is biking past spectators .", "A cyclist is taking a water break ."),
    ]


def test_triplets_group_a_premise_across_the_file_in_order_of_first_appearance():
    rows = [("B b.", "e", "entailment"), ("A a.", "e1", "entailment"), ("B b.", "c", "contradiction"),
            ("A a.", "c1", "contradiction"), ("A a.", "e2", "entailment")]
    assert download_data.snli_triplets(rows) == [("B b .", "e", "c"), ("A a .", "e1", "c1")]


@pytest.mark.parametrize(("raw", "tokenized"), [
    ("A middle-aged man's shaving his beard in a room which doesn't look like a bathroom.",
     "A middle-aged man 's shaving his beard in a room which does n't look like a bathroom ."),
    ('A boy in a t-shirt that says, "I\'m a Pepper and Dr. Pepper," stands.',
     "A boy in a t-shirt that says , `` I 'm a Pepper and Dr. Pepper , '' stands ."),
    ('A screen shows "53:11".', "A screen shows `` 53 : 11 '' ."),
    ("Glasses (with eyebrows, nose) and cigars!", "Glasses ( with eyebrows , nose ) and cigars !"),
    ("The pool is 3 ft. deep", "The pool is 3 ft. deep"),  # only a final period is split
    ("I cannot -- gonna wait...", "I can not -- gon na wait ..."),
])
def test_texts_are_tokenized_as_senteval_tokenizes_snli(raw, tokenized):
    assert download_data.ptb_tokenize(raw) == tokenized


def test_triplets_csv_format_is_the_shared_files(tmp_path):
    out = tmp_path / "snli_dev_triplets.csv"
    download_data.write_triplets(download_data.snli_triplets(SNLI_ROWS), out)
    assert out.read_bytes() == SNLI_CSV.encode()  # LF, no quotes where none are needed
    download_data.write_triplets([("a, b", 'say "hi"', "c")], out)
    assert out.read_bytes() == b'sent0,sent1,hard_neg\n"a, b","say ""hi""",c\n'


def test_shared_triplets_are_byte_identical_through_the_writer_and_stable_under_the_tokenizer(tmp_path):
    shared = SHARED / "nli" / "snli_dev_triplets.csv"
    if not shared.exists():
        pytest.skip(f"{shared} not found")
    with open(shared, encoding="utf-8", newline="") as f:
        rows = [tuple(r) for r in csv.reader(f)][1:]
    assert len(rows) == 2943
    download_data.write_triplets(rows, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_bytes() == shared.read_bytes()
    assert shared.read_bytes().startswith(SNLI_CSV.split("\n")[0].encode() + b"\n" + SNLI_CSV.split("\n")[1].encode())
    # its texts are what the tokenizer makes: tokenizing them again changes nothing
    assert [r for r in rows if tuple(map(download_data.ptb_tokenize, r)) != r] == []


# --- --from DIR: every file, every form ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("senteval", "snli"), [("tar", "jsonl"), ("folder", "txt"), ("tar", "zip"), ("tar", "parquet")]
)
def test_full_download_from_local_files_builds_every_file_of_the_layout(tmp_path, senteval, snli):
    data = tmp_path / "data"
    raw = raw_files(tmp_path, senteval, snli)
    assert download_data.main(["--data-dir", str(data), "--full", "--from", str(raw)]) == 0
    for entry in DATA_FILES:
        assert (data / entry.path).exists(), entry.path
    assert (data / "stsb" / "sts-dev.csv").read_text() == "g\tf\ty\t0\t1.0\ta dev\tb\n"
    assert (data / "STS12-en-test" / "STS.gs.MSRpar.txt").read_text() == "3.2\n"
    assert (data / "sick" / "SICK_trial.txt").read_text() == "pair_ID\tsentence_A\ntrial\n"
    assert (data / "sick" / "SICK_train.txt").read_text() == "pair_ID\tsentence_A\ntrain\n"
    assert not list(data.rglob("rt-polarity.pos")) and not list(data.rglob("*.part"))
    sample = (data / "wiki" / "wiki1m_head11914.txt").read_text().splitlines()
    assert len(sample) == 11_914 and sample[-1] == "sentence 11913"
    assert (data / "wiki" / "wiki1m_for_simcse.txt").read_bytes() == (raw / "wiki1m_for_simcse.txt").read_bytes()
    assert (data / "nli" / "nli_for_simcse_head72.csv").read_bytes().count(b"\r\n") == 73
    assert (data / "nli" / "snli_dev_triplets.csv").read_bytes() == SNLI_CSV.encode()


def test_quickstart_download_fetches_the_quickstart_files_only(tmp_path):
    data = tmp_path / "data"
    assert download_data.main(["--data-dir", str(data), "--from", str(raw_files(tmp_path))]) == 0
    made = sorted(p.relative_to(data).as_posix() for p in data.rglob("*") if p.is_file())
    assert made == sorted(e.path for e in DATA_FILES if e.group == QUICKSTART)


def test_only_missing_files_are_fetched(tmp_path, capsys):
    data = tmp_path / "data"
    raw = raw_files(tmp_path)
    download_data.main(["--data-dir", str(data), "--full", "--from", str(raw)])
    (data / "sick" / "SICK_trial.txt").unlink()
    (data / "stsb" / "sts-dev.csv").write_text("kept\n")
    capsys.readouterr()
    assert download_data.main(["--data-dir", str(data), "--full", "--from", str(raw)]) == 0
    out = capsys.readouterr().out
    assert "fetching into" in out and "sick/SICK_trial.txt" in out and "sts-dev" not in out
    assert (data / "sick" / "SICK_trial.txt").exists() and (data / "stsb" / "sts-dev.csv").read_text() == "kept\n"


def test_nothing_is_fetched_when_data_is_present(tmp_path, capsys):
    data = tmp_path / "data"
    download_data.main(["--data-dir", str(data), "--from", str(raw_files(tmp_path))])
    capsys.readouterr()
    assert download_data.main(["--data-dir", str(data), "--from", str(tmp_path / "does-not-exist")]) == 0
    assert "nothing to download" in capsys.readouterr().out


def test_a_from_folder_lacking_files_is_one_line_naming_them_before_anything_is_written(tmp_path, capsys):
    raw = raw_files(tmp_path)
    (raw / "snli_1.0_dev.jsonl").unlink()
    (raw / "senteval.tar").unlink()
    data = tmp_path / "data"
    assert download_data.main(["--data-dir", str(data), "--full", "--from", str(raw)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: --from {raw}: not found there: ")
    assert ORIGINS["senteval"].local in err and ORIGINS["snli"].local in err
    assert "sick/SICK_trial.txt" in err and "nli/snli_dev_triplets.csv" in err
    assert not data.exists()


# --- SciFact: BEIR's zip -> scifact/ ----------------------------------------------------------------------------


def test_scifact_zip_becomes_the_beir_folder_with_a_dev_split_of_the_train_claims(tmp_path):
    import hashlib

    raw = tmp_path / "raw"
    raw.mkdir()
    scifact_zip(raw / "scifact.zip")
    download_data.unpack_scifact(raw / "scifact.zip", tmp_path / "data")
    root = tmp_path / "data" / "scifact"
    corpus = [json.loads(line) for line in (root / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    assert corpus[1] == {"_id": "1", "title": "Title 1", "text": "Abstract 1 ü"} and len(corpus) == 40
    assert corpus[0] == {"_id": "0", "title": "", "text": "Abstract 0 ü"}
    assert '"Abstract 1 ü"' in (root / "corpus.jsonl").read_text(encoding="utf-8")  # UTF-8, not \u escapes
    claims = [json.loads(line)["_id"] for line in (root / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
    assert claims == [str(q) for q in range(150)]  # the test claims (150-154) stay out
    train = (root / "qrels" / "train.tsv").read_text().splitlines()
    dev = (root / "qrels" / "dev.tsv").read_text().splitlines()
    assert train[0] == dev[0] == "query-id\tcorpus-id\tscore"
    dev_ids = {line.split("\t")[0] for line in dev[1:]}
    assert dev_ids == set(sorted(map(str, range(150)), key=lambda i: hashlib.sha256(i.encode()).hexdigest())[:100])
    assert sorted(train[1:] + dev[1:]) == sorted(f"{q}\t{d}\t1" for q, d in SCIFACT_TRAIN)  # every pair, once
    assert not dev_ids & {line.split("\t")[0] for line in train[1:]}
    assert load_task(str(root), "", "dev").sizes() == {"queries": 100, "documents": 40}  # what the preset validates on


def test_the_dev_rule_gives_the_shared_split():
    """The shared data root's scifact/ came from BEIR's zip by the same rule: its dev ids are the 100 smallest
    SHA-256 of its 809 train claims."""
    import hashlib

    root = SHARED / "scifact"
    if not (root / "qrels" / "dev.tsv").is_file():
        pytest.skip("no shared SciFact here")
    ids = [json.loads(line)["_id"] for line in (root / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
    dev = {line.split("\t")[0] for line in (root / "qrels" / "dev.tsv").read_text().splitlines()[1:]}
    assert dev == set(sorted(ids, key=lambda i: hashlib.sha256(i.encode()).hexdigest())[:100])


def test_a_zip_without_scifact_is_one_line(tmp_path, capsys):
    raw = raw_files(tmp_path)
    with zipfile.ZipFile(raw / "scifact.zip", "w") as z:
        z.writestr("nfcorpus/corpus.jsonl", "")
    assert download_data.main(["--data-dir", str(tmp_path / "data"), "--full", "--from", str(raw)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {raw / 'scifact.zip'}: no scifact/corpus.jsonl in this zip (BEIR's scifact.zip holds it)\n"


# --- offline: one line, at once --------------------------------------------------------------------------------


@pytest.fixture
def no_hub(monkeypatch):
    """A hub that does not answer: the connection probe fails; any download attempt fails the test."""
    def refuse(*args, **kwargs):
        raise OSError("[Errno -2] Name or service not known")

    def download(*args, local_files_only=False, **kwargs):
        from huggingface_hub.errors import LocalEntryNotFoundError

        assert local_files_only, "a download was attempted although the hub is unreachable"
        raise LocalEntryNotFoundError("not in the cache")

    monkeypatch.setattr(hub_module.urllib.request, "urlopen", refuse)
    monkeypatch.setattr("huggingface_hub.hf_hub_download", download)
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("args", [[], ["--full"]], ids=["quickstart", "full"])
def test_unreachable_hub_is_one_line_naming_what_and_pointing_at_from(tmp_path, capsys, no_hub, args):
    data = tmp_path / "data"
    start = time.monotonic()
    assert download_data.main(["--data-dir", str(data), *args]) == 2
    assert time.monotonic() - start < 5
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("error: cannot fetch ")
    assert "Name or service not known" in err
    wanted = [e for e in DATA_FILES if e.group == QUICKSTART or args]
    for source in {e.origin for e in wanted}:
        assert ORIGINS[source].name in err and ORIGINS[source].local in err
    assert f"python scripts/download_data.py --data-dir {data}{' --full' if args else ''} --from DIR" in err
    assert not data.exists() or not any(data.rglob("*"))


def test_hf_hub_offline_is_one_line_without_a_connection_attempt(tmp_path, capsys, no_hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub_module.urllib.request, "urlopen", lambda *a, **k: pytest.fail("connected"))
    assert download_data.main(["--data-dir", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "HF_HUB_OFFLINE=1 is set" in err and "--from DIR" in err


def test_offline_uses_what_the_hub_cache_holds(tmp_path, capsys, monkeypatch):
    """Offline, files already in DATA_DIR/.cache are used (hf_hub_download with local_files_only)."""
    raw = raw_files(tmp_path, snli="parquet")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cached = {"wiki1m_for_simcse.txt": raw / "wiki1m_for_simcse.txt", "senteval.tar": raw / "senteval.tar",
              data_files.SNLI_PARQUET: raw / "snli" / "plain_text" / "validation-00000-of-00001.parquet"}
    calls = []

    def download(repo, filename, *, repo_type, cache_dir, local_files_only=False):
        calls.append((repo, filename, local_files_only))
        return str(cached[filename])

    monkeypatch.setattr("huggingface_hub.hf_hub_download", download)
    data = tmp_path / "data"
    assert download_data.main(["--data-dir", str(data)]) == 0
    assert all(local for _, _, local in calls) and len(calls) == 3
    assert (data / "nli" / "snli_dev_triplets.csv").read_bytes() == SNLI_CSV.encode()


def test_script_offline_exits_2_with_one_line_in_a_fresh_process(tmp_path):
    """The script as `make data` runs it, with HF_HUB_OFFLINE=1: status 2, one stderr line, in seconds."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    start = time.monotonic()
    done = subprocess.run([sys.executable, str(SCRIPT), "--data-dir", str(tmp_path / "data"), "--full"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2 and time.monotonic() - start < 20
    assert done.stdout == "" and done.stderr.count("\n") == 1 and done.stderr.startswith("error: cannot fetch ")
    assert "Traceback" not in done.stderr


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """A reachable hub serving the raw files of raw_files() (SNLI as the split's parquet file)."""
    raw = raw_files(tmp_path, snli="parquet")
    files = {"wiki1m_for_simcse.txt": raw / "wiki1m_for_simcse.txt", "senteval.tar": raw / "senteval.tar",
             "nli_for_simcse.csv": raw / "nli_for_simcse.csv",
             data_files.SNLI_PARQUET: raw / "snli" / "plain_text" / "validation-00000-of-00001.parquet"}
    calls = []

    def urlopen(url, timeout):  # BEIR's server, for scifact.zip
        calls.append(("url", url))
        return io.BytesIO((raw / "scifact.zip").read_bytes())

    def download(repo, filename, *, repo_type, cache_dir, local_files_only=False):
        calls.append((repo, filename))
        assert repo_type == "dataset" and cache_dir == str(tmp_path / "data" / ".cache")
        if filename not in files:
            from huggingface_hub.errors import EntryNotFoundError

            raise EntryNotFoundError(f"404: {filename}")
        return str(files[filename])

    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(hub_module, "hub_unreachable", lambda timeout=5.0: None)
    monkeypatch.setattr("huggingface_hub.hf_hub_download", download)
    monkeypatch.setattr(download_data.urllib.request, "urlopen", urlopen)
    return files, calls


def test_full_download_from_the_hub(tmp_path, hub):
    files, calls = hub
    data = tmp_path / "data"
    assert download_data.main(["--data-dir", str(data), "--full"]) == 0
    assert sorted(calls) == sorted([ORIGINS[s].hub or ("url", ORIGINS[s].url) for s in ORIGINS])
    assert ("url", data_files.SCIFACT_URL) in calls and (data / ".cache" / "scifact.zip").is_file()
    assert (data / "nli" / "snli_dev_triplets.csv").read_bytes() == SNLI_CSV.encode()
    assert all((data / e.path).exists() for e in DATA_FILES)


def test_snli_falls_back_to_datasets_when_the_parquet_file_moved(tmp_path, hub, monkeypatch):
    files, calls = hub
    del files[data_files.SNLI_PARQUET]
    ids = {"entailment": 0, "neutral": 1, "contradiction": 2, "-": -1}
    loaded = []

    def load_dataset(path, split, cache_dir):
        loaded.append((path, split))
        return [{"premise": p, "hypothesis": h, "label": ids[g]} for p, h, g in SNLI_ROWS]

    monkeypatch.setattr("datasets.load_dataset", load_dataset)
    data = tmp_path / "data"
    assert download_data.main(["--data-dir", str(data)]) == 0
    assert loaded == [("stanfordnlp/snli", "validation")]
    assert (data / "nli" / "snli_dev_triplets.csv").read_bytes() == SNLI_CSV.encode()


def test_a_download_failing_midway_is_one_line_too(tmp_path, hub, monkeypatch, capsys):
    def download(repo, filename, **kwargs):
        from huggingface_hub.errors import LocalEntryNotFoundError

        raise LocalEntryNotFoundError("An error happened while trying to locate the file on the Hub.")

    monkeypatch.setattr("huggingface_hub.hf_hub_download", download)
    data = tmp_path / "data"
    assert download_data.main(["--data-dir", str(data)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: cannot fetch wiki1m_for_simcse.txt (")
    assert "LocalEntryNotFoundError" in err and "--from DIR" in err
    assert not list(data.rglob("*.part"))


def test_hub_probe_reports_an_unreachable_endpoint_fast(monkeypatch):
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: connection refused at once
    start = time.monotonic()
    assert hub_module.hub_unreachable(timeout=2).startswith("http://127.0.0.1:9 unreachable: ")
    assert time.monotonic() - start < 3
    monkeypatch.setenv("HF_HUB_OFFLINE", "yes")
    assert hub_module.hub_unreachable() == "HF_HUB_OFFLINE=yes is set"


# --- the table and the hints -----------------------------------------------------------------------------------


def test_every_file_of_the_layout_has_a_source_and_a_command():
    assert len({e.path for e in DATA_FILES}) == len(DATA_FILES)
    for entry in DATA_FILES:
        assert entry.group in (QUICKSTART, FULL) and entry.origin in ORIGINS
        assert data_files.find(f"/r/{entry.path}{'STS.input.x.txt' if entry.is_folder else ''}") == (entry, "/r")


def test_the_table_covers_what_the_configs_and_the_evaluation_read():
    from simcse_pl.evaluation import SENTEVAL_STS, SICK_FILES

    read = {"stsb/sts-train.csv", "stsb/sts-dev.csv", "stsb/sts-test.csv"}
    read |= {f"sick/{name}" for name in SICK_FILES.values()}
    read |= {f"{folder}/" for folder, _ in SENTEVAL_STS.values()}
    for yaml in (REPO / "conf").rglob("*.yaml"):
        for line in yaml.read_text().splitlines():
            for rest in line.split("${paths.data_dir}/")[1:]:
                read.add(re.match(r"[\w./-]+", rest).group(0))
    tabled = {e.path for e in DATA_FILES}
    folders = {path.rsplit("/", 1)[0] for path in tabled if "/" in path}  # a folder read whole (a BEIR folder)
    assert {p for p in read if p not in tabled and p not in folders} == set()


QUICK = "`make data` (python scripts/download_data.py --data-dir {root})"
FULL_CMD = "`make data DATA_ARGS=--full` (python scripts/download_data.py --data-dir {root} --full)"


@pytest.mark.parametrize(("rel", "command"), [
    ("wiki/wiki1m_head11914.txt", QUICK),
    ("stsb/sts-dev.csv", QUICK),
    ("nli/snli_dev_triplets.csv", QUICK),
    ("wiki/wiki1m_for_simcse.txt", FULL_CMD),
    ("nli/nli_for_simcse.csv", FULL_CMD),
    ("sick/SICK_trial.txt", FULL_CMD),
    ("sick/SICK_train.txt", FULL_CMD),
    ("STS14-en-test/STS.gs.images.txt", FULL_CMD),
])
def test_missing_file_message_names_the_exact_command(tmp_path, rel, command):
    with pytest.raises(DataError) as exc:
        check_file(str(tmp_path / rel), "data.source.path")
    assert str(exc.value) == (
        f"{tmp_path / rel}: no such file (data.source.path). Point paths.data_dir / SIMCSE_DATA_DIR at your data "
        f"root, or run {command.format(root=tmp_path)} to download it."
    )


def test_missing_evaluation_files_name_the_full_download(tmp_path):
    (tmp_path / "sick").mkdir()
    with pytest.raises(DataError) as exc:
        load_task("sickr", str(tmp_path), "dev")
    assert str(exc.value).endswith(f"or run {FULL_CMD.format(root=tmp_path)} to download it.")
    with pytest.raises(DataError, match=r"STS\.input\.MSRpar\.txt: no such file .* DATA_ARGS=--full"):
        load_task("sts12", str(tmp_path), "test")


def test_a_file_of_no_download_is_to_be_checked(tmp_path):
    for path in (tmp_path / "my_corpus.txt", tmp_path / "wiki" / "other.txt", Path("relative/nope.csv")):
        with pytest.raises(DataError) as exc:
            check_file(str(path), "data.source.path")
        assert str(exc.value) == (
            f"{path}: no such file (data.source.path). It is not a file this project downloads: check the path."
        )


def test_hint_for_a_relative_root_and_a_cli_option():
    assert data_files.missing_hint("stsb/sts-dev.csv", "--data-dir") == (
        "Point --data-dir at your data root, or run `make data` (python scripts/download_data.py --data-dir .) "
        "to download it."
    )
    assert "--data-dir data --full" in data_files.missing_hint("data/STS15-en-test/STS.gs.belief.txt", "paths.data_dir")
