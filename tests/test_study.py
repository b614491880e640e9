"""Study files: every parameter typed and validated; --set overrides; errors name key and file."""

from pathlib import Path

import pytest
import yaml

from micromet.errors import InputError
from micromet.study import Study, load_study, parse_overrides

STUDY = Path(__file__).resolve().parent.parent / "studies" / "seer_m0i.yml"


def write(tmp_path, text):
    path = tmp_path / "s.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_paper_choices_are_in_the_study_file():
    s = load_study(STUDY)
    assert s.name == "seer_m0i"
    assert s.cohort.years == [2018, 2022]
    assert [c["name"] for c in s.cohort.criteria] == [
        "female", "age 18-89", "grade known", "not Tis or T0", "complete information",
        "known cause of death"]
    assert s.cohort.criteria[1] == {"name": "age 18-89", "column": "age", "between": [18, 89]}
    assert s.exposure.column == "m_stage"
    assert (s.exposure.reference, s.exposure.exposed) == ("M0", "M0(i+)")
    m = s.matching
    assert (m.ratio, m.caliper, m.std_caliper, m.replace) == (2, 0.2, True, False)
    assert (m.m_order, m.distance, m.method) == ("largest", "linear_logit", "nearest")
    assert s.outcomes["bcsm"].cause == 1 and s.outcomes["bcsm"].competing == [2]
    assert s.outcomes["os"].event == "vital"
    assert s.models.selection == "univariable_p" and s.models.selection_p == 0.05
    assert s.governance.min_cell == 11
    assert s.synthetic and s.synthetic_spec == ("seer_m0i", {"seed": "34"})
    assert s.cohort.grade_variable == "Derived Summary Grade 2018 (2018+)"
    assert s.chapters[:4] == ["01_cohort", "02_matching", "03_overall_survival", "04_bcsm"]
    assert len(s.covariates) == 10


def test_the_one_parser_of_synthetic_sources():
    from micromet.errors import InputError
    from micromet.study import is_synthetic, synthetic_request, synthetic_spec

    assert is_synthetic("synthetic://nanomet") and not is_synthetic("data/export.csv")
    assert synthetic_spec("synthetic://seer_m0i?seed=1&n=100") == ("seer_m0i",
                                                                    {"seed": "1", "n": "100"})
    assert synthetic_request("synthetic://seer_m0i?scale=0.1&seed=5", seed=34) == (
        "seer_m0i", 5, {"scale": 0.1})
    assert synthetic_request("synthetic://nanomet?loss_rate_per_year=0.02", seed=34) == (
        "nanomet", 34, {"loss_rate_per_year": 0.02})
    with pytest.raises(InputError, match="not synthetic"):
        synthetic_spec("https://example.org/x.csv")


def test_round_trip_through_the_injected_mapping():
    s = load_study(STUDY)
    again = Study.from_dict(s.to_dict())
    assert again == s
    yaml.safe_dump(s.to_dict())  # plain data only


def test_overrides_are_yaml_scalars_with_dotted_keys():
    s = load_study(STUDY, ["matching.caliper=0.1", "matching.replace=true", "seed=7",
                           "matching.caliper=0.05"])
    assert s.matching.caliper == 0.05 and s.matching.replace is True and s.seed == 7
    assert parse_overrides(["a.b=null", "c=[1, 2]", "d='x'"]) == {"a.b": None, "c": [1, 2],
                                                                 "d": "x"}
    assert load_study(STUDY, {"matching.caliper": None}).matching.caliper is None


@pytest.mark.parametrize("override, key", [
    ("matching.calipr=0.1", "matching.calipr"),
    ("matchng.caliper=0.1", "matchng"),
    ("nonsense=1", "nonsense"),
])
def test_unknown_override_names_the_key(override, key):
    with pytest.raises(InputError) as info:
        load_study(STUDY, [override])
    assert info.value.column == key and "seer_m0i.yml" in str(info.value)


@pytest.mark.parametrize("override, key", [
    ("matching.ratio=two", "matching.ratio"),
    ("matching.ratio=2.5", "matching.ratio"),
    ("matching.replace=1", "matching.replace"),
    ("seed=true", "seed"),
    ("covariates=age", "covariates"),
    ("governance.min_cell=0", "governance.min_cell"),
    ("matching.caliper=-1", "matching.caliper"),
    ("matching.m_order=biggest", "matching.m_order"),
    ("models.selection_p=2", "models.selection_p"),
])
def test_wrong_value_names_the_key(override, key):
    with pytest.raises(InputError) as info:
        load_study(STUDY, [override])
    assert info.value.column == key
    assert "seer_m0i.yml" in str(info.value) and key in str(info.value)


def test_unknown_key_in_the_file_names_key_and_file(tmp_path):
    text = STUDY.read_text(encoding="utf-8").replace("  ratio: 2 ", "  ratios: 2 ")
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_study(path)
    assert info.value.column == "matching.ratios" and str(path) in str(info.value)


def test_missing_required_key(tmp_path):
    raw = yaml.safe_load(STUDY.read_text(encoding="utf-8"))
    del raw["exposure"]["exposed"]
    path = write(tmp_path, yaml.safe_dump(raw))
    with pytest.raises(InputError, match="exposure.exposed"):
        load_study(path)


def test_not_a_mapping_and_bad_yaml(tmp_path):
    with pytest.raises(InputError, match="mapping"):
        load_study(write(tmp_path, "- a\n- b\n"))
    with pytest.raises(InputError, match="YAML"):
        load_study(write(tmp_path, "a: [1, 2\n"))
    with pytest.raises(InputError, match="not found"):
        load_study(tmp_path / "absent.yml")


def test_bad_set_syntax():
    with pytest.raises(InputError, match="key=value"):
        load_study(STUDY, ["matching.caliper"])


def test_data_replaces_the_source(tmp_path):
    export = tmp_path / "export.csv"
    export.write_text("x\n")
    s = load_study(STUDY, data=export)
    assert not s.synthetic and s.source == str(export.resolve())


def test_study_by_name():
    assert load_study("seer_m0i").name == "seer_m0i"


def test_a_malformed_criterion_is_refused_before_running(tmp_path):
    text = STUDY.read_text(encoding="utf-8").replace("between: [18, 89]", "betwen: [18, 89]")
    with pytest.raises(InputError) as info:
        load_study(write(tmp_path, text))
    assert info.value.column == "cohort.criteria" and "age 18-89" in str(info.value)


ROOT = Path(__file__).resolve().parent.parent


def test_the_regression_tables_are_declared_per_outcome():
    s = load_study("seer_m0i")
    assert s.analysis_for("os").model == "cox" and s.analysis_for("bcsm").model == "fine_gray"
    assert s.candidates(s.analysis_for("os")) == s.covariates
    assert s.selection(s.analysis_for("bcsm")) == "univariable_p"
    paper = load_study("seer_m0i_paper_models")
    assert paper.analysis_for("os").multivariable == ["age", "tumor_size_mm", "grade", "n_stage"]
    assert paper.matching.ratio == 1 and paper.published == s.published


@pytest.mark.parametrize("override, key", [
    ("analyses.table3.outcome=death", "analyses.table3.outcome"),
    ("analyses.table3.model=logistic", "analyses.table3.model"),
    ("analyses.table3.model=fine_gray", "analyses.table3.model"),   # os has no cause
    ("analyses.table3.selection=stepwise", "analyses.table3.selection"),
    ("analyses.table3.multivariable=[age, bmi]", "analyses.table3.multivariable"),
    ("analyses.table4.outcome=bmi", "analyses.table4.outcome"),
    ("analyses.table3.levels=[M0]", "analyses.table3.levels"),         # one group
    ("analyses.table3.levels=[M0, M9]", "analyses.table3.levels"),     # not a level
    ("analyses.table3.exposure=n_stage", "analyses.table3.levels"),    # its levels not given
    ("comparisons=[{outcome: os, levels: [M0, M9]}]", "comparisons[0].levels"),
    ("comparisons=[{outcome: os, levels: [M0, M0]}]", "comparisons[0].levels"),
    ("comparisons=[{outcome: death, levels: [M0, M0(i+)]}]", "comparisons[0].outcome"),
    ("comparisons=[{outcome: os, levels: [M0, M0(i+)], model: fine_gray}]",
     "comparisons[0].model"),
    ("comparisons=[{outcome: os, levels: [M0, M0(i+)], covariates: [bmi]}]",
     "comparisons[0].covariates[0]"),
    ("analyses.table3.covariates=[age, shoe_size]", "analyses.table3.covariates[1]"),
])
def test_a_bad_analysis_names_its_key(override, key):
    with pytest.raises(InputError) as err:
        load_study("seer_m0i", [override])
    assert err.value.column == key, str(err.value)


def test_extends_lays_a_file_over_another_study(tmp_path):
    base = (ROOT / "studies" / "seer_m0i.yml").read_text(encoding="utf-8")
    (tmp_path / "base.yml").write_text(base, encoding="utf-8")
    child = write(tmp_path, "extends: base.yml\nname: child\nmatching: {caliper: 0.1}\n")
    s = load_study(child)
    assert s.name == "child" and s.matching.caliper == 0.1
    assert s.matching.ratio == 2 and s.covariates == load_study("seer_m0i").covariates
    loop = tmp_path / "loop.yml"
    loop.write_text("extends: loop.yml\nname: loop\n", encoding="utf-8")
    with pytest.raises(InputError, match="cycle"):
        load_study(loop)
    orphan = tmp_path / "orphan.yml"
    orphan.write_text("extends: no_such_study\nname: orphan\n", encoding="utf-8")
    with pytest.raises(InputError, match="does not exist"):
        load_study(orphan)


def test_every_study_file_is_in_the_book():
    """A new study is a YAML file and a TOC entry: each studies/*.yml has its chapters in
    _toc.yml, and make runs every study file."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = {c["file"] for part in toc["parts"] for c in part["chapters"]} | {
        s["file"] for part in toc["parts"] for c in part["chapters"] for s in c.get("sections", [])}
    for path in sorted((ROOT / "studies").glob("*.yml")):
        study = load_study(path)
        for chapter in study.chapters:
            assert f"book/{study.name}/{chapter}" in files, (path.name, chapter)
    assert "wildcard studies/*.yml" in (ROOT / "Makefile").read_text(encoding="utf-8")
