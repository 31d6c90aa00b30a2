"""``mkdocs build --strict`` (what ``make docs`` runs) succeeds with no warning, its generated pages hold what the
code declares, and no built page loads a script, stylesheet or font from another host: the site builds and reads
offline."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reference_hook import load

REPO = Path(__file__).resolve().parents[3]
EXTERNAL = re.compile(r"""<(?:script|link|img)\b[^>]*\b(?:src|href)=["'](?:https?:)?//""", re.I)
FONT_URL = re.compile(r"""@import\s+url\(["']?(?:https?:)?//|url\(["']?(?:https?:)?//[^)]*\.(?:woff2?|ttf|otf)""", re.I)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return out, done.stderr


def test_the_strict_build_has_no_warning(site):
    _, log = site
    assert not [line for line in log.splitlines() if line.startswith(("WARNING", "ERROR"))]


def test_every_page_of_the_nav_is_built(site):
    out, _ = site
    nav = re.findall(r":\s*([\w/-]+)\.md\s*$", (REPO / "mkdocs.yml").read_text(), re.M)
    assert nav and all((out / page / "index.html").is_file() or page == "index" for page in nav)
    assert (out / "index.html").is_file()


def test_no_page_loads_anything_from_another_host(site):
    out, _ = site
    pages = [p for p in out.rglob("*.html")]
    assert pages
    for page in pages:
        found = EXTERNAL.search(page.read_text(encoding="utf-8"))
        assert not found, f"{page.relative_to(out)}: {found.group(0)}"
    for sheet in out.rglob("*.css"):
        found = FONT_URL.search(sheet.read_text(encoding="utf-8"))
        assert not found, f"{sheet.relative_to(out)}: {found.group(0)}"


def test_the_built_reference_holds_each_schema_key_and_console_script(site):
    out, _ = site
    hook = load()
    config_page = (out / "reference" / "config" / "index.html").read_text(encoding="utf-8")
    assert all(f"<code>{key.key}</code>" in config_page for key in hook.schema_keys())
    cli_page = (out / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    assert all(f"usage: {name}" in cli_page or name == "simcse-train" for name in hook.console_scripts())
    api_page = (out / "reference" / "python-api" / "index.html").read_text(encoding="utf-8")
    assert "from_pretrained" in api_page and "InfoNCE" in api_page
