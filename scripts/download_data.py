"""Fetch SimCSE's corpora, SentEval's STS/SICK files and SNLI dev into the data root, and build the derived files.

    python scripts/download_data.py --data-dir ./data            # quickstart files (`make data`)
    python scripts/download_data.py --data-dir ./data --full     # + wiki1m, nli_for_simcse, STS12-16, SICK-R
    python scripts/download_data.py --data-dir ./data --from DIR # offline: build from files already in DIR
    python scripts/download_data.py --data-dir ./data --chinese  # + the Chinese STS suite (C-MTEB, research use)

Without ``--data-dir`` the data root is the one every tool reads (simcse_pl/data_root.py): ``SIMCSE_DATA_DIR``,
else the ``.data-root`` that ``make`` wrote in this folder, else ``./data``.

Sources (Hugging Face hub): ``princeton-nlp/datasets-for-simcse`` (``wiki1m_for_simcse.txt``,
``nli_for_simcse.csv``, ``senteval.tar``: SentEval's STS12-16, STS-B and SICK, as SimCSE's own scripts fetch
them) and ``stanfordnlp/snli`` (the validation split, for ``nli/snli_dev_triplets.csv``). Which file comes from
where, and with which command: ``simcse_pl/data/downloads.py``. Only missing files are fetched; every file is
written under a temporary name and renamed when complete.

``--from DIR`` reads the same raw files from DIR (searched recursively): ``wiki1m_for_simcse.txt``,
``nli_for_simcse.csv``, ``senteval.tar`` or SentEval's files themselves (``STS12-en-test/`` ...,
``sts-{train,dev,test}.csv``, ``SICK_{train,trial,test_annotated}.txt``), and SNLI dev as the official
``snli_1.0_dev.jsonl``, ``snli_1.0_dev.txt`` or ``snli_1.0.zip``, or ``stanfordnlp/snli``'s
``plain_text/validation-00000-of-00001.parquet`` in a folder named ``snli``
(``hf download stanfordnlp/snli --repo-type dataset --local-dir DIR/snli``).

``--full`` also fetches BEIR's SciFact (``scifact.zip`` from UKP's BEIR server, not the hub) into ``scifact/``:
the corpus, the claims of BEIR's train qrels, and those qrels split into ``qrels/train.tsv`` (709 queries) and
``qrels/dev.tsv`` (the 100 query ids of smallest SHA-256, a fixed rule); BEIR's test claims are left out.
``--from DIR`` takes the same ``scifact.zip``.

``--chinese`` also fetches the Chinese STS suite (``atec``, ``bq``, ``lcqmc``, ``pawsx``, ``stsb_zh``; licences:
mostly research use only, see the README) from ``C-MTEB/<SET>`` on the hub into ``chinese/C-MTEB/<SET>/data/``
(parquet, as C-MTEB ships it); with ``--from DIR`` it copies text2vec's ``<SET>/<SET>.{train,valid,test}.data``
files (``shibing624/nli_zh``'s senteval_cn) or C-MTEB folders found in DIR, and text2vec's SOHU test sets
(``SOHU/dd-test.jsonl``, ``SOHU/dc-test.jsonl``: not on the hub) when DIR has them.

With no network (or ``HF_HUB_OFFLINE=1``) it uses what the hub cache (``DATA_DIR/.cache``) already holds and
otherwise stops at once: one ``error:`` line naming what could not be fetched and what ``--from DIR`` must hold,
exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import re
import shutil
import sys
import tarfile
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

try:
    from simcse_pl import hub
except ImportError:  # run from a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from simcse_pl import hub

from simcse_pl.data_root import data_root
from simcse_pl.data.downloads import CMTEB_SETS, CMTEB_ORIGIN, DATA_FILES, FULL, QUICKSTART, ORIGINS, DataFile, Origin

WIKI_SAMPLE, NLI_SAMPLE = 11_914, 72
SICK_NAMES = ("SICK_train.txt", "SICK_trial.txt", "SICK_test_annotated.txt")
STSB_NAMES = ("sts-train.csv", "sts-dev.csv", "sts-test.csv")
SNLI_FILES = ("snli_1.0_dev.jsonl", "snli_1.0_dev.txt", "snli_1.0.zip")  # in order of preference
SNLI_LABELS = {0: "entailment", 1: "neutral", 2: "contradiction", -1: "-"}  # stanfordnlp/snli's ClassLabel
SCIFACT_DEV = 100  # train queries held out as qrels/dev.tsv


class Unavailable(Exception):
    """Raw files that cannot be had; the message is the one line to print."""


# --- SNLI dev triplets ------------------------------------------------------------------------------------------


def ptb_tokenize(text: str) -> str:
    """Penn Treebank tokenization as SentEval applies it to SNLI (``data/downstream/tokenizer.sed``, R. MacIntyre
    1995): ``packages.`` -> ``packages .``, ``doesn't`` -> ``does n't``, ``"x"`` -> ````` x ''``; only a final
    period is split. The sed script leaves a space at the end; it is stripped here."""
    s = re.sub(r'^"', "`` ", text)
    s = re.sub(r'([ (\[{<])"', r"\1 `` ", s)
    s = s.replace("...", " ... ")
    s = re.sub(r"([,;:@#$%&])", r" \1 ", s)
    s = re.sub(r"([^.])(\.)([\])}>\"']*)[ \t]*\Z", r"\1 \2\3 ", s)
    s = re.sub(r"([?!])", r" \1 ", s)
    s = re.sub(r"([\][(){}<>])", r" \1 ", s)
    s = s.replace("--", " -- ")
    s = f" {s} "
    s = s.replace('"', " '' ")
    s = re.sub(r"([^'])' ", r"\1 ' ", s)
    s = re.sub(r"'([sSmMdD]) ", r" '\1 ", s)
    for clitic in ("'ll", "'re", "'ve", "n't", "'LL", "'RE", "'VE", "N'T"):
        s = s.replace(f"{clitic} ", f" {clitic} ")
    s = re.sub(r" ([Cc])annot ", r" \1an not ", s)
    s = re.sub(r" ([Dd])'ye ", r" \1' ye ", s)
    s = re.sub(r" ([Gg])imme ", r" \1im me ", s)
    s = re.sub(r" ([Gg])onna ", r" \1on na ", s)
    s = re.sub(r" ([Gg])otta ", r" \1ot ta ", s)
    s = re.sub(r" ([Ll])emme ", r" \1em me ", s)
    s = re.sub(r" ([Mm])ore'n ", r" \1ore 'n ", s)
    s = re.sub(r" '([Tt])is ", r" '\1 is ", s)
    s = re.sub(r" '([Tt])was ", r" '\1 was ", s)
    s = re.sub(r" ([Ww])anna ", r" \1an na ", s)
    s = re.sub(r" +", " ", s)
    return s.strip(" ")


def snli_triplets(rows: Iterable[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """(premise, first entailment, first contradiction) for each premise that has both, from SNLI rows
    ``(premise, hypothesis, gold label)`` in file order, as ``nli/snli_dev_triplets.csv`` was derived: texts
    tokenized as SentEval tokenizes SNLI, premises grouped by their tokenized text and kept in order of first
    appearance, other labels (neutral, ``-``: no gold label) ignored."""
    firsts: dict[str, dict[str, str]] = {}
    for premise, hypothesis, label in rows:
        hyps = firsts.setdefault(ptb_tokenize(premise), {})
        if label in ("entailment", "contradiction"):
            hyps.setdefault(label, ptb_tokenize(hypothesis))
    return [
        (premise, hyps["entailment"], hyps["contradiction"])
        for premise, hyps in firsts.items()
        if "entailment" in hyps and "contradiction" in hyps
    ]


def write_triplets(triplets: Iterable[tuple[str, str, str]], dst: Path) -> None:
    """CSV as the shared ``nli/snli_dev_triplets.csv``: header ``sent0,sent1,hard_neg``, LF line endings, a field
    quoted only when it needs it (a comma or a quote in it), UTF-8."""
    with atomic(dst) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(("sent0", "sent1", "hard_neg"))
        writer.writerows(triplets)


def read_snli(path: Path) -> Iterator[tuple[str, str, str]]:
    """(premise, hypothesis, gold label) rows of SNLI's validation split from any of the forms it comes in: the
    official ``snli_1.0_dev.jsonl`` / ``snli_1.0_dev.txt`` / ``snli_1.0.zip``, or the hub's parquet file."""
    name = path.name
    if name.endswith(".zip"):
        with zipfile.ZipFile(path) as z:
            member = next((m for m in z.namelist() if m.endswith("snli_1.0_dev.jsonl")), None)
            if member is None:
                raise Unavailable(f"error: {path}: no snli_1.0_dev.jsonl in this zip")
            with z.open(member) as f:
                yield from _snli_jsonl(io.TextIOWrapper(f, encoding="utf-8"), f"{path}:{member}")
    elif name.endswith(".jsonl"):
        with open(path, encoding="utf-8") as f:
            yield from _snli_jsonl(f, str(path))
    elif name.endswith(".txt"):
        with open(path, encoding="utf-8", newline="") as f:
            rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
            _need_columns(rows.fieldnames or [], ("gold_label", "sentence1", "sentence2"), path)
            for row in rows:
                yield row["sentence1"], row["sentence2"], row["gold_label"]
    elif name.endswith(".parquet"):
        import pyarrow.parquet as pq  # a dependency of datasets

        table = pq.read_table(path)
        _need_columns(table.column_names, ("premise", "hypothesis", "label"), path)
        for row in table.select(["premise", "hypothesis", "label"]).to_pylist():
            yield row["premise"], row["hypothesis"], SNLI_LABELS.get(row["label"], "-")
    else:
        raise Unavailable(f"error: {path}: not an SNLI file this script reads ({', '.join(SNLI_FILES)}, .parquet)")


def _snli_jsonl(lines: Iterable[str], where: str) -> Iterator[tuple[str, str, str]]:
    for lineno, line in enumerate(lines, start=1):
        if line.strip():
            try:
                row = json.loads(line)
                yield row["sentence1"], row["sentence2"], row["gold_label"]
            except (ValueError, KeyError) as e:
                raise Unavailable(f"error: {where}:{lineno}: not an SNLI record ({e})") from None


def _need_columns(have: Iterable[str], need: tuple[str, ...], path: Path) -> None:
    missing = [c for c in need if c not in have]
    if missing:
        raise Unavailable(f"error: {path}: no column {', '.join(missing)}; not SNLI's validation split?")


def snli_from_hub(cache: Path) -> list[tuple[str, str, str]]:
    """SNLI's validation split from the hub: the split's parquet file (cached with the other downloads); should
    the dataset repo be laid out differently one day, ``datasets.load_dataset`` finds the split."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    repo, filename = ORIGINS["snli"].hub
    try:
        return list(read_snli(Path(hf_hub_download(repo, filename, repo_type="dataset", cache_dir=str(cache)))))
    except EntryNotFoundError as e:
        if isinstance(e, LocalEntryNotFoundError):  # no connection: not a layout change
            raise
    import datasets

    split = datasets.load_dataset(repo, split="validation", cache_dir=str(cache / "datasets"))
    return [(r["premise"], r["hypothesis"], SNLI_LABELS.get(r["label"], "-")) for r in split]


# --- writing ----------------------------------------------------------------------------------------------------


class atomic:
    """``with atomic(dst) as tmp``: write ``tmp``; it becomes ``dst`` only when the block completes."""

    def __init__(self, dst: Path) -> None:
        self.dst, self.tmp = dst, dst.with_name(dst.name + ".part")

    def __enter__(self) -> Path:
        self.dst.parent.mkdir(parents=True, exist_ok=True)
        return self.tmp

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            os.replace(self.tmp, self.dst)
        elif self.tmp.is_dir():
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            self.tmp.unlink(missing_ok=True)


def head(src: Path, dst: Path, lines: int) -> None:
    """The first ``lines`` lines of ``src`` (line endings kept byte for byte)."""
    with atomic(dst) as tmp, open(src, "rb") as fin, open(tmp, "wb") as fout:
        for i, line in enumerate(fin):
            if i >= lines:
                break
            fout.write(line)


def copy(src: Path, dst: Path) -> None:
    with atomic(dst) as tmp:
        shutil.copyfile(src, tmp)


# --- SentEval's files -------------------------------------------------------------------------------------------


def senteval_target(parts: tuple[str, ...]) -> str | None:
    """Where a file of SentEval's data goes in this project's layout (``STS1X-en-test/``, ``stsb/``, ``sick/``),
    from its path's parts; None for the files the project does not read (SentEval's other tasks)."""
    name = parts[-1]
    year = next((p for p in parts[:-1] if re.fullmatch(r"STS1[2-6]-en-test", p)), None)
    if year:
        return f"{year}/{name}"
    if name in STSB_NAMES:
        return f"stsb/{name}"
    if name in SICK_NAMES:
        return f"sick/{name}"
    return None


def wanted_by(target: str, entries: list[DataFile]) -> DataFile | None:
    for entry in entries:
        if target == entry.path or (entry.is_folder and target.startswith(entry.path)):
            return entry
    return None


def place_senteval(files: Iterable[tuple[tuple[str, ...], Any]], opener: Callable[[Any], BinaryIO], data_dir: Path,
                   entries: list[DataFile]) -> None:
    """Copy the SentEval files that ``entries`` need (the first of each name) into the data root; a folder
    (``STS12-en-test/``) is filled under a temporary name and renamed when all its files are in."""
    staged: dict[str, Path] = {}
    done: set[str] = set()
    try:
        for parts, handle in files:
            target = senteval_target(parts)
            entry = wanted_by(target, entries) if target else None
            if entry is None or target in done:
                continue
            done.add(target)
            if entry.is_folder:
                if entry.path not in staged:
                    staged[entry.path] = data_dir / (entry.path.rstrip("/") + ".part")
                    shutil.rmtree(staged[entry.path], ignore_errors=True)
                    staged[entry.path].mkdir(parents=True)
                with opener(handle) as fin, open(staged[entry.path] / parts[-1], "wb") as fout:
                    shutil.copyfileobj(fin, fout)
            else:
                with atomic(data_dir / target) as tmp, opener(handle) as fin, open(tmp, "wb") as fout:
                    shutil.copyfileobj(fin, fout)
        for path, folder in staged.items():
            os.replace(folder, data_dir / path.rstrip("/"))
    finally:
        for folder in staged.values():
            shutil.rmtree(folder, ignore_errors=True)


def unpack_senteval(tar_path: Path, data_dir: Path, entries: list[DataFile]) -> None:
    """The files ``entries`` need from ``senteval.tar`` (SentEval's ``data/downstream``), in this layout."""
    with tarfile.open(tar_path) as tar:
        members = ((Path(m.name).parts, m) for m in tar if m.isfile())
        place_senteval(members, tar.extractfile, data_dir, entries)


def copy_senteval(files: dict[str, Path], data_dir: Path, entries: list[DataFile]) -> None:
    """The files ``entries`` need from SentEval's files lying in a folder (``--from DIR``)."""
    place_senteval(((tuple(rel.split("/")), path) for rel, path in files.items()), lambda path: open(path, "rb"),
                   data_dir, entries)


# --- where the raw files come from ------------------------------------------------------------------------------


def missing(data_dir: Path, entries: Iterable[DataFile]) -> list[DataFile]:
    return [e for e in entries if not (data_dir / e.path).exists()]


class LocalFiles:
    """Raw files found in ``--from DIR`` (searched recursively, shallowest first)."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise Unavailable(f"error: --from {root}: no such folder")
        self.root = root
        self.files: dict[str, Path] = {}  # path relative to root -> path
        for folder, dirs, names in os.walk(root):
            dirs.sort()
            for name in sorted(names):
                path = Path(folder, name)
                self.files[path.relative_to(root).as_posix()] = path

    def named(self, *names: str) -> Path | None:
        """The shallowest file called one of ``names`` (the first name wins at equal depth)."""
        found = [(rel.count("/"), names.index(rel.rsplit("/", 1)[-1]), rel) for rel in self.files
                 if rel.rsplit("/", 1)[-1] in names]
        return self.files[min(found)[2]] if found else None

    def snli(self) -> Path | None:
        path = self.named(*SNLI_FILES)
        if path is None:
            parquet = sorted(rel for rel in self.files if rel.endswith(".parquet") and "snli" in rel.lower()
                             and rel.rsplit("/", 1)[-1].startswith("validation"))
            path = self.files[parquet[0]] if parquet else None
        return path

    def senteval_files(self) -> dict[str, Path]:
        return {rel: path for rel, path in self.files.items() if senteval_target(tuple(rel.split("/")))}

    def has(self, source: str, entries: list[DataFile]) -> bool:
        if source == "snli":
            return self.snli() is not None
        if source == "senteval":
            return self.named("senteval.tar") is not None or all(
                any(wanted_by(senteval_target(tuple(rel.split("/"))) or "", [e]) for rel in self.senteval_files())
                for e in entries
            )
        return self.named(ORIGINS[source].name) is not None


def announce(data_dir: Path, todo: list[DataFile], origin: str) -> None:
    print(f"fetching into {data_dir} from {origin}: {', '.join(e.path for e in todo)}", flush=True)


def from_dir(source_dir: Path, data_dir: Path, todo: list[DataFile]) -> None:
    local = LocalFiles(source_dir)
    by_source = group(todo)
    lacking = [s for s, entries in by_source.items() if not local.has(s, entries)]
    if lacking:
        needs = "; ".join(f"{ORIGINS[s].local} (for {', '.join(e.path for e in by_source[s])})" for s in lacking)
        raise Unavailable(f"error: --from {source_dir}: not found there: {needs}")
    announce(data_dir, todo, str(source_dir))
    for source, entries in by_source.items():
        if source == "senteval":
            tar = local.named("senteval.tar")
            if tar is not None:
                unpack_senteval(tar, data_dir, entries)
            else:
                copy_senteval(local.senteval_files(), data_dir, entries)
        elif source == "snli":
            write_triplets(snli_triplets(read_snli(local.snli())), data_dir / "nli/snli_dev_triplets.csv")
        else:
            build(source, local.named(ORIGINS[source].name), data_dir, entries)


def from_hub(data_dir: Path, todo: list[DataFile], cache: Path) -> None:
    by_source = group(todo)
    cached: dict[str, Path] = {}
    why = hub.hub_unreachable()
    if why is not None:  # offline: only what the hub cache already holds
        from huggingface_hub import hf_hub_download

        for source in by_source:
            if ORIGINS[source].hub is None:
                if url_cache(ORIGINS[source], cache).is_file():
                    cached[source] = url_cache(ORIGINS[source], cache)
                continue
            repo, filename = ORIGINS[source].hub
            try:
                cached[source] = Path(hf_hub_download(repo, filename, repo_type="dataset", cache_dir=str(cache),
                                                      local_files_only=True))
            except Exception:  # noqa: BLE001 - not in the cache (LocalEntryNotFoundError), whatever the version
                pass
        lacking = [s for s in by_source if s not in cached]
        if lacking:
            raise Unavailable(offline_message(why, data_dir, by_source, lacking))
    urls = "".join(f" and {ORIGINS[s].url}" for s in by_source if ORIGINS[s].hub is None)
    announce(data_dir, todo, ("the Hugging Face hub" if why is None else f"the hub cache {cache}") + urls)
    for source, entries in by_source.items():
        try:
            if source == "snli":
                rows = read_snli(cached["snli"]) if "snli" in cached else snli_from_hub(cache)
                write_triplets(snli_triplets(rows), data_dir / "nli/snli_dev_triplets.csv")
                continue
            raw = cached.get(source) or (hub_download(source, cache) if ORIGINS[source].hub else
                                         url_download(ORIGINS[source], cache))
        except Unavailable:
            raise
        except Exception as e:  # noqa: BLE001 - the connection dropped, a proxy refused, ...: one line, not a trace
            reason = " ".join(str(e).split())[:200] or type(e).__name__
            raise Unavailable(offline_message(f"{type(e).__name__}: {reason}", data_dir, by_source, [source])) from None
        if source == "senteval":
            unpack_senteval(raw, data_dir, entries)
        else:
            build(source, raw, data_dir, entries)


def hub_download(source: str, cache: Path) -> Path:
    from huggingface_hub import hf_hub_download

    repo, filename = ORIGINS[source].hub
    return Path(hf_hub_download(repo, filename, repo_type="dataset", cache_dir=str(cache)))


def url_cache(origin: Origin, cache: Path) -> Path:
    return cache / origin.name


def url_download(origin: Origin, cache: Path) -> Path:
    """``origin.url`` into the download cache (once: a later run reuses it), written whole or not at all."""
    dst = url_cache(origin, cache)
    if not dst.is_file():
        with atomic(dst) as tmp, urllib.request.urlopen(str(origin.url), timeout=60) as response, open(tmp, "wb") as f:
            shutil.copyfileobj(response, f)
    return dst


def offline_message(why: str, data_dir: Path, by_source: dict[str, list[DataFile]], lacking: list[str]) -> str:
    """One line: what could not be fetched (by hub dataset or URL), why, and how to build from files got
    elsewhere."""
    repos: dict[str, list[str]] = {}
    for source in lacking:
        repos.setdefault(ORIGINS[source].where, []).append(ORIGINS[source].name)
    what = " and ".join(f"{', '.join(names)} ({repo})" for repo, names in repos.items())
    holding = "; ".join(ORIGINS[s].local for s in lacking)
    full = " --full" if any_full(by_source) else ""
    return (f"error: cannot fetch {what}: {why}. Get them elsewhere and run "
            f"`python scripts/download_data.py --data-dir {data_dir}{full} --from DIR`, DIR holding: {holding}")


def any_full(by_source: dict[str, list[DataFile]]) -> bool:
    return any(e.group == FULL for entries in by_source.values() for e in entries)


def group(todo: list[DataFile]) -> dict[str, list[DataFile]]:
    by_source: dict[str, list[DataFile]] = {}
    for entry in todo:
        by_source.setdefault(entry.origin, []).append(entry)
    return by_source


def build(source: str, raw: Path, data_dir: Path, entries: list[DataFile]) -> None:
    """The data-root files of ``entries`` from the raw file ``raw`` (wiki1m, nli_for_simcse or scifact.zip)."""
    if source == "scifact":
        unpack_scifact(raw, data_dir)
        return
    for entry in entries:
        dst = data_dir / entry.path
        if entry.path == "wiki/wiki1m_head11914.txt":
            head(raw, dst, WIKI_SAMPLE)
        elif entry.path == "nli/nli_for_simcse_head72.csv":
            head(raw, dst, NLI_SAMPLE + 1)  # + header
        else:
            copy(raw, dst)


def scifact_member(z: zipfile.ZipFile, path: Path, rel: str) -> str:
    """The zip's ``scifact/<rel>`` (BEIR's zip holds one ``scifact/`` folder), or one ``Unavailable`` line."""
    found = [n for n in z.namelist() if n == f"scifact/{rel}" or n.endswith(f"/scifact/{rel}")]
    if not found:
        raise Unavailable(f"error: {path}: no scifact/{rel} in this zip (BEIR's scifact.zip holds it)")
    return min(found, key=len)


def unpack_scifact(path: Path, data_dir: Path) -> None:
    """BEIR's ``scifact.zip`` as ``scifact/``: every document as ``{"_id", "title", "text"}``; the claims judged in
    BEIR's train qrels; those qrels split into train and dev (the ``SCIFACT_DEV`` query ids of smallest SHA-256, a
    rule anyone can recompute). BEIR's test claims stay out: their qrels are SciFact's own test set."""
    with zipfile.ZipFile(path) as z:
        corpus = z.read(scifact_member(z, path, "corpus.jsonl")).decode("utf-8").splitlines()
        queries = z.read(scifact_member(z, path, "queries.jsonl")).decode("utf-8").splitlines()
        qrels = z.read(scifact_member(z, path, "qrels/train.tsv")).decode("utf-8").splitlines()
    header, judged = qrels[0], [line for line in qrels[1:] if line.strip()]
    ids = list(dict.fromkeys(line.split("\t")[0] for line in judged))
    dev = set(sorted(ids, key=lambda i: hashlib.sha256(i.encode()).hexdigest())[:SCIFACT_DEV])
    rows = (json.loads(line) for line in corpus if line.strip())
    documents = [{"_id": r["_id"], "title": r.get("title") or "", "text": r["text"]} for r in rows]
    train_claims = set(ids)
    claims = [{"_id": r["_id"], "text": r["text"]} for r in map(json.loads, filter(str.strip, queries))
              if r["_id"] in train_claims]
    root = data_dir / "scifact"
    write_lines(root / "corpus.jsonl", (json.dumps(d, ensure_ascii=False) for d in documents))
    write_lines(root / "queries.jsonl", (json.dumps(q, ensure_ascii=False) for q in claims))
    for split, keep in (("train", False), ("dev", True)):
        write_lines(root / "qrels" / f"{split}.tsv",
                    [header, *(line for line in judged if (line.split("\t")[0] in dev) == keep)])


def write_lines(dst: Path, lines: Iterable[str]) -> None:
    with atomic(dst) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(f"{line}\n" for line in lines)


# --- the Chinese STS suite (--chinese) ---------------------------------------------------------------------------

TEXT2VEC_NAMES = {"ATEC": "ATEC", "BQ": "BQ", "LCQMC": "LCQMC", "PAWSX": "PAWSX", "STSB": "STS-B"}  # C-MTEB -> text2vec
TEXT2VEC_SPLITS = ("train", "valid", "test")
SOHU_FILES = ("dd-test.jsonl", "dc-test.jsonl")


def chinese_missing(data_dir: Path) -> list[str]:
    """The C-MTEB set names whose test split is in neither layout under ``data_dir/chinese``."""
    root = data_dir / "chinese"
    return [name for name in CMTEB_SETS
            if not (root / TEXT2VEC_NAMES[name] / f"{TEXT2VEC_NAMES[name]}.test.data").exists()
            and not any((root / "C-MTEB" / name / "data").glob("test-*.parquet"))]


def chinese_from_dir(source_dir: Path, data_dir: Path, todo: list[str]) -> None:
    """Copy each set of ``todo`` from DIR (text2vec's .data files, else a C-MTEB folder), and SOHU's test sets."""
    local = LocalFiles(source_dir)
    lacking = []
    root = data_dir / "chinese"
    for name in todo:
        t2v = TEXT2VEC_NAMES[name]
        splits = {split: local.named(f"{t2v}.{split}.data") for split in TEXT2VEC_SPLITS}
        parquet = sorted(rel for rel in local.files if re.search(rf"(^|/){re.escape(name)}/data/[^/]+\.parquet$", rel))
        if splits["test"] is not None:
            for split, path in splits.items():
                if path is not None:
                    copy(path, root / t2v / f"{t2v}.{split}.data")
        elif parquet:
            for rel in parquet:
                copy(local.files[rel], root / "C-MTEB" / name / "data" / rel.rsplit("/", 1)[-1])
        else:
            lacking.append(name)
    if lacking:
        raise Unavailable(f"error: --from {source_dir}: not found there: {', '.join(lacking)} ({CMTEB_ORIGIN.local})")
    for filename in SOHU_FILES:
        path = local.named(filename)
        if path is not None and not (root / "SOHU" / filename).exists():
            copy(path, root / "SOHU" / filename)


def chinese_from_hub(data_dir: Path, todo: list[str], cache: Path) -> None:
    """``C-MTEB/<SET>``'s ``data/*.parquet`` for each set of ``todo``, into ``chinese/C-MTEB/<SET>/``."""
    def unavailable(why: str, names: list[str]) -> Unavailable:
        repos = ", ".join(f"C-MTEB/{n}" for n in names)
        return Unavailable(f"error: cannot fetch {repos} from the Hugging Face hub: {why}. Get them elsewhere and run "
                           f"`python scripts/download_data.py --data-dir {data_dir} --chinese --from DIR`, DIR holding: "
                           f"{CMTEB_ORIGIN.local}")

    why = hub.hub_unreachable()
    if why is not None:
        raise unavailable(why, todo)
    from huggingface_hub import snapshot_download

    print(f"fetching into {data_dir / 'chinese'} from the Hugging Face hub: {', '.join(f'C-MTEB/{n}' for n in todo)}",
          flush=True)
    for name in todo:
        dst = data_dir / "chinese" / "C-MTEB" / name
        tmp = dst.with_name(name + ".part")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            snapshot_download(repo_id=f"C-MTEB/{name}", repo_type="dataset", allow_patterns=["data/*.parquet"],
                              local_dir=str(tmp), cache_dir=str(cache))
            if not any((tmp / "data").glob("test-*.parquet")):
                raise FileNotFoundError(f"C-MTEB/{name} has no data/test-*.parquet (its layout changed?)")
        except Exception as e:  # noqa: BLE001 - a dropped connection, a refused proxy, a moved file: one line
            shutil.rmtree(tmp, ignore_errors=True)
            reason = " ".join(str(e).split())[:200] or type(e).__name__
            raise unavailable(f"{type(e).__name__}: {reason}", [name]) from None
        shutil.rmtree(tmp / ".cache", ignore_errors=True)  # huggingface_hub's bookkeeping of local_dir
        shutil.rmtree(dst, ignore_errors=True)
        os.replace(tmp, dst)
    print("SOHU-dd / SOHU-dc (sohu_dd, sohu_dc) are not on the hub: copy text2vec's examples/data/SOHU/*.jsonl to "
          f"{data_dir / 'chinese' / 'SOHU'} (or pass --from DIR holding them)")


def chinese(data_dir: Path, source_dir: Path | None) -> None:
    todo = chinese_missing(data_dir)
    if source_dir is not None:
        chinese_from_dir(source_dir, data_dir, todo)
    elif todo:
        chinese_from_hub(data_dir, todo, data_dir / ".cache")
    still = chinese_missing(data_dir)
    if still:
        raise Unavailable(f"error: still missing after download: {', '.join(still)} under {data_dir / 'chinese'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="the data root (default: $SIMCSE_DATA_DIR, else .data-root here, else ./data)")
    parser.add_argument("--full", action="store_true", help="also the full corpora, STS12-16 and SICK-R")
    parser.add_argument("--from", dest="source_dir", type=Path, help="folder with the raw files, downloaded elsewhere")
    parser.add_argument("--chinese", action="store_true",
                        help="also the Chinese STS suite (C-MTEB ATEC, BQ, LCQMC, PAWSX, STSB; research use only)")
    args = parser.parse_args(argv)
    root = data_root(args.data_dir)
    data_dir = Path(root.path)
    wanted = [e for e in DATA_FILES if e.group == QUICKSTART or (args.full and e.group == FULL)]
    todo = missing(data_dir, wanted)
    if args.chinese:
        try:
            chinese(data_dir, args.source_dir)
        except Unavailable as e:
            print(e, file=sys.stderr)
            return 2
    if not todo:
        print(f"data present in {root}: nothing {'more ' if args.chinese else ''}to download")
        return 0
    try:
        if args.source_dir is not None:
            from_dir(args.source_dir, data_dir, todo)
        else:
            from_hub(data_dir, todo, data_dir / ".cache")
    except Unavailable as e:
        print(e, file=sys.stderr)
        return 2
    still = missing(data_dir, wanted)
    if still:
        print(f"error: still missing after download: {', '.join(e.path for e in still)}", file=sys.stderr)
        return 1
    print(f"data ready in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
