"""The built book, opened in headless Chromium: every chapter renders its figures and tables, and
shows no Python traceback or unrendered MyST; a screenshot of each is kept under
book/_build/screenshots/.

Needs the book built (`make book`, which `make test` runs first) and a Chromium (Debian package
`chromium`); without a browser the test is skipped with a message, except in CI (CI=true), where
a missing browser or book is a failure.
"""

import os
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "book" / "_build" / "html"
SHOTS = ROOT / "book" / "_build" / "screenshots"
CI = os.environ.get("CI", "").lower() == "true"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-dev-shm-usage", "--hide-scrollbars"]


def browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("parts"))
    walk(toc.get("chapters"))
    return files


CHAPTERS = [f for f in toc_files() if re.match(r"book/[^/]+/", f)]  # executed chapters
PAGES = toc_files()


def need_book_and_browser() -> str:
    exe = browser()
    if exe is None:
        msg = "no Chromium installed (apt-get install chromium): browser checks skipped"
        if CI:
            pytest.fail(msg)
        pytest.skip(msg)
    if not (HTML / "index.html").exists():
        msg = "book not built: run `make book` (make test does) before this test"
        if CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return exe


def run_browser(exe: str, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    """One browser process with its own throw-away profile (a shared profile makes a second
    Chromium hand its work to the first and exit without output)."""
    with tempfile.TemporaryDirectory(prefix="micromet-chromium-") as profile:
        return subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout)


class Page(HTMLParser):
    """What the checks need from a rendered page: images, tables, text, classes."""

    def __init__(self):
        super().__init__()
        self.images, self.tables, self.classes, self.text = [], 0, [], []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a.get("src", ""))
        if tag == "table":
            self.tables += 1
        if a.get("class"):
            self.classes.extend(a["class"].split())
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def dom_of(exe: str, page: Path) -> str:
    done = run_browser(exe, "--virtual-time-budget=5000", "--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    assert "<html" in done.stdout, f"no DOM for {page}: {done.stderr[-500:]}"
    return done.stdout


def page_path(doc: str) -> Path:
    return HTML / f"{doc}.html"


@pytest.mark.parametrize("doc", PAGES)
def test_page_renders_in_a_browser(doc):
    exe = need_book_and_browser()
    page = page_path(doc)
    assert page.exists(), f"{doc} was not built"
    dom = dom_of(exe, page)
    parsed = Page()
    parsed.feed(dom)
    text = " ".join(parsed.text)
    assert "Traceback (most recent call last)" not in text, f"{doc} shows a Python traceback"
    raised = re.search(r"\b[A-Z]\w*(Error|Exception): ", text)
    assert raised is None, f"{doc} shows a Python exception: {raised and raised.group(0)}"
    assert "output traceback" not in dom and "ansi-red-fg" not in dom, f"{doc}: error output"
    for raw in ("{glue:", "{admonition}", "```{", "{doc}`"):
        assert raw not in text, f"{doc} shows unrendered MyST: {raw}"
    for src in parsed.images:
        if src.startswith(("http:", "https:", "data:")):
            continue
        target = (page.parent / src.split("#")[0].split("?")[0]).resolve()
        assert target.exists() and target.stat().st_size > 0, f"{doc}: missing image {src}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / (doc.replace("/", "__") + ".png")
    if shot.exists():
        shot.unlink()
    done = run_browser(exe, f"--screenshot={shot}", "--window-size=1280,2400",
                       "--virtual-time-budget=5000", page.as_uri())
    assert shot.exists() and shot.stat().st_size > 5000, f"no screenshot of {doc}: {done.stderr[-500:]}"


@pytest.mark.parametrize("doc", CHAPTERS)
def test_chapter_has_figures_tables_and_the_data_notice(doc):
    exe = need_book_and_browser()
    dom = dom_of(exe, page_path(doc))
    parsed = Page()
    parsed.feed(dom)
    text = " ".join(parsed.text)
    assert parsed.tables >= 1, f"{doc}: no rendered table"
    assert "dataframe" in " ".join(parsed.classes) or parsed.tables >= 2, f"{doc}: tables?"
    # a DataFrame shown as plain text instead of HTML is an unrendered table
    assert not re.search(r"\[\d+ rows x \d+ columns\]", text), f"{doc}: table shown as text"
    if not doc.endswith("05_validation"):
        assert any(src.endswith(".png") for src in parsed.images), f"{doc}: no figure"
    assert "Synthetic data" in text or "Registry data" in text, f"{doc}: no data notice"
