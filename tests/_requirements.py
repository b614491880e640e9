"""requirements.txt is generated from pyproject.toml, the single list of dependencies.

    python tests/_requirements.py --write    # `make lock` runs it, then compiles requirements.lock

The file lists micromet's dependencies and every optional group (book, test, dev), each with the
bounds declared in pyproject.toml; tests/test_dependencies.py checks that it is up to date.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
REQUIREMENTS = ROOT / "requirements.txt"


def declared() -> dict[str, list[str]]:
    """{"micromet": runtime requirements, "<extra>": its requirements} from pyproject.toml."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    groups = {"micromet": list(project["dependencies"])}
    groups.update(project.get("optional-dependencies", {}))
    return groups


def render() -> str:
    lines = ["# Generated from pyproject.toml by `python tests/_requirements.py --write` (`make lock`);",
             "# do not edit. Bounded, tested versions; requirements.lock pins them with hashes."]
    for group, requirements in declared().items():
        lines.append(f"# {group}" if group == "micromet" else f"# [{group}]")
        lines.extend(requirements)
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if argv == ["--write"]:
        REQUIREMENTS.write_text(render(), encoding="utf-8")
        return 0
    if REQUIREMENTS.read_text(encoding="utf-8") != render():
        print("requirements.txt is out of date: run `make lock`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
