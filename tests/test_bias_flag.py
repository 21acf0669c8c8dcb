"""Issue 13 item 2: a biased result is flagged wherever the truth is known.

A hand-built control variate with the baseline b = f(x_i) makes every estimate 0:
variance 0, ratio 0, efficiency inf, ``biased`` False. ``bias_flag`` marks it
(deterministically: the truth is exact and bias_se = 0), the compare/demo tables show
``[!]`` with a legend line, tables written before the column existed get it derived by
the same rule on reading, and unbiased estimators of the catalogue are not flagged at
fixed seeds (zero-variance ones included: the tolerance is relative to the truth).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import vartools as vt
from vartools.catalogue.registry import get_estimator
from vartools.catalogue.settings import make_problem
from vartools.cli.main import main
from vartools.cli.table import BIAS_MARK, format_table
from vartools.control_variates.baselines import subtract_baseline
from vartools.core.control_variate import ControlVariate
from vartools.harness.storage import SUMMARY, read_table, write_table
from vartools.measure.schema import bias_flags, bias_threshold, derive_bias_flag, validate
from vartools.oracles.exact import exact_gradient

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def _self_baseline() -> ControlVariate:
    """b_i = f(x_i): uses the sample it corrects, so the estimate is 0 (biased)."""

    def apply(batch, state, problem):
        return subtract_baseline(batch, batch.fx, "self", per_sample=True), state

    return ControlVariate(lambda problem: None, apply, name="self")


SF = vt.make_estimator(vt.score_function)
SELF = vt.make_estimator(vt.score_function, _self_baseline())


def test_rule_flags_zero_variance_bias_but_not_rounding():
    # bias_se = 0: any bias above the rounding tolerance (1e-6 x the truth's scale)
    assert bias_flags([1e-3, 1e-9, 0.0], [0.0, 0.0, 0.0], scale=0.25).tolist() == [
        True,
        False,
        False,
    ]
    # exactly zero truth everywhere: the floor 1e-12 still separates rounding from bias
    assert bias_flags([1e-17, 1e-9], [0.0, 0.0], scale=0.0).tolist() == [False, True]
    # with noise: z = 5 for one coordinate, more for many; NaN bias is never flagged
    assert bias_flags([5.01, 4.99, np.nan], [1.0, 1.0, 1.0], scale=1.0).tolist() == [
        True,
        False,
        False,
    ]
    assert bias_threshold(1) == 5.0 and 6.3 < bias_threshold(4000) < 6.5
    assert not bias_flags([6.0], [1.0], scale=1.0, n_tests=4000)[0]


def test_biased_custom_control_variate_is_flagged_exactly():
    prob = make_problem("liu_toy", eta=0.0)
    truth = exact_gradient(prob)
    t = vt.measure_variance(prob, [SF, SELF], n_samples=[4], n_reps=200, seed=0)
    own = t[t["estimator"] == "sf+self"]
    # what used to look perfect: zero variance, ratio 0, infinite efficiency, not "biased"
    assert (own["variance"] == 0).all() and not own["biased"].any()
    coords = own[own["kind"] == "coordinate"]
    np.testing.assert_array_equal(coords["mean"], 0.0)
    np.testing.assert_array_equal(coords["bias_se"], 0.0)
    np.testing.assert_allclose(coords["bias"], -truth, rtol=0, atol=1e-15)
    assert coords["bias_flag"].all()  # every coordinate: the truth is nonzero in all three
    assert own["bias_flag"].all()  # and the aggregates
    assert not t.loc[t["estimator"] == "sf", "bias_flag"].any()
    out = format_table(t)
    flagged = [ln for ln in out.splitlines() if ln.lstrip().startswith("sf+self")]
    assert flagged and all(BIAS_MARK in ln for ln in flagged)
    assert not any(BIAS_MARK in ln for ln in out.splitlines() if ln.lstrip().startswith("sf "))
    assert f"{BIAS_MARK} BIASED" in out and "(sf+self)" in out


def test_compare_marks_a_biased_estimator_with_a_legend(capsys):
    # straight-through (knowingly biased) on a Bernoulli toy with an exact gradient
    args = ["--problem", "liu_toy", "--param", "eta=-4", "--estimators", "sf", "st", "--n", "4"]
    assert main(["compare", *args]) == 0
    out = capsys.readouterr().out
    st_rows = [ln for ln in out.splitlines() if ln.lstrip().startswith("st ")]
    assert st_rows and all(BIAS_MARK in ln and "(biased)" in ln for ln in st_rows)
    assert f"{BIAS_MARK} BIASED" in out


def test_demo_prints_the_bias_check(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "bias check: no estimator is flagged" in out  # bern200 has an exact gradient now
    assert BIAS_MARK + " " not in out.split("bias check")[0]


def _as_results_table(t: pd.DataFrame) -> pd.DataFrame:
    t = t.copy()
    for i, (k, v) in enumerate({"experiment": "x", "scale": "full", "point": 0, "step": 0}.items()):
        t.insert(i, k, v)
    return t


def test_old_format_table_gets_the_flag_on_reading(tmp_path):
    prob = make_problem("liu_toy", eta=-4.0)
    loo = get_estimator("sf+loo")
    t = vt.measure_variance(prob, [SF, SELF, loo], n_samples=[2, 4], n_reps=300, seed=3)
    new = _as_results_table(t)
    validate(new, SUMMARY)
    old = new.drop(columns="bias_flag")
    path = tmp_path / "summary.csv"
    write_table(path, new, SUMMARY)  # a current table round-trips unchanged
    pd.testing.assert_series_equal(read_table(path, SUMMARY)["bias_flag"], new["bias_flag"])
    old.to_csv(path, index=False)  # as written before bias_flag existed
    with pytest.raises(Exception, match="bias_flag"):
        validate(pd.read_csv(path), SUMMARY)
    back = read_table(path, SUMMARY)
    assert list(back.columns) == list(new.columns)  # inserted where the schema puts it
    np.testing.assert_array_equal(back["bias_flag"], new["bias_flag"])  # the same rule
    assert back.loc[back["estimator"] == "sf+self", "bias_flag"].all()
    assert not back.loc[back["estimator"] != "sf+self", "bias_flag"].any()


def test_committed_old_tables_are_derived_and_only_biased_estimators_flagged(tmp_path):
    # a committed table as written before the column existed (the column dropped)
    raw = pd.read_csv(ROOT / "results" / "rl_gae" / "summary.csv")
    path = tmp_path / "summary.csv"
    raw.drop(columns="bias_flag", errors="ignore").to_csv(path, index=False)
    df = read_table(path, SUMMARY)
    if "bias_flag" in raw.columns:  # regenerated since: the derivation equals what was written
        np.testing.assert_array_equal(df["bias_flag"].to_numpy(), raw["bias_flag"].to_numpy())
    flagged = df[df["bias_flag"]]
    assert len(flagged) and flagged["biased"].all()  # discounted / GAE estimators
    unbiased = df[~df["biased"] & df["truth"].notna()]
    assert len(unbiased) and not unbiased["bias_flag"].any()


def test_derivation_matches_summarize_in_blocks_mode():
    # aggregate rows per block flag any of their coordinates (rows="all" has both)
    prob = make_problem("liu_toy", eta=0.0)
    t = vt.measure_variance(prob, [SF, SELF], n_samples=[4], n_reps=100, seed=0, rows="all")
    derived = derive_bias_flag(_as_results_table(t).drop(columns="bias_flag"))
    np.testing.assert_array_equal(derived.to_numpy(), t["bias_flag"].to_numpy())


UNBIASED = {
    ("liu_toy", (("eta", 0.0),)): ["sf", "sf+loo", "sf+const", "sf+optbase", "disarm", "arm"],
    ("liu_toy", (("eta", -4.0),)): ["sf", "sf+loo", "disarm", "sas2+loo", "le"],
    ("rebar_toy", ()): ["sf", "sf+loo", "arm", "disarm", "sf+optbase"],
    ("cat_table", ()): ["sf", "sf+loo", "sf+optbase", "le", "sas2"],
    ("double_cv_toy", (("d", 20),)): ["sf", "sf+loo", "dep", "disarm"],
    ("gaussian_cost", (("cost", "cos"), ("k", 2.0))): ["sf", "sf+optbase", "pathwise", "mvd"],
    ("bern200", ()): ["sf", "sf+loo"],
}


@pytest.mark.parametrize("key", list(UNBIASED), ids=lambda k: k[0] + str(dict(k[1])))
def test_unbiased_catalogue_estimators_are_not_flagged(key):
    name, params = key
    prob = make_problem(name, **dict(params))
    ests = [get_estimator(e) for e in UNBIASED[key]]
    assert not any(e.biased for e in ests)
    t = vt.measure_variance(prob, ests, n_samples=[2, 5], n_reps=1000, seed=11)
    assert t["truth"].notna().any()  # the check ran
    assert not t["bias_flag"].any(), t.loc[t["bias_flag"], ["estimator", "n", "coordinate"]]


def test_zero_variance_unbiased_estimator_is_not_flagged_for_rounding():
    # DisARM on one Bernoulli with n = 2 is exact up to rounding: bias ~1e-17 with a
    # bias_se ~1e-19, i.e. "31 standard errors": only the relative tolerance keeps it clean.
    t = vt.measure_variance(
        make_problem("rebar_toy"), [get_estimator("disarm")], n_samples=[2], n_reps=1000, seed=11
    )
    row = t[t["kind"] == "coordinate"].iloc[0]
    assert row["variance"] < 1e-30 and abs(row["bias"]) < 1e-15
    assert not t["bias_flag"].any()
