"""The files the project reads under the data root, where each comes from and the command that produces it.

One table, read by ``scripts/download_data.py`` (what to fetch and build) and by the "no such file" errors of
``simcse_pl.data.files.check_file`` (which command to run for the missing file, or that the file is not one the
project downloads). An ``Origin`` is where a raw download comes from (a "source" is a training reader). Light on purpose: no third-party imports, so an error message costs nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import PurePath

from simcse_pl.data_root import ENV_VAR, data_root

QUICKSTART, FULL, CHINESE = "quickstart", "full", "chinese"

# the command of each group: the Makefile target, then what it runs (``{root}``: the data root)
COMMANDS = {
    QUICKSTART: ("make data", "python scripts/download_data.py --data-dir {root}"),
    FULL: ("make data DATA_ARGS=--full", "python scripts/download_data.py --data-dir {root} --full"),
    CHINESE: ("make data DATA_ARGS=--chinese", "python scripts/download_data.py --data-dir {root} --chinese"),
}

SIMCSE_REPO = "princeton-nlp/datasets-for-simcse"  # SimCSE's own data (its scripts fetch these files)
SNLI_REPO = "stanfordnlp/snli"
SNLI_PARQUET = "plain_text/validation-00000-of-00001.parquet"  # the validation split in that dataset repo
# the Chinese STS suite (simcse_pl/evaluation/chinese.py): C-MTEB's copies on the hub, data/<split>-*.parquet each
CMTEB_SETS = ("ATEC", "BQ", "LCQMC", "PAWSX", "STSB")
# BEIR's SciFact (Wadden et al. 2020; CC BY-NC 2.0), as BEIR distributes it (experiment=scifact_mined)
SCIFACT_URL = "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/scifact.zip"


@dataclass(frozen=True)
class Origin:
    """A raw download: where it is (a file of a Hugging Face hub dataset, or a URL) and the forms ``--from DIR``
    may hold it in."""

    name: str  # how messages call it
    hub: tuple[str, str] | None  # (dataset repo, file in it); None: not on the hub, fetched from ``url``
    local: str  # what ``--from DIR`` must hold for it, in words
    url: str | None = None

    @property
    def where(self) -> str:
        """Where messages say it comes from: the hub dataset, or the URL."""
        return f"{self.hub[0]} on the Hugging Face hub" if self.hub else str(self.url)


ORIGINS = {
    "wiki1m": Origin("wiki1m_for_simcse.txt", (SIMCSE_REPO, "wiki1m_for_simcse.txt"), "wiki1m_for_simcse.txt"),
    "nli": Origin("nli_for_simcse.csv", (SIMCSE_REPO, "nli_for_simcse.csv"), "nli_for_simcse.csv"),
    "senteval": Origin(
        "senteval.tar",
        (SIMCSE_REPO, "senteval.tar"),
        "senteval.tar (or SentEval's files: STS1X-en-test/, sts-*.csv, SICK_*.txt)",
    ),
    "snli": Origin(
        "the SNLI validation split",
        (SNLI_REPO, SNLI_PARQUET),
        "snli_1.0_dev.jsonl, snli_1.0_dev.txt or snli_1.0.zip (nlp.stanford.edu/projects/snli), "
        f"or {SNLI_REPO}'s {SNLI_PARQUET} under a folder named snli",
    ),
    "scifact": Origin("scifact.zip", None, f"scifact.zip (BEIR's, {SCIFACT_URL})", SCIFACT_URL),
}
# the Chinese suite's origin (``--chinese``), kept apart from ORIGINS: those are fetched by the default commands
CMTEB_ORIGIN = Origin(
    "C-MTEB's ATEC, BQ, LCQMC, PAWSX and STSB",
    ("C-MTEB/<SET>", "data/*.parquet"),
    "C-MTEB/<SET>/data/*.parquet (hf download C-MTEB/<SET> --repo-type dataset --local-dir DIR/C-MTEB/<SET>), "
    "or text2vec's <SET>/<SET>.{train,valid,test}.data (shibing624/nli_zh's senteval_cn), and optionally text2vec's "
    "SOHU/dd-test.jsonl and SOHU/dc-test.jsonl",
)


@dataclass(frozen=True)
class DataFile:
    """A file (or, ending in ``/``, a folder) of the data root, the group that downloads it, its origin."""

    path: str  # relative to the data root, ``/``-separated
    group: str  # QUICKSTART (``make data``) or FULL (``make data DATA_ARGS=--full``)
    origin: str  # key of ORIGINS
    what: str

    @property
    def is_folder(self) -> bool:
        return self.path.endswith("/")


STS_YEARS = (12, 13, 14, 15, 16)

DATA_FILES: tuple[DataFile, ...] = (
    DataFile("wiki/wiki1m_head11914.txt", QUICKSTART, "wiki1m", "first 11,914 lines of wiki1m (experiment=quickstart)"),
    DataFile("stsb/sts-train.csv", QUICKSTART, "senteval", "STS Benchmark train (SentEval format; data=pairs)"),
    DataFile("stsb/sts-dev.csv", QUICKSTART, "senteval", "STS Benchmark dev (validation)"),
    DataFile("stsb/sts-test.csv", QUICKSTART, "senteval", "STS Benchmark test"),
    DataFile(
        "nli/snli_dev_triplets.csv", QUICKSTART, "snli",
        "SNLI dev triplets sent0,sent1,hard_neg (experiment=quickstart_sup)",
    ),
    DataFile("wiki/wiki1m_for_simcse.txt", FULL, "wiki1m", "unsupervised corpus, 1M sentences (data=wiki)"),
    DataFile("nli/nli_for_simcse.csv", FULL, "nli", "supervised triplets, 275,601 rows (data=nli)"),
    DataFile("nli/nli_for_simcse_head72.csv", FULL, "nli", "first 72 rows of nli_for_simcse.csv (sample)"),
    DataFile("sick/SICK_test_annotated.txt", FULL, "senteval", "SICK-R test (SentEval)"),
    DataFile("sick/SICK_trial.txt", FULL, "senteval", "SICK-R dev (SentEval)"),
    DataFile("sick/SICK_train.txt", FULL, "senteval", "SICK-R train (SentEval)"),
    *(
        DataFile(f"STS{y}-en-test/", FULL, "senteval", f"STS{y}: STS.input.<subset>.txt + STS.gs.<subset>.txt")
        for y in STS_YEARS
    ),
    DataFile("scifact/corpus.jsonl", FULL, "scifact", "SciFact's 5,183 abstracts (BEIR layout; experiment=scifact_mined)"),
    DataFile("scifact/queries.jsonl", FULL, "scifact", "SciFact's 809 train claims (BEIR's train qrels)"),
    DataFile("scifact/qrels/train.tsv", FULL, "scifact", "709 of them: the training queries"),
    DataFile("scifact/qrels/dev.tsv", FULL, "scifact", "the other 100 (smallest SHA-256 of the id): validation"),
)
# ``make data DATA_ARGS=--chinese``: the Chinese STS suite (research use only: see the README), as C-MTEB ships it
CHINESE_FILES: tuple[DataFile, ...] = tuple(
    DataFile(f"chinese/C-MTEB/{name}/data/", CHINESE, "cmteb", f"{name} (C-MTEB parquet: train, validation, test)")
    for name in CMTEB_SETS
)


def find(path: str | os.PathLike[str]) -> tuple[DataFile, str] | None:
    """The table entry ``path`` is (a file of the data root, or a file inside one of its folders) and the data
    root it implies; None for a file the project does not download."""
    parts = PurePath(os.path.normpath(os.fspath(path))).parts
    for entry in (*DATA_FILES, *CHINESE_FILES):
        rel = tuple(entry.path.rstrip("/").split("/"))
        if entry.is_folder:  # a file directly inside the folder
            if len(parts) > len(rel) and parts[-len(rel) - 1 : -1] == rel:
                return entry, _root(parts[: -len(rel) - 1])
        elif parts[-len(rel) :] == rel:
            return entry, _root(parts[: -len(rel)])
    return None


def _root(parts: tuple[str, ...]) -> str:
    return str(PurePath(*parts)) if parts else "."


def command(group: str, root: str) -> str:
    """``make data ...`` (the script it runs, with ``root``): the exact command that produces a group's files."""
    make, script = COMMANDS[group]
    return f"`{make}` ({script.format(root=root)})"


def missing_hint(path: str | os.PathLike[str], key: str) -> str:
    """What to do about a missing ``path`` (read for the setting or option ``key``): the command that downloads
    it, or, for a file the project does not download, to check the path."""
    found = find(path)
    if found is None:
        return "It is not a file this project downloads: check the path."
    entry, root = found
    return f"{point_at_root(key, root)}, or run {command(entry.group, root)} to download it."


def point_at_root(key: str, root: str) -> str:
    """``Point <the setting> at your data root``, for a file looked for under ``root`` and read for ``key``. It
    also says where that root came from (``simcse_pl.data_root``): a console script puts that in ``key``
    (``--data-dir not given: data root from SIMCSE_DATA_DIR``); for train.py's config keys it is said here when
    ``root`` is the configured default."""
    option = key.split(" ", 1)[0]
    if option.startswith("-"):
        return f"Point {option if option == key else f'{option} or {ENV_VAR}'} at your data root"
    configured = data_root(option="paths.data_dir")
    came = f" (this one, {root}, is from {configured.origin})" if _same(configured.path, root) else ""
    return f"Point paths.data_dir / {ENV_VAR} at your data root{came}"


def _same(a: str, b: str) -> bool:
    return os.path.abspath(a) == os.path.abspath(b)
