"""micromet.power: Schoenfeld's and Freedman's approximations, against hand arithmetic."""

import math

import pytest

from micromet.errors import InputError
from micromet.power import (
    freedman_power,
    minimum_detectable_hr,
    power_summary,
    schoenfeld_power,
)

Z975, Z80, Z90 = 1.959963984540054, 0.8416212335729143, 1.2815515655446004


def test_schoenfeld_events_for_hr_2_with_equal_groups():
    # d = 4 (z_0.975 + z_0.8)^2 / log(2)^2 = 65.3 events for HR 2, 1:1, alpha 0.05, 80% power
    d = 4 * (Z975 + Z80) ** 2 / math.log(2) ** 2
    assert d == pytest.approx(65.345, abs=1e-3)
    assert schoenfeld_power(2.0, d, 100, 100) == pytest.approx(0.8, abs=1e-12)
    assert schoenfeld_power(0.5, d, 100, 100) == pytest.approx(0.8, abs=1e-12)
    assert minimum_detectable_hr(d, 100, 100) == pytest.approx(2.0, rel=1e-12)


def test_minimum_detectable_hr_for_study_a_matched_design():
    # 83 deaths, 585 exposed of 1,755: sqrt(83 * 1/3 * 2/3) = 4.2947
    hr = minimum_detectable_hr(83, 585, 1170)
    assert hr == pytest.approx(math.exp((Z975 + Z80) / math.sqrt(83 * 2 / 9)), rel=1e-12)
    assert hr == pytest.approx(1.9200, abs=1e-4)
    hr90 = minimum_detectable_hr(83, 585, 1170, power=0.9)
    assert hr90 == pytest.approx(math.exp((Z975 + Z90) / math.sqrt(83 * 2 / 9)), rel=1e-12)
    summary = power_summary(83, 585, 1170)
    assert summary.detectable_80 == hr and summary.detectable_90 == hr90
    assert summary.sentence().startswith("with 83 deaths this design could detect an HR of 1.92")


def test_freedman_power_is_freedmans_formula():
    # power = Phi(sqrt(k d) |HR - 1| / (k HR + 1) - z_0.975), k = n_exposed / n_control
    from scipy.stats import norm

    for hr, d, n1, n0 in ((2.0, 66, 100, 100), (0.7, 200, 300, 600), (1.3, 83, 585, 1170)):
        k = n1 / n0
        expected = norm.cdf(math.sqrt(k * d) * abs(hr - 1) / (k * hr + 1) - Z975)
        assert freedman_power(hr, d, n1, n0) == pytest.approx(expected, rel=1e-12)
    # the two approximations are close for moderate effects with equal groups
    assert freedman_power(1.5, 191, 500, 500) == pytest.approx(
        schoenfeld_power(1.5, 191, 500, 500), abs=0.02)


@pytest.mark.parametrize("args", [(0, 10, 10), (10, 0, 10), (10, 10, -1)])
def test_designs_without_events_or_patients_are_refused(args):
    with pytest.raises(InputError):
        minimum_detectable_hr(*args)


def test_freedman_power_reproduces_the_lifelines_documentation_example():
    # lifelines' documentation of sample_size_necessary_under_cph (the powerSurvEpi /
    # Freedman 1982 formula): 80% power, 1:1, failure probabilities 0.25 (experimental) and
    # 0.35 (control), HR 0.7, two-sided 5% -> 421 patients per group. So 421 per group (252.6
    # expected events) reaches 80% power and 420 (252 events) does not.
    assert freedman_power(0.7, 421 * 0.25 + 421 * 0.35, 421, 421) >= 0.8
    assert freedman_power(0.7, 420 * 0.25 + 420 * 0.35, 420, 420) < 0.8
    # Freedman's events for 80%: (z_0.975 + z_0.8)^2 (1 + k HR)^2 / (k (1 - HR)^2) = 252.04
    d = (Z975 + Z80) ** 2 * (1 + 0.7) ** 2 / (1 - 0.7) ** 2
    assert d == pytest.approx(252.04, abs=0.005)
    assert freedman_power(0.7, d, 500, 500) == pytest.approx(0.8, abs=1e-12)


def test_schoenfeld_events_for_the_textbook_hazard_ratio_of_1_5():
    # Schoenfeld (1983, Biometrics 39:499) with equal groups: d = 4 (z_0.975 + z_0.8)^2 /
    # log(1.5)^2 = 190.97, the familiar "191 events to detect an HR of 1.5 with 80% power"
    d = 4 * (Z975 + Z80) ** 2 / math.log(1.5) ** 2
    assert math.ceil(d) == 191
    assert schoenfeld_power(1.5, 191, 300, 300) >= 0.8 > schoenfeld_power(1.5, 190, 300, 300)
    assert minimum_detectable_hr(191, 300, 300) <= 1.5 < minimum_detectable_hr(190, 300, 300)
    # 90% power needs (z_0.975 + z_0.9)^2 / (z_0.975 + z_0.8)^2 = 1.339 times the events
    d90 = 4 * (Z975 + Z90) ** 2 / math.log(1.5) ** 2
    assert d90 / d == pytest.approx(((Z975 + Z90) / (Z975 + Z80)) ** 2, rel=1e-12)
    assert schoenfeld_power(1.5, d90, 300, 300) == pytest.approx(0.9, abs=1e-12)


def test_power_for_the_papers_hazard_ratio_in_words():
    # the matched design of study A (83 deaths, 585 exposed, 1,170 controls): the power to
    # detect HR 0.803 (the paper's univariable OS HR) is low; the sentence gives both limits
    p = schoenfeld_power(0.803, 83, 585, 1170)
    assert p == pytest.approx(
        0.5 * math.erfc(-(abs(math.log(0.803)) * math.sqrt(83 * 2 / 9) - Z975) / math.sqrt(2)),
        rel=1e-12)
    assert 0.1 < p < 0.2
    text = power_summary(83, 585, 1170).sentence()
    assert "80% power" in text and "90% power" in text and "0.52" in text
