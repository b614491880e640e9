"""Governance: small counts masked for real sources; row-level outputs detected."""

import nbformat
import pandas as pd

from micromet.governance import (
    data_notice,
    mask_count,
    mask_table,
    mask_text,
    row_level_outputs,
)


def test_mask_count_only_between_one_and_min_cell_minus_one():
    assert [mask_count(n, min_cell=11) for n in (0, 1, 10, 11, 250)] == [0, "<11", "<11", 11, 250]
    assert mask_count(5, min_cell=11, real=False) == 5
    assert mask_count(5, min_cell=6) == "<6" and mask_count(6, min_cell=6) == 6


def test_mask_text_hides_count_and_its_percentage():
    assert mask_text("5 (0.85%)") == "<11"
    assert mask_text("1,170 (66.7%)") == "1,170 (66.7%)"
    assert mask_text("0.003") == "0.003"  # p values are not counts
    assert mask_text("61 (52-70)") == "61 (52-70)"  # a median (IQR) with count > 10 stays
    assert mask_text("5 (0.85%)", real=False) == "5 (0.85%)"


def test_mask_table_masks_counts_not_p_values():
    t = pd.DataFrame({"M0": ["100 (50.0%)", "3 (1.5%)"], "M0(i+)": [7, 12], "p": [0.5, 0.004]})
    out = mask_table(t, min_cell=11)
    assert out["M0"].tolist() == ["100 (50.0%)", "<11"]
    assert out["M0(i+)"].tolist() == ["<11", 12]
    assert out["p"].tolist() == [0.5, 0.004]
    assert mask_table(t, min_cell=11, real=False).equals(t)


def test_notice_says_synthetic():
    assert "synthetic" in data_notice(True, source="synthetic://x?seed=1").lower()
    assert "<11" in data_notice(False, min_cell=11)


def _nb_with(output):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [output]
    nb.cells.append(cell)
    return nb


def test_row_level_outputs_are_flagged():
    frame = pd.DataFrame({"patient_id": ["001", "002"], "age": [50, 60]})
    out = nbformat.v4.new_output("execute_result", {"text/html": frame.to_html(),
                                                   "text/plain": frame.to_string()})
    assert any("patient_id" in p for p in row_level_outputs(_nb_with(out)))
    long = pd.DataFrame({"age": range(500)})
    out = nbformat.v4.new_output("execute_result", {"text/html": long.to_html()})
    assert any("500 rows" in p for p in row_level_outputs(_nb_with(out)))
    out = nbformat.v4.new_output("execute_result", {"text/html": long._repr_html_()})
    assert row_level_outputs(_nb_with(out))  # pandas' truncated repr says "500 rows x 1 columns"
    small = pd.DataFrame({"n": [1, 2]}, index=["M0", "M0(i+)"])
    out = nbformat.v4.new_output("execute_result", {"text/html": small.to_html(),
                                                   "text/plain": small.to_string()})
    assert row_level_outputs(_nb_with(out)) == []


def test_mask_figure_masks_standalone_counts_only():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from micromet.governance import mask_figure

    fig, ax = plt.subplots()
    texts = ["M0: 5; M0(i+): 1,234", "Excluded: age 18-89", "N1-N3 vs N0", "Log-rank P = 0.14",
             "n = 7", "10", "3,024", "Tis or T0"]
    for i, t in enumerate(texts):
        ax.text(0, i, t)
    fig.text(0.5, 0.5, "n = 2")
    assert mask_figure(fig, min_cell=11, real=False) == 0
    assert mask_figure(fig, min_cell=11) == 4
    assert [t.get_text() for t in ax.texts] == [
        "M0: <11; M0(i+): 1,234", "Excluded: age 18-89", "N1-N3 vs N0", "Log-rank P = 0.14",
        "n = <11", "<11", "3,024", "Tis or T0"]
    assert fig.texts[0].get_text() == "n = <11"
    plt.close(fig)


def test_a_printed_listing_is_flagged_but_a_wide_aggregate_table_is_not():
    listing = nbformat.v4.new_output("stream", name="stdout",
                                     text="\n".join(f"{i} 62 T1c" for i in range(300)))
    assert any("lines of text" in p for p in row_level_outputs(_nb_with(listing)))
    wide = pd.DataFrame({f"column {i}": ["12 (5.0%)"] * 20 for i in range(30)})
    out = nbformat.v4.new_output("execute_result", {"text/html": wide.to_html(),
                                                   "text/plain": wide.to_string()})
    assert row_level_outputs(_nb_with(out)) == []


def test_counts_in_notes_are_masked():
    from micromet.governance import mask_counts_in_text

    text = "not estimable: no events among subtype[HR-/HER2+] (n = 7)"
    assert mask_counts_in_text(text) == "not estimable: no events among subtype[HR-/HER2+] (n = <11)"
    assert mask_counts_in_text(text, real=False) == text


def test_masking_touches_counts_never_codes_or_words():
    from micromet.governance import mask_counts_in_text

    for text in ("cause 1", "Grade unknown (9)", "fitted probabilities numerically 0 or 1 occurred",
                 "M0 vs M0(i+)", "N1-N3", "Log-rank P = 0.14", "age 18-89", "events of cause 2",
                 "1:2 matching", "caliper 0.2 SD", "Stage T3"):
        assert mask_counts_in_text(text) == text, text
    assert mask_counts_in_text("3 rows (2 treated, 1 control) are separated") == \
        "<11 rows (<11 treated, <11 control) are separated"
    assert mask_counts_in_text("7") == "<11" and mask_counts_in_text("1,234") == "1,234"
    assert mask_counts_in_text("M0: 5; M0(i+): 12") == "M0: <11; M0(i+): 12"
