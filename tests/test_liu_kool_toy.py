"""Liu et al. (2019) / Kool et al. (2020) toy: exact curves against enumeration, markers in CIs."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from conftest import ATOL, Z_HUNDRED

import vartools as vt
from vartools.estimators.sum_and_sample import sum_and_sample, sum_and_sample_moments
from vartools.harness.loading import load_experiment
from vartools.oracles import exact

M = importlib.import_module("experiments.liu_kool_toy.models")
LO = importlib.import_module("experiments.liu_kool_toy.oracles")

EXP = load_experiment("liu_kool_toy")


def test_published_exact_gradient_is_reproduced():
    assert abs(LO.exact_gradient_shared(0.0) - (-0.045)) < ATOL
    assert abs(exact.exact_gradient(M.problem(0.0))[0] - (-0.045)) < ATOL
    # the chain rule: the shared gradient is the sum of the per-coordinate ones
    per = exact.exact_gradient(vt.make_problem("liu_toy", eta=-4.0)).sum()
    assert abs(LO.exact_gradient_shared(-4.0) - per) < ATOL


def test_shared_score_is_the_derivative_of_log_prob():
    prob = M.problem(-1.3)
    x, _ = prob.dist.support()
    h = 1e-6
    fd = (
        prob.dist.with_params(np.array([-1.3 + h])).log_prob(x[:, None])
        - prob.dist.with_params(np.array([-1.3 - h])).log_prob(x[:, None])
    ) / (2 * h)
    np.testing.assert_allclose(prob.dist.score(x[:, None])[..., 0], fd, atol=1e-8)


@pytest.mark.parametrize("eta", [0.0, -4.0])
def test_exact_curves_match_enumeration(eta):
    prob = M.problem(eta)
    curves = LO.exact_curves(eta).set_index(["family", "size"])["exact_variance"]
    ests = {e.name: e for e in M.build_estimators()}
    g = exact.exact_gradient(prob)
    for k in (1, 2, 3, 4):
        mean, var = exact.exact_moments(prob, ests["reinforce"], k)
        np.testing.assert_allclose(mean, g, atol=ATOL)
        assert abs(var[0] - curves["reinforce", k]) < ATOL
    for k in (2, 3, 4, 5):
        mean, var = exact.exact_moments(prob, ests["rloo"], k)
        np.testing.assert_allclose(mean, g, atol=ATOL)
        assert abs(var[0] - curves["rloo", k]) < ATOL
    for n in (1, 2):
        mean, var = exact.exact_moments(prob, ests["local_expectation"], n)
        np.testing.assert_allclose(mean, g, atol=ATOL)
        assert abs(var[0] - curves["local_expectation", n]) < ATOL
    for k in range(9):
        mean, var = sum_and_sample_moments(prob, vt.make_estimator(sum_and_sample(k)), 1)
        np.testing.assert_allclose(mean, g, atol=ATOL)
        assert abs(var[0] - curves["sum_and_sample", k]) < ATOL


def test_known_orderings_of_the_exact_curves():
    c = LO.exact_curves(0.0).set_index(["family", "size"])["exact_variance"]
    # RLOO with K = 2 beats REINFORCE with 8 samples; sum-and-sample decreases with k
    assert c["rloo", 2] < c["reinforce", 8]
    sas = [c["sum_and_sample", k] for k in range(9)]
    assert all(a >= b for a, b in zip(sas, sas[1:], strict=False))
    assert sas[0] == pytest.approx(c["reinforce", 1], abs=ATOL)
    assert sas[7] == 0.0 and sas[8] == 0.0


@pytest.mark.parametrize("eta", [0.0, -4.0])
def test_monte_carlo_markers_lie_within_their_intervals_at_quick_scale(eta):
    prob = M.problem(eta)
    ests = {e.name: e for e in M.build_estimators()}
    curves = LO.exact_curves(eta).set_index(["family", "size"])["exact_variance"]
    reps = EXP.at_scale("quick").n_reps
    checks = []
    t = vt.measure_variance(
        prob, [ests["reinforce"]], n_samples=list(range(1, 9)), n_reps=reps, seed=1, exact=False
    )
    checks += [
        (r.variance, r.variance_se, curves["reinforce", r.n])
        for r in t.itertuples()
        if r.kind == "coordinate"
    ]
    t = vt.measure_variance(
        prob, [ests["rloo"]], n_samples=list(range(2, 9)), n_reps=reps, seed=2, exact=False
    )
    checks += [
        (r.variance, r.variance_se, curves["rloo", r.n])
        for r in t.itertuples()
        if r.kind == "coordinate"
    ]
    sas = [ests[f"sas(k={k})"] for k in range(7)]
    t = vt.measure_variance(prob, sas, n_samples=[1], n_reps=reps, seed=3, exact=False)
    checks += [
        (r.variance, r.variance_se, curves["sum_and_sample", int(r.estimator[6:-1])])
        for r in t.itertuples()
        if r.kind == "coordinate"
    ]
    assert len(checks) == 22
    for v, se, truth in checks:
        assert abs(v - truth) <= Z_HUNDRED * se, (v, se, truth)


def test_tie_spread_table_against_the_library_oracle():
    t = LO.tie_spread_table().set_index(["eta", "k"])
    # the spread quoted in issue 17 (eta = 0: 8 equiprobable states)
    assert t.loc[(0.0, 1), "variance_min"] == pytest.approx(0.194274, abs=1e-6)
    assert t.loc[(0.0, 1), "variance_max"] == pytest.approx(0.373800, abs=1e-6)
    assert t.loc[(0.0, 6), "variance_min"] == pytest.approx(1.40625e-5, abs=1e-10)
    assert t.loc[(0.0, 6), "variance_max"] == pytest.approx(0.0813319, abs=1e-6)
    several = {(eta, k) for (eta, k), c in t["top_sets"].items() if c > 1}
    assert several == {(0.0, k) for k in range(1, 8)} | {(-4.0, k) for k in (2, 3, 5, 6)}
    for eta in M.ETAS:
        prob = M.problem(eta)
        for k in range(9):
            est = vt.make_estimator(sum_and_sample(k))
            _, v = sum_and_sample_moments(prob, est, 1)
            assert abs(v[0] - t.loc[(eta, k), "variance_random_ties"]) < ATOL
            order = LO.sum_and_sample_order(prob.dist.support()[1])[:k]
            _, v_fixed = sum_and_sample_moments(prob, est, 1, top=order)
            assert abs(v_fixed[0] - t.loc[(eta, k), "variance_support_order"]) < ATOL
            lo, hi = t.loc[(eta, k), ["variance_min", "variance_max"]]
            assert lo - ATOL <= v[0] <= hi + ATOL
