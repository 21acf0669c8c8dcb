"""Gaussian costs (Mohamed et al. 2020, Figs. 2-3): exact curves vs closed forms and oracles,
Monte Carlo markers within their CIs of the exact curves at the quick scale."""

from __future__ import annotations

import importlib
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from conftest import Z_HUNDRED

from vartools.estimators.base import pathwise
from vartools.estimators.composed import make_estimator
from vartools.estimators.measure_valued import mvd_moments
from vartools.harness.loading import load_experiment
from vartools.harness.runner import run_experiment
from vartools.oracles import exact

EXP = load_experiment("gaussian_costs")  # puts the experiments package on sys.path
G = importlib.import_module("experiments.gaussian_costs")
GM = importlib.import_module("experiments.gaussian_costs.models")
GF = importlib.import_module("experiments.gaussian_costs.fitted")
GE = importlib.import_module("experiments.gaussian_costs.estimators")
GO = importlib.import_module("experiments.gaussian_costs.oracles")
C = 1.0 / math.sqrt(2.0 * math.pi)


def _row(df: pd.DataFrame, name: str, coord: str) -> float:
    sel = df[(df["estimator"] == name) & (df["coordinate"] == coord)]
    assert len(sel) == 1
    return float(sel["exact_variance"].iloc[0])


@pytest.mark.parametrize("k", [-3.0, -0.5, 1.0, 2.2])
def test_square_cost_lines_equal_gaussian_moment_closed_forms(k):
    # f = (x - k)^2, x = mu + z, a = mu - k: Var of one sample, by Gaussian moments
    a = GM.MU - k
    df = GO.exact_curves_for("square", np.array([k]))
    want = {
        ("sf", "loc[0]"): a**4 + 14 * a**2 + 15,  # E[(a+z)^4 z^2] - (2a)^2
        ("sf", "scale[0]"): 2 * a**4 + 60 * a**2 + 74,  # E[(a+z)^4 (z^2-1)^2] - 4
        ("pathwise", "loc[0]"): 4.0,  # Var 2(a + z)
        ("pathwise", "scale[0]"): 4 * (a**2 + 2),  # Var 2(a + z) z
        ("mvd", "loc[0]"): 4 * a**2 * (8 * C**2 - 1),  # c 4 a W, E[W^2] = 2
        ("mvd", "scale[0]"): 4 * a**2 + 4,  # E[m^2] = 3, E[m^4] = 15 (double-sided Maxwell)
        ("sf+delta* (oracle)", "loc[0]"): 0.0,  # the Taylor expansion of a quadratic is exact
        ("sf+delta* (oracle)", "scale[0]"): 0.0,
        ("pathwise+delta* (oracle)", "loc[0]"): 0.0,
        ("pathwise+delta* (oracle)", "scale[0]"): 0.0,
    }
    for (name, coord), v in want.items():
        assert abs(_row(df, name, coord) - v) <= 1e-8 * max(1.0, abs(v)), (name, coord)
    means = df.groupby(["estimator", "coordinate"])["exact_mean"].first()
    for name in set(GE.ESTIMATOR_NS) - set(GE.FITTED):  # every line is unbiased: (2a, 2 sigma)
        assert abs(means[(name, "loc[0]")] - 2 * a) < 1e-8
        assert abs(means[(name, "scale[0]")] - 2.0) < 1e-8


SLOW = pytest.mark.slow


@pytest.mark.parametrize(
    ("cost", "k"),
    [
        ("bump", 0.3),
        pytest.param("cos", 1.7, marks=SLOW),
        pytest.param("bump", 7.0, marks=SLOW),
        pytest.param("cos", 4.5, marks=SLOW),
        pytest.param("square", 0.4, marks=SLOW),
    ],
)
def test_vectorised_lines_equal_the_library_oracles(cost, k):
    df = GO.exact_curves_for(cost, np.array([k]))
    prob = GM.gaussian_problem(cost, k)
    m = exact.sf_moments(prob)
    ests = {e.name: e for e in GE.build_estimators()}
    lib = {
        "sf": m.m2 - m.g**2,
        "sf+loo": exact.rloo_variance(m, GM.RLOO_K),
        "pathwise": exact.exact_moments(prob, make_estimator(pathwise), 1)[1],
        "mvd": mvd_moments(prob)[1],
        # the library estimators (oracle coefficient, finite-difference Hessian) by quadrature
        "sf+delta* (oracle)": exact.exact_moments(prob, ests["sf+delta* (oracle)"], 1),
        "pathwise+delta* (oracle)": exact.exact_moments(prob, ests["pathwise+delta* (oracle)"], 1),
        "sf+b* (oracle)": exact.exact_moments(prob, ests["sf+b* (oracle)"], 1),
    }
    for name in (
        "sf+delta* (oracle)",
        "pathwise+delta* (oracle)",
        "sf+b* (oracle)",
    ):  # oracle coefficients: unbiased
        mean, var = lib[name]  # type: ignore[misc]
        assert np.allclose(mean, m.g, atol=1e-9), name
        lib[name] = var
    assert np.allclose(lib["sf+b* (oracle)"], exact.optimal_baseline_variance(m), rtol=1e-8)
    scale = max(abs(lib["sf"]).max(), 1.0)
    for name, v in lib.items():
        for j, coord in enumerate(prob.dist.param_names):
            # the finite-difference Hessian of the library feature differs by O(1e-8)
            tol = 1e-6 * scale if "delta" in name else 1e-8 * max(abs(v[j]), 1e-3)
            assert abs(_row(df, name, coord) - v[j]) <= tol, (name, coord)


@pytest.mark.slow
def test_oracle_coefficient_estimators_are_unbiased_by_quadrature():
    prob = GM.gaussian_problem("cos", 1.3)
    g = exact.exact_gradient(prob)
    for est in GE.build_estimators():
        if est.name in ("mvd", "sf+loo", *GE.FITTED):  # fitted ones: n >= 2, Monte Carlo below
            continue
        mean, _ = exact.exact_moments(prob, est, 1)
        assert np.allclose(mean, g, atol=1e-9), est.name


def test_quick_markers_lie_within_their_cis_of_the_exact_lines(tmp_path):
    quick = EXP.at_scale("quick")
    exp = replace(quick, n_samples=(1, GM.RLOO_K), exact=False)  # the lines come from exact.csv
    rep = run_experiment(exp, scale="quick", out=tmp_path, progress=False)
    s = rep.summary
    s = s[s["kind"] == "coordinate"]
    ex = G.tables(exp)["exact"]
    n_checked = n_fitted = 0
    for _, r in s.iterrows():
        if r["estimator"] in GE.FITTED:  # no exact line: mean = the exact gradient within SE
            g = ex[
                (ex["cost"] == r["at_cost"])
                & np.isclose(ex["k"], r["at_k"])
                & (ex["estimator"] == "sf")
                & (ex["coordinate"] == r["coordinate"])
            ]["exact_mean"]
            se = math.sqrt(r["variance"] / r["n_reps"])
            # (+ rounding: the delta method on the quadratic cost has variance 0)
            tol = Z_HUNDRED * se + 1e-12 * max(1.0, abs(float(g.iloc[0])))
            assert abs(r["mean"] - float(g.iloc[0])) <= tol, (r["problem"], r["estimator"])
            n_fitted += 1
            continue
        if GE.ESTIMATOR_NS[r["estimator"]] != r["n"]:
            continue
        e = ex[
            (ex["cost"] == r["at_cost"])
            & np.isclose(ex["k"], r["at_k"])
            & (ex["estimator"] == r["estimator"])
            & (ex["coordinate"] == r["coordinate"])
        ]
        assert len(e) == 1
        v, m = float(e["exact_variance"].iloc[0]), float(e["exact_mean"].iloc[0])
        sf = ex[
            (ex["cost"] == r["at_cost"])
            & np.isclose(ex["k"], r["at_k"])
            & (ex["estimator"] == "sf")
            & (ex["coordinate"] == r["coordinate"])
        ]
        floor = 1e-12 * float(sf["exact_variance"].iloc[0])
        if v <= floor:  # delta method on the quadratic cost: zero variance up to rounding
            assert r["variance"] <= floor
            continue
        assert abs(r["variance"] - v) <= Z_HUNDRED * r["variance_se"], (
            r["problem"],
            r["estimator"],
        )
        se = math.sqrt(r["variance"] / r["n_reps"])
        assert abs(r["mean"] - m) <= Z_HUNDRED * se, (r["problem"], r["estimator"])
        n_checked += 1
    assert n_checked >= 100
    assert n_fitted >= 4 * 10 * 2
    counts = G.tables(exp, rep.summary)["fitted"]
    theorem = counts[counts["test"].str.startswith("exact")].iloc[0]
    assert theorem["no_worse"] == theorem["points"] > 100 and theorem["worse"] == 0
    mc = counts[counts["test"].str.startswith("Monte Carlo")]
    assert set(mc["estimator"]) == set(GF.B_FAMILY)
    assert (mc["better"] + mc["worse"] <= mc["points"]).all()
    assert (mc["no_worse"] + mc["worse"] == mc["points"]).all()


def test_marker_points_cover_every_cost_and_the_n_panel():
    pts = GM.marker_points(3)
    assert {p["cost"] for p in pts} == set(GM.COSTS)
    assert GM.N_PANEL in pts
    assert len({(p["cost"], p["k"]) for p in pts}) == len(pts)
