"""One data root rule for every tool (simcse_pl/data_root.py): the tool's option, then SIMCSE_DATA_DIR, then the
``.data-root`` that ``make`` wrote here, then ./data; and a missing file of the root says which one it came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from simcse_pl.config import resolved_data_root
from simcse_pl.data.downloads import missing_hint
from simcse_pl.data.files import check_file
from simcse_pl.data_root import data_root
from simcse_pl.errors import DataError


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SIMCSE_DATA_DIR", raising=False)
    return tmp_path


def test_the_option_then_the_variable_then_the_marker_then_data(here: Path, monkeypatch: pytest.MonkeyPatch):
    assert (data_root().path, data_root().source) == ("./data", "default")
    (here / ".data-root").write_text("/srv/made\n")
    assert (data_root().path, data_root().source) == ("/srv/made", "file")
    monkeypatch.setenv("SIMCSE_DATA_DIR", "/srv/env")
    assert (data_root().path, data_root().source) == ("/srv/env", "environment")
    assert (data_root("/srv/given").path, data_root("/srv/given").source) == ("/srv/given", "option")


def test_train_py_resolves_by_the_same_rule(here: Path, monkeypatch: pytest.MonkeyPatch):
    (here / ".data-root").write_text("/srv/made\n")
    assert resolved_data_root() == "/srv/made"
    monkeypatch.setenv("SIMCSE_DATA_DIR", "/srv/env")
    assert resolved_data_root() == "/srv/env"


def test_an_empty_marker_or_variable_is_not_a_root(here: Path, monkeypatch: pytest.MonkeyPatch):
    (here / ".data-root").write_text("\n")
    monkeypatch.setenv("SIMCSE_DATA_DIR", "")
    assert data_root().path == "./data"


@pytest.mark.parametrize("source, says", [
    ("option", "(--data-dir). Point --data-dir at your data root"),
    ("environment", "(--data-dir not given: data root from SIMCSE_DATA_DIR). Point --data-dir or SIMCSE_DATA_DIR at"),
    ("file", "(--data-dir not given: data root from {here}/.data-root). Point --data-dir or SIMCSE_DATA_DIR at"),
    ("default", "(--data-dir not given: default data root ./data (no SIMCSE_DATA_DIR or .data-root here))"),
])
def test_a_missing_file_says_where_the_root_came_from(here: Path, monkeypatch: pytest.MonkeyPatch, source: str,
                                                      says: str):
    given = None
    if source == "option":
        given = "elsewhere"
    elif source == "environment":
        monkeypatch.setenv("SIMCSE_DATA_DIR", "elsewhere")
    elif source == "file":
        (here / ".data-root").write_text("elsewhere\n")
    root = data_root(given)
    with pytest.raises(DataError) as error:
        check_file(f"{root.path}/stsb/sts-test.csv", root.key)
    assert says.format(here=here) in str(error.value)
    assert "`make data`" in str(error.value)


def test_train_py_errors_name_the_configured_roots_origin(here: Path):
    (here / ".data-root").write_text(f"{here}/made\n")
    hint = missing_hint(f"{here}/made/wiki/wiki1m_head11914.txt", "data.source.path")
    assert f"Point paths.data_dir / SIMCSE_DATA_DIR at your data root (this one, {here}/made, is from " \
           f"{here}/.data-root)" in hint
    # a path set elsewhere (paths.data_dir=... on the command line) is not said to come from the marker
    assert "is from" not in missing_hint(f"{here}/other/wiki/wiki1m_head11914.txt", "data.source.path")
