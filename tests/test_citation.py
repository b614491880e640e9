"""CITATION.cff says what pyproject.toml says (title, version, license) in Citation File Format
1.2.0, and the book's how-to-cite page gives the same version."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_citation_file_agrees_with_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0"
    assert cff["title"] == "micromet" == project["name"]
    assert cff["authors"] == [{"name": "micromet contributors"}]
    assert cff["version"] == project["version"]
    assert cff.get("license") == project.get("license")
    preferred = cff["preferred-citation"]
    assert preferred["type"] == "software"
    assert preferred["version"] == project["version"]
    assert ("repository-code" in cff) == bool(project.get("urls"))
    page = (ROOT / "book" / "how_to_cite.md").read_text(encoding="utf-8")
    assert f"version {project['version']}" in page and f"version = {{{project['version']}}}" in page
