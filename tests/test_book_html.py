"""The built book, opened in headless Chromium: every chapter renders its figures and tables, and
shows no Python traceback, unrendered MyST or machine path; no page logs an error to the browser
console (an uncaught exception, a `console.error`, a resource that fails to load); a screenshot of
each is kept under book/_build/screenshots/.

Needs the book built (`make book`, which `make test` runs first) and a Chromium (Debian package
`chromium`); without a browser the test is skipped with a message, except in CI (CI=true), where
a missing browser or book is a failure.
"""

import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
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


def open_page(exe: str, page: Path, *, width: int | None = None, expression: str | None = None,
              settle: float = 2.0, timeout: float = 60.0) -> tuple[list[str], object]:
    """Open ``page`` in a fresh headless Chromium driven through the DevTools protocol over a pipe
    (``--remote-debugging-pipe``: JSON messages ending in NUL on file descriptors 3 and 4, no
    network port and no client library). Returns what the page logged as an error (uncaught
    exceptions, ``Runtime.exceptionThrown``; ``console.error``/``console.assert`` calls; browser
    log entries of level error, e.g. a script or stylesheet that fails to load) and the value of
    ``expression`` evaluated in the loaded page. ``width`` emulates a phone's screen of that many
    CSS pixels."""
    to_browser_r, to_browser_w = os.pipe()
    from_browser_r, from_browser_w = os.pipe()

    def child_fds():  # the protocol's fixed descriptors: the browser reads 3, writes 4
        read, write = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser_r, from_browser_w))
        os.dup2(read, 3)  # dup2 makes them inheritable; pass_fds keeps 3 and 4 open
        os.dup2(write, 4)

    errors: list[str] = []
    value = None
    with tempfile.TemporaryDirectory(prefix="micromet-chromium-") as profile:
        proc = subprocess.Popen([exe, *FLAGS, f"--user-data-dir={profile}",
                                 "--remote-debugging-pipe", "about:blank"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, preexec_fn=child_fds,
                                pass_fds=(3, 4))
        os.close(to_browser_r)
        os.close(from_browser_w)
        buffer, ids, deadline = b"", iter(range(1, 10**6)), time.monotonic() + timeout

        def send(method, params=None, session=None) -> int:
            msg = {"id": next(ids), "method": method, "params": params or {}}
            if session:
                msg["sessionId"] = session
            os.write(to_browser_w, json.dumps(msg).encode() + b"\0")
            return msg["id"]

        def receive(until: float):
            nonlocal buffer
            while time.monotonic() < until:
                if b"\0" in buffer:
                    raw, buffer = buffer.split(b"\0", 1)
                    yield json.loads(raw)
                    continue
                ready, _, _ = select.select([from_browser_r], [], [], until - time.monotonic())
                if not ready:
                    return
                chunk = os.read(from_browser_r, 1 << 16)
                if not chunk:
                    return
                buffer += chunk

        def reply(msg_id: int) -> dict:
            for msg in receive(deadline):
                collect(msg)
                if msg.get("id") == msg_id:
                    assert "error" not in msg, f"DevTools: {msg['error']}"
                    return msg.get("result", {})
            raise AssertionError(f"no DevTools reply from Chromium for {page}")

        loaded = False

        def collect(msg: dict) -> None:
            nonlocal loaded
            method, params = msg.get("method"), msg.get("params", {})
            if method == "Runtime.exceptionThrown":
                d = params["exceptionDetails"]
                text = d.get("exception", {}).get("description") or d.get("text", "")
                errors.append(f"uncaught: {text.splitlines()[0] if text else d} "
                              f"({d.get('url', '')}:{d.get('lineNumber', '?')})")
            elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                args = " ".join(str(a.get("value", a.get("description", "")))
                                for a in params.get("args", []))
                errors.append(f"console.{params['type']}: {args}")
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                entry = params["entry"]
                errors.append(f"log: {entry['text']} {entry.get('url', '')}".rstrip())
            elif method == "Page.loadEventFired":
                loaded = True

        try:
            target = reply(send("Target.createTarget", {"url": "about:blank"}))["targetId"]
            session = reply(send("Target.attachToTarget",
                                 {"targetId": target, "flatten": True}))["sessionId"]
            for domain in ("Runtime.enable", "Log.enable", "Page.enable"):
                reply(send(domain, session=session))
            if width:
                reply(send("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": 900, "deviceScaleFactor": 1,
                            "mobile": True}, session=session))
            reply(send("Page.navigate", {"url": page.as_uri()}, session=session))
            for msg in receive(deadline):
                collect(msg)
                if loaded:
                    break
            assert loaded, f"{page} did not finish loading in {timeout:.0f} s"
            for msg in receive(time.monotonic() + settle):  # async scripts, deferred errors
                collect(msg)
            if expression:
                result = reply(send("Runtime.evaluate", {"expression": expression,
                                                         "returnByValue": True}, session=session))
                assert "exceptionDetails" not in result, result["exceptionDetails"]
                value = result["result"].get("value")
            send("Browser.close")
        finally:
            os.close(to_browser_w)
            os.close(from_browser_r)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return errors, value


class Page(HTMLParser):
    """What the checks need from a rendered page: images, tables, text, classes."""

    VOID = {"img", "br", "hr", "meta", "link", "input", "source", "col", "wbr", "area", "base"}

    def __init__(self):
        super().__init__()
        self.images, self.tables, self.classes, self.text = [], 0, [], []
        self.alts, self.captions, self.visible_inputs = [], 0, 0
        self._skip = 0
        self._open: list[str] = []  # the open elements, to know what a cell input sits in

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "img":
            self.images.append(a.get("src", ""))
            self.alts.append(a.get("alt") or "")
        if tag == "table":
            self.tables += 1
        if "caption-number" in classes:
            self.captions += 1
        if "cell_input" in classes and "details" not in self._open:
            self.visible_inputs += 1  # code shown without a "show code" toggle
        if classes:
            self.classes.extend(classes)
        if tag in ("script", "style"):
            self._skip += 1
        if tag not in self.VOID:
            self._open.append(tag)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1
        if tag in self._open:  # close it and whatever was left open inside it
            while self._open and self._open.pop() != tag:
                pass

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
    for machine in (str(ROOT), "PosixPath(", "WindowsPath("):
        assert machine not in text, f"{doc} shows a machine path: {machine}"
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


@pytest.mark.parametrize("doc", PAGES)
def test_page_logs_no_console_error(doc):
    exe = need_book_and_browser()
    page = page_path(doc)
    assert page.exists(), f"{doc} was not built"
    errors, _ = open_page(exe, page)
    assert not errors, f"{doc} logs errors in the browser console:\n" + "\n".join(errors)


#: Run in a page shown on a 420-pixel phone screen: what is wider than the screen and does not
#: scroll inside a box of its own, and whether the wide tables' boxes carry the scroll cue.
ON_A_PHONE = """(() => {
  const width = document.documentElement.clientWidth, out = {width: width, too_wide: [], no_cue: []};
  const name = el => el.tagName.toLowerCase() + (el.className ? "." + String(el.className).split(" ")[0] : "");
  for (const img of document.querySelectorAll("article img")) {
    const r = img.getBoundingClientRect();
    if (r.width > width + 1) out.too_wide.push("img " + img.getAttribute("src") + " " + r.width);
  }
  for (const table of document.querySelectorAll("article table")) {
    const box = table.closest("div.output, .pst-scrollable-table-container");
    if (!box) { if (table.getBoundingClientRect().width > width + 1) out.too_wide.push(name(table)); continue; }
    const style = getComputedStyle(box);
    if (box.getBoundingClientRect().width > width + 1) out.too_wide.push(name(box));
    if (box.scrollWidth > box.clientWidth + 1 &&
        !(["auto", "scroll"].includes(style.overflowX) && style.backgroundImage.includes("radial-gradient")))
      out.no_cue.push(name(box) + " " + style.overflowX);
  }
  out.page_scrolls_sideways = document.scrollingElement.scrollWidth > width + 1;
  return out;
})()"""


@pytest.mark.parametrize("doc", PAGES)
def test_page_fits_a_phone(doc):
    """At 420 CSS pixels (book/_static/micromet.css): figures fit the screen, a wide table scrolls
    sideways inside its own box with a shadow at the edge as the cue, the page itself does not."""
    exe = need_book_and_browser()
    errors, found = open_page(exe, page_path(doc), width=420, expression=ON_A_PHONE)
    assert not errors, f"{doc} on a phone logs errors:\n" + "\n".join(errors)
    assert found["width"] <= 420, found
    assert not found["too_wide"], f"{doc}: wider than a 420-px screen: {found['too_wide']}"
    assert not found["no_cue"], f"{doc}: a wide table scrolls without the cue: {found['no_cue']}"
    assert not found["page_scrolls_sideways"], f"{doc}: the page scrolls sideways on a phone"


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
    # pandas cuts a long table to 10 rows and says so under it ("80 rows × 8 columns"): every
    # table of the book is shown whole
    assert not re.search(r"\d+ rows [x\u00d7] \d+ columns", text), f"{doc}: a table is cut"
    if not doc.endswith("05_validation"):
        assert any(src.endswith(".png") for src in parsed.images), f"{doc}: no figure"
    figures = [alt for src, alt in zip(parsed.images, parsed.alts) if "_images/" in src]
    assert all(alt and not alt.endswith((".png", ".svg")) for alt in figures), \
        f"{doc}: a figure without alt text: {figures}"
    assert parsed.captions >= len(figures), f"{doc}: a figure without a numbered caption"
    assert parsed.visible_inputs == 0, f"{doc}: code shown without a toggle"
    # p values in one style: 3 decimals or <0.001, never "p = <0.001" or 7.4e-06
    assert not re.search(r"\bp\s*=\s*<", text), f"{doc}: 'p = <'"
    assert not re.search(r"\bp\s*[=<]\s*\d(\.\d+)?e-\d", text), f"{doc}: p in e-notation"
    assert "Synthetic data" in text or "Registry data" in text, f"{doc}: no data notice"
