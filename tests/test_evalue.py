"""micromet.evalue against the worked examples of VanderWeele & Ding (2017, Ann Intern Med
167:268-274), the printed output of R's EValue package, and hand arithmetic.

R's EValue is not packaged for Debian (no r-cran-evalue), so the published numbers are the
reference here.
"""

import math

import pytest

from micromet.errors import InputError
from micromet.evalue import (
    SHR_CAVEAT,
    evalue_hr,
    evalue_of_rr,
    evalue_rr,
    evalue_shr,
    hr_to_rr,
)


def test_breastfeeding_example_of_vanderweele_and_ding():
    # VanderWeele & Ding 2017, the Victora et al. example: infants not breastfed had an odds
    # ratio of 3.9 (95% CI 1.8-8.7) of death from respiratory infection, a rare outcome, so
    # taken as a risk ratio (the EValue vignette runs it as evalues.OR(3.9, 1.8, 8.7,
    # rare = TRUE)); the E-values are 7.26 for the estimate and 3.0 for the lower limit
    r = evalue_rr(3.9, 1.8, 8.7)
    assert r.evalue == pytest.approx(3.9 + math.sqrt(3.9 * 2.9), rel=1e-15)
    assert 7.2 <= r.evalue < 7.3
    assert r.evalue_ci == pytest.approx(3.0, rel=1e-15)  # 1.8 + sqrt(1.8 * 0.8) = 1.8 + 1.2


def test_protective_leukemia_example_is_inverted():
    # the EValue documentation's "leukemia example in VanderWeele and Ding (2017)":
    # RR 0.80 (0.71, 0.91): 1/0.8 = 1.25 -> 1.25 + sqrt(1.25 * 0.25) = 1.81; the limit nearest 1
    # is 0.91 -> 1/0.91 -> 1.43
    r = evalue_rr(0.80, 0.71, 0.91)
    assert r.evalue == pytest.approx(1.25 + math.sqrt(1.25 * 0.25), rel=1e-15)
    assert round(r.evalue, 2) == 1.81
    x = 1 / 0.91
    assert r.evalue_ci == pytest.approx(x + math.sqrt(x * (x - 1)), rel=1e-15)
    assert round(r.evalue_ci, 2) == 1.43
    # symmetry: RR and 1/RR have the same E-value
    assert evalue_of_rr(1 / 0.8) == pytest.approx(r.evalue, rel=1e-15)


def test_smoking_lung_cancer_as_printed_by_evalue():
    # EValue vignette "unmeasured confounding": evalues.RR(est = 10.73, lo = 8.02, hi = 14.36)
    # prints E-values 20.94777 (point) and 15.52336 (lower)
    r = evalue_rr(10.73, 8.02, 14.36)
    assert r.evalue == pytest.approx(20.94777, abs=5e-6)
    assert r.evalue_ci == pytest.approx(15.52336, abs=5e-6)


def test_common_outcome_hazard_ratio_conversion():
    # evalues.HR(0.56, 0.46, 0.69, rare = FALSE), the EValue help page's example, by hand:
    # RR = (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR)) for the estimate and each limit
    def conv(h):
        return (1 - 0.5 ** math.sqrt(h)) / (1 - 0.5 ** math.sqrt(1 / h))

    r = evalue_hr(0.56, 0.46, 0.69, rare=False)
    assert r.rr == pytest.approx(conv(0.56), rel=1e-15)
    assert r.rr_lower == pytest.approx(conv(0.46), rel=1e-15)
    assert r.rr_upper == pytest.approx(conv(0.69), rel=1e-15)
    e = 1 / conv(0.56)
    assert r.evalue == pytest.approx(e + math.sqrt(e * (e - 1)), rel=1e-14)
    h = 1 / conv(0.69)  # the limit nearest 1 of a protective HR is the upper one
    assert r.evalue_ci == pytest.approx(h + math.sqrt(h * (h - 1)), rel=1e-14)
    assert (round(r.evalue, 2), round(r.evalue_ci, 2)) == (2.35, 1.91)
    # the conversion is symmetric, so an HR below 1 need not be inverted first
    assert hr_to_rr(1 / 0.56, rare=False) == pytest.approx(1 / conv(0.56), rel=1e-14)
    assert hr_to_rr(1.0, rare=False) == 1.0


def test_rare_outcome_takes_the_hazard_ratio_as_a_risk_ratio():
    r = evalue_hr(1.92, 1.2, 3.07, rare=True)
    assert r.rr == 1.92
    assert r.evalue == pytest.approx(1.92 + math.sqrt(1.92 * 0.92), rel=1e-15)
    assert r.evalue_ci == pytest.approx(1.2 + math.sqrt(1.2 * 0.2), rel=1e-15)
    # common vs rare differ: the common-outcome RR is nearer 1
    assert evalue_hr(1.92, rare=False).evalue < r.evalue


def test_interval_including_one_has_evalue_one_and_says_so():
    r = evalue_hr(1.3, 0.9, 1.8, rare=True)
    assert r.evalue_ci == 1.0 and r.ci_includes_one
    text = r.describe("M0(i+)", "death")
    assert "already includes 1" in text and "1.30" in text and "M0(i+)" in text
    assert text.count(".") >= 1 and text.endswith(".")
    none = evalue_hr(1.0, 0.8, 1.25, rare=True)
    assert none.evalue == 1.0 and none.evalue_ci == 1.0
    assert "no association" in none.describe()
    # without an interval there is no CI E-value
    assert math.isnan(evalue_hr(2.0, rare=True).evalue_ci)


def test_describe_gives_both_numbers_in_one_sentence():
    text = evalue_hr(0.56, 0.46, 0.69, rare=False).describe("M0(i+)", "death")
    assert "2.35" in text and "1.91" in text and "0.46\u20130.69" in text
    assert text.endswith(".") and text.count(". ") == 0


def test_subdistribution_hazard_ratio_gets_a_caveat_not_a_number():
    r = evalue_shr(0.8, 0.5, 1.2)
    assert math.isnan(r.evalue) and math.isnan(r.evalue_ci)
    assert r.caveat == SHR_CAVEAT
    assert "no E-value" in r.describe()
    approx = evalue_shr(0.8, 0.5, 1.2, rare=True, approximate=True)
    assert approx.evalue == pytest.approx(evalue_hr(0.8, 0.5, 1.2, rare=True).evalue)
    assert "rough guide" in approx.describe()
    with pytest.raises(InputError):
        evalue_shr(0.8, 0.5, 1.2, approximate=True)  # rare must be said


@pytest.mark.parametrize("args, kwargs", [
    ((0.0,), {"rare": True}),
    ((-1.5,), {"rare": True}),
    ((float("nan"),), {"rare": True}),
    ((float("inf"),), {"rare": True}),
    ((1.5, 2.0, 1.2), {"rare": True}),    # lo > hi
    ((1.5, 0.0, 2.0), {"rare": True}),    # non-positive limit
    ((3.0, 1.2, 2.0), {"rare": True}),    # estimate outside its interval
    ((1.5, 1.2, None), {"rare": True}),   # one limit only
    ((1.5, 1.2, 2.0), {"rare": None}),    # rare not said
    (("abc",), {"rare": True}),
])
def test_bad_input_raises_input_error(args, kwargs):
    with pytest.raises(InputError):
        evalue_hr(*args, **kwargs)


def test_bad_risk_ratio_names_the_value():
    with pytest.raises(InputError, match="lower confidence limit is above"):
        evalue_rr(1.5, 2.0, 1.2)
    with pytest.raises(InputError, match="positive"):
        evalue_rr(-0.5)
