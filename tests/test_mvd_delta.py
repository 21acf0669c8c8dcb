"""The delta-method control variate on measure-valued batches."""

import numpy as np
import pytest

import vartools as vt
from vartools.control_variates.coefficients import delta_method, optimal_cv
from vartools.control_variates.features import delta_features
from vartools.core.objectives import Objective

Z = 4.9  # z for one comparison; stricter than the family-wise z (~5.2) for these four


def _quadratic(loc, scale, param="scale"):
    k = np.array([0.3, -1.2])
    c = np.array([1.5, 0.7])

    def f(x):
        return (c * (x - k) ** 2).sum(-1) + (x @ np.array([0.4, -0.9]))

    def g(x):
        return 2 * c * (x - k) + np.array([0.4, -0.9])

    dist = vt.Normal(loc, scale, parameterization=param)
    return vt.Problem("quad2", dist, Objective(f, g))


@pytest.mark.parametrize("param", ["scale", "log_scale"])
def test_mvd_delta_is_exact_for_a_quadratic(param):
    # f equals its second-order Taylor expansion, so with coefficient 1 the corrected
    # estimate is the exact gradient for every draw: variance 0, mean exact.
    prob = _quadratic(np.array([0.5, -0.2]), np.array([1.3, 0.6]), param)
    est = vt.make_estimator(
        vt.measure_valued, optimal_cv(delta_features(2), source="fixed", coef=1.0)
    )
    g, _ = est(prob, 3, rng=np.random.default_rng(0), reps=(50,))
    loc, sc = prob.dist.loc, prob.dist.scale
    c, k, b = np.array([1.5, 0.7]), np.array([0.3, -1.2]), np.array([0.4, -0.9])
    exact_loc = 2 * c * (loc - k) + b
    exact_scale = 2 * c * sc * (sc if param == "log_scale" else 1.0)
    np.testing.assert_allclose(
        g, np.broadcast_to(np.r_[exact_loc, exact_scale], g.shape), rtol=1e-12, atol=1e-12
    )


def test_mvd_delta_feature_mean_and_unbiasedness_on_a_non_quadratic():
    # cos is not quadratic: the corrected estimator must stay unbiased (mean within z SE of
    # the quadrature gradient) while the control variate lowers the variance.
    prob = vt.make_problem("gaussian_cost", cost="cos", k=1.5)
    plain = vt.make_estimator(vt.measure_valued)
    cv = vt.make_estimator(
        vt.measure_valued, optimal_cv(delta_features(2), source="fixed", coef=1.0)
    )
    t = vt.measure_variance(prob, [plain, cv], n_samples=[1], n_reps=40_000, seed=5, exact=False)
    rows = t[(t.kind == "coordinate") & (t.estimator == cv.name)]
    assert np.all(np.abs(rows["bias"]) <= Z * rows["bias_se"])
    # and the fixed coefficient 1 changes the variance (the feature is not zero)
    plain_rows = t[(t.kind == "coordinate") & (t.estimator == plain.name)]
    assert not np.allclose(rows["variance"].to_numpy(), plain_rows["variance"].to_numpy())


def test_mvd_delta_running_coefficient_is_unbiased():
    prob = vt.make_problem("gaussian_cost", cost="bump", k=0.7)
    est = vt.make_estimator(vt.measure_valued, delta_method(2, "running"))
    t = vt.measure_variance(prob, [est], n_samples=[2], n_reps=40_000, seed=6, exact=False)
    rows = t[t.kind == "coordinate"]
    assert np.all(np.abs(rows["bias"]) <= Z * rows["bias_se"])
