"""Exact oracles: enumeration and quadrature against independent computations.

- the exact gradient equals a central difference of the exact expectation (which never
  uses the score);
- closed forms: Gaussian moments for f = (x - k)^2, E[cos(k x)], E[exp(-k x^2)];
- the variance formulas (baseline_variance, optimal_baseline_variance, rloo_variance)
  equal the variance of the actual estimator by n-sample enumeration (discrete) or a
  tensor Gauss-Hermite rule over the K samples (Normal).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from conftest import (
    ATOL,
    bern_problem,
    cat1_problem,
    cat_problem,
    central_difference,
    normal_problem,
)

import vartools as vt
from vartools.oracles import exact

DISCRETE = {"bern3": bern_problem, "cat2x3": cat_problem, "cat4": cat1_problem}
NORMAL_CASES = [
    (c, k, ls) for c, k in [("square", 2.0), ("bump", 0.7), ("cos", 2.5)] for ls in (0, 1)
]


@pytest.mark.parametrize("name", sorted(DISCRETE))
def test_exact_gradient_equals_difference_of_exact_expectation_discrete(name):
    prob = DISCRETE[name]()
    fd = central_difference(
        lambda t: exact.exact_expectation(prob.with_params(t)), prob.dist.params, 1e-5
    )
    np.testing.assert_allclose(exact.exact_gradient(prob), fd, atol=1e-9)


@pytest.mark.parametrize(("cost", "k", "log_scale"), NORMAL_CASES)
def test_exact_gradient_equals_difference_of_exact_expectation_normal(cost, k, log_scale):
    prob = normal_problem(cost, k, log_scale=bool(log_scale), loc=1.0, scale=1.3)
    fd = central_difference(
        lambda t: exact.exact_expectation(prob.with_params(t)), prob.dist.params, 1e-4
    )
    np.testing.assert_allclose(exact.exact_gradient(prob), fd, rtol=1e-7, atol=1e-8)


def _closed_form_expectation(cost: str, k: float, mu: float, s: float) -> float:
    if cost == "square":
        return (mu - k) ** 2 + s**2
    if cost == "cos":
        return math.cos(k * mu) * math.exp(-0.5 * k * k * s * s)
    c = 1 + 2 * k * s * s
    return math.exp(-k * mu * mu / c) / math.sqrt(c)


@pytest.mark.parametrize(("cost", "k"), [("square", 2.0), ("bump", 0.7), ("cos", 2.5)])
@pytest.mark.parametrize(("mu", "s"), [(1.0, 1.0), (8.0, 0.05), (-3.0, 4.0)])
def test_quadrature_expectations_match_gaussian_closed_forms(cost, k, mu, s):
    """Far from the origin and narrow, or wide: the quadrature covers the whole line."""
    prob = normal_problem(cost, k, loc=mu, scale=s)
    ref = _closed_form_expectation(cost, k, mu, s)
    assert exact.exact_expectation(prob) == pytest.approx(ref, rel=1e-9, abs=1e-12)
    # gradient of the closed form, by central differences in (mu, s)
    h = 1e-6 * max(1.0, s)
    g_ref = [
        (
            _closed_form_expectation(cost, k, mu + h, s)
            - _closed_form_expectation(cost, k, mu - h, s)
        )
        / (2 * h),
        (
            _closed_form_expectation(cost, k, mu, s + h)
            - _closed_form_expectation(cost, k, mu, s - h)
        )
        / (2 * h),
    ]
    np.testing.assert_allclose(exact.exact_gradient(prob), g_ref, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(("mu", "s", "k"), [(1.0, 1.0, 2.0), (1.0, 1.0, -3.0), (0.5, 2.0, 0.5)])
def test_square_cost_single_sample_variances_by_hand(mu, s, k):
    """f = (x - k)^2, x = mu + s e, a = mu - k, Gaussian moments E e^2,4,6,8 = 1, 3, 15, 105.

    SF: Var_mu = (a^4 + 18 a^2 s^2 + 15 s^4) / s^2 - 4 a^2,
        Var_s = (2 a^4 + 60 a^2 s^2 + 78 s^4) / s^2 - 4 s^2.
    Pathwise: Var_mu = 4 s^2, Var_s = 4 a^2 + 8 s^2.  Gradient (2 a, 2 s).
    """
    prob = normal_problem("square", k, loc=mu, scale=s)
    a = mu - k
    g = np.array([2 * a, 2 * s])
    sf_var = np.array(
        [
            (a**4 + 18 * a**2 * s**2 + 15 * s**4) / s**2 - 4 * a**2,
            (2 * a**4 + 60 * a**2 * s**2 + 78 * s**4) / s**2 - 4 * s**2,
        ]
    )
    pw_var = np.array([4 * s**2, 4 * a**2 + 8 * s**2])
    for n in (1, 3):
        mean, var = exact.exact_moments(prob, vt.make_estimator(vt.score_function), n)
        np.testing.assert_allclose(mean, g, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(var, sf_var / n, rtol=1e-9)
        mean, var = exact.exact_moments(prob, vt.make_estimator(vt.pathwise), n)
        np.testing.assert_allclose(mean, g, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(var, pw_var / n, rtol=1e-9)
    m = exact.sf_moments(prob)
    np.testing.assert_allclose(m.m0, [1 / s**2, 2 / s**2], rtol=1e-10)
    np.testing.assert_allclose(exact.baseline_variance(m, 0.0), sf_var, rtol=1e-9)
    assert m.ef == pytest.approx(a * a + s * s, rel=1e-10)
    assert m.ef2 == pytest.approx(a**4 + 6 * a * a * s * s + 3 * s**4, rel=1e-10)


def _joint_moments_by_enumeration(prob, est, n):
    """Independent reimplementation of exact_moments for discrete problems (itertools)."""
    xs, w = prob.dist.support()
    ests, ws = [], []
    for idx in itertools.product(range(len(xs)), repeat=n):
        x = xs[list(idx)][None]  # (1, n, *event)
        ests.append(est.from_samples(prob, x).estimate[0])
        ws.append(np.prod(w[list(idx)]))
    ests, ws = np.array(ests), np.array(ws)
    mean = ws @ ests
    return mean, ws @ (ests - mean) ** 2


@pytest.mark.parametrize("name", ["bern3", "cat4"])
def test_exact_moments_matches_a_loop_over_the_joint_support(name):
    prob = DISCRETE[name]()
    est = vt.make_estimator(vt.score_function, vt.constant_baseline(0.5), vt.loo_baseline())
    mean, var = exact.exact_moments(prob, est, 3)
    mean2, var2 = _joint_moments_by_enumeration(prob, est, 3)
    np.testing.assert_allclose(mean, mean2, atol=ATOL)
    np.testing.assert_allclose(var, var2, atol=ATOL)


@pytest.mark.parametrize("name", sorted(DISCRETE))
@pytest.mark.parametrize("n", [1, 2, 3])
def test_baseline_variance_formulas_match_enumeration(name, n):
    prob = DISCRETE[name]()
    m = exact.sf_moments(prob)
    p = prob.dist.n_params
    b_vec = np.linspace(-1.0, 2.0, p)
    for cvs, b in [
        ((), 0.0),
        ((vt.constant_baseline(1.4),), 1.4),
        ((vt.constant_baseline(b_vec),), b_vec),
    ]:
        _, var = exact.exact_moments(prob, vt.make_estimator(vt.score_function, *cvs), n)
        np.testing.assert_allclose(var, exact.baseline_variance(m, b) / n, rtol=1e-11, atol=ATOL)
    # the optimal baseline b* = M1 / M0 per coordinate
    b_star = m.m1 / m.m0
    _, var = exact.exact_moments(
        prob, vt.make_estimator(vt.score_function, vt.constant_baseline(b_star)), n
    )
    opt = exact.optimal_baseline_variance(m)
    np.testing.assert_allclose(var, opt / n, rtol=1e-11, atol=ATOL)
    for delta in (-0.3, 0.3):
        assert np.all(exact.baseline_variance(m, b_star + delta) > opt)


@pytest.mark.parametrize("name", sorted(DISCRETE))
@pytest.mark.parametrize("k", [2, 3, 4])
def test_rloo_variance_formula_matches_enumeration(name, k):
    prob = DISCRETE[name]()
    m = exact.sf_moments(prob)
    est = vt.make_estimator(vt.score_function, vt.loo_baseline())
    mean, var = exact.exact_moments(prob, est, k)
    np.testing.assert_allclose(mean, m.g, atol=ATOL)
    np.testing.assert_allclose(var, exact.rloo_variance(m, k), rtol=1e-11, atol=ATOL)


def test_sf_moments_match_direct_sums():
    prob = cat_problem()
    x, w = prob.dist.support()
    f = prob.f(x)
    s = prob.dist.score(x[:, None])[:, 0]
    m = exact.sf_moments(prob)
    np.testing.assert_allclose(m.g, w @ (f[:, None] * s), atol=ATOL)
    np.testing.assert_allclose(m.m2, w @ (f[:, None] ** 2 * s**2), atol=ATOL)
    np.testing.assert_allclose(m.m1, w @ (f[:, None] * s**2), atol=ATOL)
    np.testing.assert_allclose(m.m0, w @ s**2, atol=ATOL)
    assert m.ef == pytest.approx(w @ f, abs=ATOL)
    assert m.ef2 == pytest.approx(w @ f**2, abs=ATOL)


def _gauss_hermite_moments(prob, est, k: int, nodes: int):
    """Mean and variance of the K-sample estimate by a tensor Gauss-Hermite rule over (e_1..e_K)."""
    t, wt = np.polynomial.hermite_e.hermegauss(nodes)
    wt = wt / wt.sum()
    grids = np.meshgrid(*([t] * k), indexing="ij")
    e = np.stack([g.ravel() for g in grids], axis=-1)[..., None]  # (nodes^K, K, 1)
    w = np.prod(np.meshgrid(*([wt] * k), indexing="ij"), axis=0).ravel()
    g = est.from_noise(prob, e).estimate
    mean = w @ g
    return mean, w @ (g - mean) ** 2


@pytest.mark.parametrize(("cost", "k_f"), [("square", 2.0), ("bump", 0.7), ("cos", 1.5)])
@pytest.mark.parametrize("log_scale", [False, True])
def test_normal_oracles_match_tensor_gauss_hermite(cost, k_f, log_scale):
    """exact_moments (cubature, and the RLOO formula) vs brute-force K-dimensional quadrature."""
    prob = normal_problem(cost, k_f, log_scale=log_scale, loc=0.6, scale=0.9)
    ests = {
        "sf": vt.make_estimator(vt.score_function),
        "sf+const": vt.make_estimator(vt.score_function, vt.constant_baseline(0.8)),
        "pathwise": vt.make_estimator(vt.pathwise),
        "sf+loo": vt.make_estimator(vt.score_function, vt.loo_baseline()),
    }
    for name, est in ests.items():
        for kk in (2, 3):
            mean, var = exact.exact_moments(prob, est, kk)
            gh_mean, gh_var = _gauss_hermite_moments(prob, est, kk, 64 if kk == 2 else 48)
            np.testing.assert_allclose(mean, gh_mean, rtol=1e-9, atol=1e-11, err_msg=name)
            np.testing.assert_allclose(var, gh_var, rtol=1e-8, atol=1e-11, err_msg=name)


def test_rloo_is_worse_than_sf_at_small_k_somewhere():
    """Kool et al. (2019): small K can be worse than plain SF; the formula shows both regimes."""
    prob = vt.Problem(
        "far", vt.Bernoulli(np.array([2.0, -1.0])), lambda b: 10 + b[..., 0] * b[..., 1]
    )
    m = exact.sf_moments(prob)
    assert np.all(exact.rloo_variance(m, 2) < exact.baseline_variance(m, 0.0) / 2)
    prob0 = vt.Problem(
        "centred", vt.Bernoulli(np.array([2.0, -1.0])), lambda b: b[..., 0] * b[..., 1] - 0.11
    )
    m0 = exact.sf_moments(prob0)
    assert np.any(exact.rloo_variance(m0, 2) > exact.baseline_variance(m0, 0.0) / 2)


def test_has_oracle():
    assert exact.has_oracle(bern_problem())
    assert exact.has_oracle(normal_problem("cos", 1.0))
    two_d = vt.Problem("n2", vt.Normal([0.0, 1.0], [1.0, 1.0]), lambda x: x.sum(-1))
    assert not exact.has_oracle(two_d)
