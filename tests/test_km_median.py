"""Kaplan-Meier limits for conf.type "log", "log-log" and "plain", and the median survival with
its 95% CI ("not reached" as NaN), against survival 3.5-3 (tests/reference/km/make_km.R) at 1e-8."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from micromet.errors import InputError
from micromet.survival import km, km_median

REF_DIR = Path(__file__).parent / "reference" / "km"
REF = json.loads((REF_DIR / "km_reference.json").read_text())
SURV = pd.read_csv(Path(__file__).parent / "reference" / "survival" / "survival_data.csv")
LUNG = pd.read_csv(REF_DIR / "lung.csv").assign(
    group=lambda d: np.where(d["sex"] == 1, "male", "female"))
SURV["status_nr"] = np.where((SURV["group"] == "M0(i+)") & (SURV["time"] > 20), 0,
                             SURV["status"])
CASES = {"monthly": (SURV, "time", "status"), "continuous": (SURV, "time_c", "status"),
         "not_reached": (SURV, "time", "status_nr"), "lung": (LUNG, "time", "status")}
TOL = 1e-8


def values(v):
    return np.array([np.nan if x is None else float(x) for x in v])


@pytest.mark.parametrize("key", sorted(REF))
def test_median_and_its_interval_agree_with_print_survfit(key):
    case, conf_type = key.split("/")
    data, time, status = CASES[case]
    ref = REF[key]
    ours = km_median(data, time, status, "group", conf_type=conf_type)
    assert list(ours["group"]) == ref["groups"]
    assert list(ours["n"]) == ref["n"] and list(ours["events"]) == ref["events"]
    for col in ("median", "lower", "upper"):
        np.testing.assert_allclose(ours[col].to_numpy(dtype=float), values(ref[col]),
                                   rtol=TOL, atol=0, equal_nan=True, err_msg=f"{key} {col}")


@pytest.mark.parametrize("key", sorted(REF))
def test_pointwise_limits_agree_with_survfit(key):
    case, conf_type = key.split("/")
    data, time, status = CASES[case]
    curve = REF[key]["curve"]
    ours = km(data, time, status, "group", conf_type=conf_type)
    assert len(ours) == len(curve["time"])
    np.testing.assert_allclose(ours["time"], values(curve["time"]), rtol=TOL)
    for ours_col, ref_col in (("survival", "surv"), ("lower", "lower"), ("upper", "upper")):
        np.testing.assert_allclose(ours[ours_col].to_numpy(dtype=float), values(curve[ref_col]),
                                   rtol=TOL, atol=1e-12, equal_nan=True,
                                   err_msg=f"{key} {ours_col}")


def test_not_reached_is_nan_and_a_bad_conf_type_is_refused():
    ours = km_median(SURV, "time", "status_nr", "group")
    assert np.isnan(ours.loc[ours["group"] == "M0(i+)", "median"]).all()
    with pytest.raises(InputError, match="conf_type"):
        km(SURV, "time", "status", conf_type="logit")
