"""Bad input, end to end through the `micromet` command: a SEER*Stat export, a study file and
`--set` overrides, each broken in one way (the `--out` and signal cases are in
test_output_safety.py). Every case must

* exit with status 2 and print one error line, with no traceback;
* name what is wrong and where (file, YAML key or column, 1-based row, value), and never a
  Patient ID or a raw record;
* leave an earlier output in the output folder exactly as it was, and nothing else behind.
"""

from __future__ import annotations

import csv
import gzip
import io
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from micromet import synth
from micromet.cli import main
from micromet.outputs import write_marker

STUDY_A = ROOT / "studies" / "seer_m0i.yml"
EXPORT_NAME = "cases.csv"


# ---- inputs ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_export(tmp_path_factory) -> Path:
    """A small real-looking export (1% of the synthetic extract), treated as real data."""
    cache = tmp_path_factory.mktemp("cache")
    return synth.synthetic_extract(20251, None, cache, scale=0.01)


def read_rows(path: Path) -> list[list[str]]:
    text = path.read_bytes().decode("utf-8")
    return [next(csv.reader([line])) for line in text.split("\r\n") if line]


def write_rows(path: Path, rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode("utf-8"))


def set_field(column: str, value: str, row: int = 5):
    """Edit: data row ``row`` (1-based) gets ``value`` in ``column``."""
    def edit(rows):
        rows[row][rows[0].index(column)] = value
    return edit


@dataclass
class Case:
    id: str
    expect: list[str]  # substrings the message must hold
    edit: object = None  # export edit: rows -> None (in place), or "raw" bytes function
    raw: object = None  # bytes -> bytes, on the export file
    study: object = None  # dict -> None, on the study file's mapping
    study_text: object = None  # str -> str, on the study file's text
    args: list[str] = field(default_factory=list)
    data: object = "export"  # "export", None (synthetic source), or a function(tmp) -> path


# ---- the cases ---------------------------------------------------------------------------------

SURV, AGE, SEX, VITAL = ("Survival months", "Age recode with single ages and 90+", "Sex",
                         "Vital status recode (study cutoff used)")
CS = "SEER cause-specific death classification"


def drop_column(name):
    def edit(rows):
        i = rows[0].index(name)
        for r in rows:
            del r[i]
    return edit


def repeat_row(rows):
    rows.append(list(rows[7]))


def extra_field(rows):
    rows[9].append("extra")


def missing_field(rows):
    rows[9].pop()


def contradict(rows):
    head = rows[0]
    rows[4][head.index(VITAL)] = "Alive"
    rows[4][head.index(CS)] = "Dead (attributable to this cancer dx)"


EXPORT_CASES = [
    Case("sex label", [EXPORT_NAME, "'Sex'", "row 5", "'Unknown sex label'"],
         edit=set_field(SEX, "Unknown sex label")),
    Case("age 150 years", [EXPORT_NAME, AGE, "row 5", "'150 years'"],
         edit=set_field(AGE, "150 years")),
    Case("age 85+", [EXPORT_NAME, AGE, "row 3", "'85+ years'"],
         edit=set_field(AGE, "85+ years", row=3)),
    Case("survival 99999", [EXPORT_NAME, SURV, "row 5", "'99999'", "follow"],
         edit=set_field(SURV, "99999")),
    Case("survival beyond one year's follow-up", [EXPORT_NAME, SURV, "row 6", "'70'"],
         edit=set_field(SURV, "70", row=6)),
    Case("survival text", [EXPORT_NAME, SURV, "row 5", "'abc'"], edit=set_field(SURV, "abc")),
    Case("survival negative", [EXPORT_NAME, SURV, "row 5", "'-5'"], edit=set_field(SURV, "-5")),
    Case("year", [EXPORT_NAME, "Year of diagnosis", "row 5", "'20x8'"],
         edit=set_field("Year of diagnosis", "20x8")),
    Case("vital", [EXPORT_NAME, VITAL, "row 5", "'Maybe'"], edit=set_field(VITAL, "Maybe")),
    Case("alive but dead of cancer", [EXPORT_NAME, CS, "row 4", "contradict"], edit=contradict),
    Case("histology", [EXPORT_NAME, "Histologic Type ICD-O-3", "row 5", "'ABCD'"],
         edit=set_field("Histologic Type ICD-O-3", "ABCD")),
    Case("tumour size", [EXPORT_NAME, "Tumor Size Summary (2016+)", "row 5", "'xyz'"],
         edit=set_field("Tumor Size Summary (2016+)", "xyz")),
    Case("ER label", [EXPORT_NAME, "ER Status", "row 5", "'Maybe'"],
         edit=set_field("ER Status Recode Breast Cancer (1990+)", "Maybe")),
    Case("M stage", [EXPORT_NAME, "Derived EOD 2018 M", "row 5", "'M9'"],
         edit=set_field("Derived EOD 2018 M Recode (2018+)", "M9")),
    Case("repeated record", [EXPORT_NAME, "row ", "repeat"], edit=repeat_row),
    Case("a field too many", [EXPORT_NAME, "row 9", "fields"],
         edit=extra_field),
    Case("a field too few", [EXPORT_NAME, "row 9", "fields"], edit=missing_field),
    Case("survival column missing", [EXPORT_NAME, SURV], edit=drop_column(SURV)),
    Case("empty file", [EXPORT_NAME, "empty"], raw=lambda b: b""),
    Case("header only", [EXPORT_NAME, "no data"], raw=lambda b: b.split(b"\r\n")[0] + b"\r\n"),
    Case("corrupt gzip", [EXPORT_NAME, "cannot be read"],
         raw=lambda b: b"\x1f\x8b\x08\x00garbage that is not deflate data" * 4),
    Case("truncated gzip", [EXPORT_NAME, "cannot be read"],
         raw=lambda b: gzip.compress(b)[: len(gzip.compress(b)) // 2]),
    Case("not text", [EXPORT_NAME], raw=lambda b: bytes(range(256)) * 40),
    Case("cohort emptied by the years", ["cohort", "empty"],
         args=["--set", "cohort.years=[2030, 2031]", "--set", "cohort.followup_until=2035"]),
    Case("a folder as --data", ["is a folder"], data=lambda tmp: tmp),
    Case("no such --data", ["not found", "nothing.csv"], data=lambda tmp: tmp / "nothing.csv"),
]


def top(key, value):
    def edit(mapping):
        mapping[key] = value
    return edit


def nested(path, value):
    def edit(mapping):
        node = mapping
        for part in path[:-1]:
            node = node[part]
        if value is DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value
    return edit


DELETE = object()

STUDY_CASES = [
    Case("unknown top-level key", ["seer_m0i.yml", "'colour'"], study=top("colour", "blue")),
    Case("unknown nested key", ["'matching.calipr'"], study=nested(["matching", "calipr"], 0.1)),
    Case("ratio as text", ["'matching.ratio'", "integer"],
         study=nested(["matching", "ratio"], "two")),
    Case("duplicate key", ["'seed'", "twice"],
         study_text=lambda t: t.replace("\nseed:", "\nseed: 1\nseed:", 1)),
    Case("invalid YAML", ["not valid YAML"], study_text=lambda t: t + "\n  - : [unclosed\n"),
    Case("a list, not a mapping", ["mapping"], study_text=lambda t: "- 1\n- 2\n"),
    Case("exposure missing", ["'exposure'", "missing"], study=nested(["exposure"], DELETE)),
    Case("exposed not a level", ["'exposure.exposed'", "'M1'"],
         study=nested(["exposure", "exposed"], "M1")),
    Case("reference not a level", ["'exposure.reference'", "'M2'"],
         study=nested(["exposure", "reference"], "M2")),
    Case("exposed is the reference", ["'exposure.exposed'", "differ"],
         study=nested(["exposure", "exposed"], "M0")),
    Case("negative horizon", ["'models.horizon_months[0]'", "-12"],
         study=nested(["models", "horizon_months"], [-12, 24])),
    Case("infinite caliper", ["'matching.caliper'", "finite"],
         study_text=lambda t: t.replace("caliper: 0.2", "caliper: .inf")),
    Case("negative caliper", ["'matching.caliper'", "positive"],
         study=nested(["matching", "caliper"], -0.2)),
    Case("ratio 0", ["'matching.ratio'", "at least 1"], study=nested(["matching", "ratio"], 0)),
    Case("selection p 2", ["'models.selection_p'"], study=nested(["models", "selection_p"], 2)),
    Case("min cell 0", ["'governance.min_cell'"], study=nested(["governance", "min_cell"], 0)),
    Case("no chapters", ["'chapters'"], study=top("chapters", [])),
    Case("a chapter without notebook", ["'chapters'", "06_extra"],
         study=top("chapters", ["01_cohort", "06_extra"])),
    Case("covariate not a column", ["'covariates[1]'", "'tumour_size'"],
         study=top("covariates", ["age", "tumour_size"])),
    Case("table one column", ["'table_one.categorical[0]'", "'hist'"],
         study=nested(["table_one", "categorical"], ["hist"])),
    Case("outcome time column", ["'outcomes.os.time'", "'months'"],
         study=nested(["outcomes", "os", "time"], "months")),
    Case("criterion column", ["'cohort.criteria[0].column'", "'gender'"],
         study=lambda m: m["cohort"]["criteria"][0].__setitem__("column", "gender")),
    Case("name not a slug", ["'name'", "'Study A!'"], study=top("name", "Study A!")),
    Case("matching off but chapter 2 listed", ["'matching.enabled'", "02_matching"],
         study=nested(["matching", "enabled"], False)),
    Case("years reversed", ["'cohort.years'"], study=nested(["cohort", "years"], [2022, 2018])),
    Case("m_order invalid", ["'matching.m_order'", "'biggest'"],
         study=nested(["matching", "m_order"], "biggest")),
    Case("ties invalid", ["'models.ties'", "'exact'"], study=nested(["models", "ties"], "exact")),
    Case("on_separation invalid", ["'models.on_separation'", "'ignore'"],
         study=nested(["models", "on_separation"], "ignore")),
    Case("cause among its competitors", ["'outcomes.bcsm.competing'"],
         study=nested(["outcomes", "bcsm", "competing"], [1, 2])),
    Case("seed as text", ["'seed'", "integer"], study=top("seed", "sixty-seven")),
    Case("not UTF-8", ["seer_m0i.yml", "UTF-8"],
         study_text=lambda t: t.replace("title:", "title: caf\udce9 ", 1)),
]

SET_CASES = [
    Case("--set without =", ["--set", "key=value"], args=["--set", "matching.caliper"], data=None),
    Case("--set unknown key", ["'matching.calipr'"], args=["--set", "matching.calipr=0.1"],
         data=None),
    Case("--set wrong type", ["'matching.ratio'", "integer"],
         args=["--set", "matching.ratio=two"], data=None),
    Case("--set unknown outcome", ["'outcomes.dfs'", "no entry"],
         args=["--set", "outcomes.dfs.label=x"], data=None),
    Case("--set unknown outcome field", ["'outcomes.os.colour'"],
         args=["--set", "outcomes.os.colour=red"], data=None),
    Case("--set bad YAML", ["'matching.caliper'", "YAML"],
         args=["--set", "matching.caliper=[1"], data=None),
    Case("--set caliper inf", ["'matching.caliper'", "finite"],
         args=["--set", "matching.caliper=.inf"], data=None),
    Case("--set exposed M1", ["'exposure.exposed'", "'M1'"],
         args=["--set", "exposure.exposed=M1"], data=None),
    Case("--set name path", ["'name'", "'../../x'"], args=["--set", "name=../../x"], data=None),
    Case("--set a section to a number", ["'matching'"], args=["--set", "matching=3"], data=None),
]

ALL = EXPORT_CASES + STUDY_CASES + SET_CASES


def test_the_suite_has_at_least_sixty_cases():
    assert len(ALL) >= 60
    assert len({c.id for c in ALL}) == len(ALL)


@pytest.fixture
def earlier(tmp_path) -> Path:
    """An earlier output of micromet's in the output folder (marked), to be left untouched."""
    out = tmp_path / "out"
    (out / "summaries").mkdir(parents=True)
    (out / "results.json").write_text('{"earlier": true}\n')
    (out / "summaries" / "cohort.json").write_text("{}\n")
    write_marker(out, "seer_m0i")
    return out


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", ALL, ids=[c.id for c in ALL])
def test_bad_input_is_refused_with_a_named_error(case, base_export, earlier, tmp_path, capsys):
    argv = ["run"]
    study = STUDY_A
    if case.study is not None or case.study_text is not None:
        text = STUDY_A.read_text(encoding="utf-8")
        if case.study_text is not None:
            text = case.study_text(text)
        if case.study is not None:
            mapping = yaml.safe_load(text)
            case.study(mapping)
            text = yaml.safe_dump(mapping, sort_keys=False, allow_unicode=True)
        study = tmp_path / "studies" / "seer_m0i.yml"
        study.parent.mkdir()
        study.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    argv.append(str(study))
    export = None
    if case.data == "export" and case.study is None and case.study_text is None:
        folder = tmp_path / "export"
        folder.mkdir()
        export = folder / EXPORT_NAME
        shutil.copy(base_export, export)
        shutil.copy(base_export.with_suffix(".dic"), export.with_suffix(".dic"))
        if case.edit is not None:
            rows = read_rows(export)
            case.edit(rows)
            write_rows(export, rows)
        if case.raw is not None:
            export.write_bytes(case.raw(export.read_bytes()))
        argv += ["--data", str(export)]
    elif callable(case.data):
        argv += ["--data", str(case.data(tmp_path / "somewhere"))]
        (tmp_path / "somewhere").mkdir(exist_ok=True)
    before = snapshot(earlier)
    exported = export.read_bytes() if export is not None else None
    argv += ["--out", str(earlier), *case.args]

    status = main(argv)
    err = capsys.readouterr().err

    assert status == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith("micromet run: error:"), err
    assert "Traceback" not in err
    for needle in case.expect:
        assert needle in lines[-1], f"{needle!r} not in: {lines[-1]}"
    if export is not None:  # no Patient ID or raw record in the message
        ids = {row[0] for row in read_rows(Path(base_export))[1:]}
        assert not any(f"'{i}'" in err or f" {i}," in err for i in ids)
        assert export.read_bytes() == exported  # the input is never touched
    assert snapshot(earlier) == before
    assert sorted(p.name for p in tmp_path.iterdir() if ".run-" in p.name
                  or p.suffix == ".lock") == []
