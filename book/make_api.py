"""Write book/api.md: the public functions and classes of micromet, with signatures and the first
paragraph of their docstrings. Run: ``python book/make_api.py`` (tests/test_book_api.py checks the
page is current)."""

import importlib
import inspect
import re
import sys
from pathlib import Path, PurePath

ROOT = Path(__file__).resolve().parent.parent

MODULES = [
    ("Reading data", ["seer", "series"]),
    ("Synthetic data", ["synth", "synth_series"]),
    ("Cohort and descriptive tables", ["cohort", "describe"]),
    ("Propensity-score matching", ["matching"]),
    ("Survival", ["survival", "separation", "firth", "power"]),
    ("Competing risks", ["competing"]),
    ("How robust is the answer", ["weighting", "bootstrap", "evalue"]),
    ("Figures", ["plots_style", "plots_flow", "plots_balance", "plots_survival",
                 "plots_competing", "plots_forest"]),
    ("Models' shared design matrix", ["design"]),
    ("Studies and runs", ["study", "studyfile", "run", "outputs", "kernels", "cli", "files",
                          "reproducibility"]),
    ("Sources, store and report", ["sources", "store", "report", "formatting", "governance",
                                   "analyses", "paper", "agreement"]),
    ("The chapters", ["chapters.cohort", "chapters.matching", "chapters.time_to_event",
                      "chapters.competing_risks", "chapters.validation"]),
    ("Errors", ["errors"]),
]


def first_paragraph(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    text = " ".join(doc.split("\n\n")[0].split())
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text)  # RST roles -> code
    return re.sub(r"``([^`]+)``", r"`\1`", text)


def symbolic_path(path: PurePath) -> str:
    """A path as the page shows it: ``<repository>/...`` inside the repository, ``~/...`` in the
    home folder, a relative path as it is, any other absolute path ``<path>``: never a machine's
    own folders."""
    path = Path(path)
    if not path.is_absolute():
        return path.as_posix()
    for base, name in ((ROOT, "<repository>"), (Path.home(), "~")):
        try:
            rel = path.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            continue
        return name + ("" if rel == "." else f"/{rel}")
    return "<path>"


def render_default(value) -> str:
    """A parameter's default value as the page shows it (no machine paths, see symbolic_path)."""
    if inspect.isclass(value):
        return value.__name__
    if isinstance(value, PurePath):
        return symbolic_path(value)
    if isinstance(value, str) and (value.startswith("/") or re.match(r"[A-Za-z]:[\\/]", value)):
        return symbolic_path(Path(value))
    text = repr(value)
    if "factory" in text:
        return "<factory>"
    # a path inside a container (a tuple of paths, a dataclass instance): shown the same way
    text = re.sub(r"\b(?:Pure)?(?:Posix|Windows)?Path\('([^']*)'\)",
                  lambda m: symbolic_path(Path(m.group(1))), text)
    for base, name in ((str(ROOT), "<repository>"), (str(Path.home()), "~")):
        if len(base) > 1:
            text = text.replace(base, name)
    return text


def signature(obj) -> str:
    sig = inspect.signature(obj)
    parts, star_done = [], False
    for p in sig.parameters.values():
        if p.kind is p.KEYWORD_ONLY and not star_done:
            parts.append("*")
            star_done = True
        if p.kind is p.VAR_POSITIONAL:
            star_done = True
        text = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "") + p.name
        if p.annotation is not p.empty:
            ann = p.annotation if isinstance(p.annotation, str) else inspect.formatannotation(
                p.annotation)
            text += f": {ann}"
        if p.default is not p.empty:
            text += f" = {render_default(p.default)}"
        parts.append(text)
    out = "(" + ", ".join(parts) + ")"
    if len(out) > 80:
        out = "(\n" + "".join(f"    {p},\n" for p in parts) + ")"
    if sig.return_annotation is not sig.empty:
        ret = sig.return_annotation
        out += " -> " + (ret if isinstance(ret, str) else inspect.formatannotation(ret))
    return out


def public(module):
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, o in vars(module).items() if not n.startswith("_")
                 and (inspect.isfunction(o) or inspect.isclass(o))
                 and getattr(o, "__module__", None) == module.__name__]
    return [(n, getattr(module, n)) for n in names
            if inspect.isfunction(getattr(module, n)) or inspect.isclass(getattr(module, n))]


def render() -> str:
    out = ["# API", "",
           "The public functions of the `micromet` package, by concern. Every function takes a "
           "DataFrame and column names and returns a DataFrame or a small result object; each "
           "docstring names the R function it agrees with. Bad input raises "
           "`micromet.errors.InputError` naming the file, column, row and value.", ""]
    for title, mods in MODULES:
        out += [f"## {title}", ""]
        for name in mods:
            module = importlib.import_module(f"micromet.{name}")
            out += [f"### `micromet.{name}`", "", first_paragraph(module), ""]
            for fname, obj in public(module):
                try:
                    sig = signature(obj)
                except (TypeError, ValueError):
                    sig = "(...)"
                kind = "class " if inspect.isclass(obj) else ""
                out += ["```python", f"{kind}{name}.{fname}{sig}", "```", "",
                        first_paragraph(obj) or "(no docstring)", ""]
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    (Path(__file__).resolve().parent / "api.md").write_text(render(), encoding="utf-8")
