"""Dependencies are one list and honest: pyproject.toml declares them, requirements.txt is generated
from it, requirements.lock pins every one of them with hashes, and every test or dev tool declared
is used. (That micromet's own imports and its runtime dependencies match is deptry's job:
`make deps`, part of `make test`.)"""

import ast
import re
import tomllib
from pathlib import Path

import _requirements
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"


def pinned() -> dict[str, list[Version]]:
    """{name: versions pinned} from requirements.lock (a name may be pinned per Python version)."""
    out: dict[str, list[Version]] = {}
    for match in re.finditer(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", LOCK.read_text(), re.M):
        out.setdefault(canonicalize_name(match[1]), []).append(Version(match[2]))
    return out


def test_requirements_txt_is_generated_from_pyproject():
    assert _requirements.main([]) == 0, "requirements.txt is out of date: run `make lock`"


def test_every_declared_requirement_is_pinned_in_the_lock_within_its_bounds():
    versions = pinned()
    for group, requirements in _requirements.declared().items():
        for text in requirements:
            req = Requirement(text)
            found = versions.get(canonicalize_name(req.name))
            assert found, f"{req.name} ({group}) is not in requirements.lock: run `make lock`"
            for version in found:
                assert version in req.specifier, f"{req.name}=={version} outside {req.specifier}"


def test_every_pin_of_the_lock_carries_hashes():
    blocks = re.split(r"\n(?=[A-Za-z0-9_.\-]+==)", LOCK.read_text())
    pins = [b for b in blocks if re.match(r"[A-Za-z0-9_.\-]+==", b)]
    assert len(pins) > 50
    for block in pins:
        assert "--hash=sha256:" in block, block.splitlines()[0]


def test_the_readme_commands_install_from_the_lock_with_hashes():
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install -q --require-hashes -r $(LOCK)" in makefile
    assert "LOCK := requirements.lock" in makefile
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith("make test")


def imported_modules(folder: Path) -> set[str]:
    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return names


def test_every_test_and_dev_tool_declared_is_used():
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    imported = imported_modules(ROOT / "tests") | imported_modules(ROOT / "benchmarks")
    makefile = (ROOT / "Makefile").read_text()
    for name in [Requirement(r).name for r in groups["test"] + groups["dev"]]:
        used = (name.replace("-", "_") in imported
                or re.search(rf"\$\(BIN\)/{name}\b|--{name}-", makefile)
                or f"-m {name} " in makefile)
        assert used, f"{name} is declared but neither imported by the tests nor run by make"


def test_statsmodels_is_gone_and_nbconvert_is_not_declared():
    declared = {canonicalize_name(Requirement(r).name)
                for reqs in _requirements.declared().values() for r in reqs}
    assert "statsmodels" not in declared and "nbconvert" not in declared
    assert {"myst-nb", "lifelines", "seaborn", "jupyter-book", "nbval", "papermill",
            "pandas"} <= declared
