"""Slow: the 95% CI of the variance covers the exact variance at the stated rate.

400 independent measurements (independent seeds) of a skewed score-function estimator,
each through ``measure_variance``; the number of intervals covering the exact variance
must lie within z = 4.9 binomial standard deviations of 0.95 * 400 (family-wise error
1e-6). The normal-theory chi-square interval is checked to be miscalibrated on the same
replicates, which shows the test has the power to see a wrong interval.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import Z_ONE, normal_problem
from scipy import stats

import vartools as vt
from vartools.oracles import exact

TRIALS = 400
LEVEL = 0.95


def _coverage(prob: vt.Problem, n: int, n_reps: int, exact_var: np.ndarray):
    est = vt.make_estimator(vt.score_function)
    covered = np.zeros(prob.dist.n_params, dtype=int)
    chi2_covered = np.zeros(prob.dist.n_params, dtype=int)
    for seed in range(TRIALS):
        t = vt.measure_variance(
            prob, est, n_samples=[n], n_reps=n_reps, seed=10_000 + seed, exact=False, truth=None
        )
        t = t[t["kind"] == "coordinate"]
        lo, hi = t["variance_lo"].to_numpy(), t["variance_hi"].to_numpy()
        covered += (lo <= exact_var) & (exact_var <= hi)
        # the normal-theory interval (R - 1) s^2 / chi2 quantiles, for contrast
        v = t["variance"].to_numpy()
        df = n_reps - 1
        c_lo = df * v / stats.chi2.ppf(0.5 + LEVEL / 2, df)
        c_hi = df * v / stats.chi2.ppf(0.5 - LEVEL / 2, df)
        chi2_covered += (c_lo <= exact_var) & (exact_var <= c_hi)
    return covered, chi2_covered


def _tolerance() -> float:
    return Z_ONE * np.sqrt(TRIALS * LEVEL * (1 - LEVEL))


@pytest.mark.slow
def test_variance_ci_coverage_sf_on_a_skewed_bernoulli():
    # P(b = 1) = sigmoid(-2.5) ~ 0.076: the SF estimate f (b - p) is strongly skewed
    prob = vt.Problem(
        "skewed_bern",
        vt.Bernoulli(np.array([-2.5, 0.5])),
        lambda b: 3.0 + b[..., 0] * (1 + b[..., 1]),
    )
    n = 2
    _, exact_var = exact.exact_moments(prob, vt.make_estimator(vt.score_function), n)
    covered, chi2_covered = _coverage(prob, n, 1000, exact_var)
    assert np.all(np.abs(covered - LEVEL * TRIALS) <= _tolerance()), covered
    assert np.any(np.abs(chi2_covered - LEVEL * TRIALS) > _tolerance()), chi2_covered


@pytest.mark.slow
def test_variance_ci_coverage_sf_on_a_normal():
    # f = cos(1.5 x), x ~ N(1, 1): SF estimates with skewness 1.7 (loc) and excess kurtosis
    # 45 (scale). (For f = (x - 2)^2 the scale term's influence has a 16th-moment tail and
    # the interval needs R ~ 16000 to approach 95%; see the report of issue 2.)
    prob = normal_problem("cos", 1.5)
    n = 1
    _, exact_var = exact.exact_moments(prob, vt.make_estimator(vt.score_function), n)
    covered, chi2_covered = _coverage(prob, n, 2000, exact_var)
    assert np.all(np.abs(covered - LEVEL * TRIALS) <= _tolerance()), covered
    assert np.any(np.abs(chi2_covered - LEVEL * TRIALS) > _tolerance()), chi2_covered
