import math

import numpy as np
import pytest

import vartools as vt
from vartools.core.objectives import Objective, square_distance
from vartools.estimators.measure_valued import measure_valued, mvd_moments
from vartools.oracles.exact import exact_gradient

ZMANY = 5.7


@pytest.mark.parametrize(
    "cost,k", [("square", 0.5), ("square", -2.0), ("cos", 3.0), ("bump", 1.0), ("bump", 8.0)]
)
def test_mvd_unbiased_by_quadrature(cost, k):
    prob = vt.make_problem("gaussian_cost", cost=cost, k=k)
    mean, var = mvd_moments(prob)
    np.testing.assert_allclose(mean, exact_gradient(prob), rtol=1e-8, atol=1e-10)
    assert np.all(var > 0)


@pytest.mark.parametrize("loc,scale,k", [(1.0, 1.0, 0.5), (-0.5, 2.0, 1.0), (3.0, 0.3, 3.0)])
def test_mvd_variance_closed_form_for_a_square(loc, scale, k):
    # f = (x - k)^2, a = loc - k: mean part 4 w a / sqrt(2 pi) with Var(w) = (4 - pi) / 2;
    # scale part 2 a m (1 - u) + scale m^2 (1 - u^2) with E m^2 = 3, E m^4 = 15
    prob = vt.make_problem("gaussian_cost", cost="square", k=k, loc=loc, scale=scale)
    a = loc - k
    mean, var = mvd_moments(prob, n=2)
    np.testing.assert_allclose(mean, [2 * a, 2 * scale], rtol=1e-9, atol=1e-10)
    want = np.array([4 * a * a * (4 - math.pi) / math.pi, 4 * a * a + 4 * scale**2]) / 2
    np.testing.assert_allclose(var, want, rtol=1e-8, atol=1e-12)


def test_mvd_log_scale_chain_rule():
    f = square_distance(0.5)
    p1 = vt.Problem("s", vt.Normal([1.3], [0.8]), f)
    p2 = vt.Problem("ls", vt.Normal.from_log_scale([1.3], [math.log(0.8)]), f)
    m1, v1 = mvd_moments(p1)
    m2, v2 = mvd_moments(p2)
    np.testing.assert_allclose(m2, m1 * [1.0, 0.8], rtol=1e-9)
    np.testing.assert_allclose(v2, v1 * [1.0, 0.64], rtol=1e-9)
    np.testing.assert_allclose(m2, exact_gradient(p2), rtol=1e-8)


@pytest.mark.parametrize("cost,k", [("cos", 2.0), ("square", 0.5)])
def test_mvd_monte_carlo_matches_quadrature(cost, k):
    prob = vt.make_problem("gaussian_cost", cost=cost, k=k)
    est = vt.make_estimator(measure_valued)
    n = 2
    t = vt.measure_variance(prob, est, n_samples=n, n_reps=4000, seed=9)
    rows = t[t["kind"] == "coordinate"]
    assert np.all(np.abs(rows["bias"]) <= ZMANY * rows["bias_se"])
    _, v = mvd_moments(prob, n)
    assert np.all(np.abs(rows["variance"].to_numpy() - v) <= ZMANY * rows["variance_se"].to_numpy())
    assert set(t["n_evals"]) == {4 * n}  # 2 evaluations per parameter per sample, p = 2


@pytest.mark.parametrize("log_scale", [False, True])
def test_mvd_multivariate_non_separable(log_scale):
    # f = x0^2 x1 + x0 x1 + 1[x1 > 0] (discontinuous: no gradient needed), closed form
    def val(x):
        return x[..., 0] ** 2 * x[..., 1] + x[..., 0] * x[..., 1] + (x[..., 1] > 0)

    mu, sd = np.array([0.7, -0.4]), np.array([1.2, 0.6])
    dist = vt.Normal.from_log_scale(mu, np.log(sd)) if log_scale else vt.Normal(mu, sd)
    prob = vt.Problem("nd", dist, Objective(val))
    phi = math.exp(-0.5 * (mu[1] / sd[1]) ** 2) / math.sqrt(2 * math.pi)
    g_mu = [2 * mu[0] * mu[1] + mu[1], mu[0] ** 2 + sd[0] ** 2 + mu[0] + phi / sd[1]]
    g_sd = np.array([2 * sd[0] * mu[1], -mu[1] * phi / sd[1] ** 2])
    truth = np.concatenate([g_mu, g_sd * sd if log_scale else g_sd])
    est = vt.make_estimator(measure_valued)
    t = vt.measure_variance(prob, est, n_samples=3, n_reps=4000, seed=10, truth=truth)
    rows = t[t["kind"] == "coordinate"]
    assert np.all(np.abs(rows["bias"]) <= ZMANY * rows["bias_se"])
    assert set(t["n_evals"]) == {4 * 2 * 3}


def test_mvd_batch_and_errors():
    prob = vt.make_problem("gaussian_cost", cost="cos", k=1.0)
    b, _ = vt.make_estimator(measure_valued).batch(prob, 4, rng=np.random.default_rng(0), reps=(3,))
    assert b.x.shape == (3, 4, 1) and b.terms.shape == (3, 4, 2)
    np.testing.assert_allclose(b.fx, prob.evaluate(b.x))
    np.testing.assert_allclose(
        b.x[..., 0], 1.0 + b.info["uniform"][..., 0] * b.info["maxwell"][..., 0]
    )
    assert np.all(b.info["weibull"] > 0)
    with pytest.raises(TypeError, match="diagonal Normal"):
        vt.make_estimator(measure_valued)(
            vt.make_problem("liu_toy"), 2, rng=np.random.default_rng(0)
        )
    with pytest.raises(TypeError, match="noise mapping"):
        vt.make_estimator(measure_valued).from_noise(prob, np.zeros((1, 1)))
    two = vt.Problem("two", vt.Normal([0.0, 0.0], [1.0, 1.0]), lambda x: x.sum(-1))
    with pytest.raises(ValueError, match="one-dimensional"):
        mvd_moments(two)
