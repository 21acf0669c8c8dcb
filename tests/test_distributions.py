"""Distributions: scores, densities, supports, sampling and pathwise terms, checked exactly."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import ATOL, Z_HUNDRED, central_difference
from scipy import special, stats

import vartools as vt
from vartools.core.objectives import Objective
from vartools.oracles import exact

DISTS = {
    "bernoulli": lambda: vt.Bernoulli(np.array([0.3, -1.1, 2.0])),
    "bernoulli2d": lambda: vt.Bernoulli(np.array([[0.3, -1.1], [2.0, -0.2]])),
    "categorical": lambda: vt.Categorical(np.array([0.1, -0.3, 0.7, -1.2])),
    "categorical_batch": lambda: vt.Categorical(np.array([[0.2, -0.5, 1.0], [-1.0, 0.4, 0.3]])),
    # many categories: the guide-table search takes several passes
    "categorical_wide": lambda: vt.Categorical(3.0 * np.random.default_rng(0).normal(size=(3, 50))),
    # very uneven probabilities: the inverse CDF falls back to a binary search
    "categorical_uneven": lambda: vt.Categorical(np.linspace(0.0, 12.0, 40)),
    "categorical_extreme": lambda: vt.Categorical(np.array([[50.0, -50.0, 0.0], [-50, -50, 50]])),
    "normal": lambda: vt.Normal(np.array([0.5, -1.0]), np.array([0.7, 2.0])),
    "normal_scalar": lambda: vt.Normal(0.5, 1.5),
    "normal_log_scale": lambda: vt.Normal.from_log_scale([0.5, -1.0], [-0.3, 0.6]),
}


def _points(dist: vt.Distribution) -> np.ndarray:
    """Outcomes of shape (2, 5, *event): every discrete outcome class appears."""
    return dist.sample(5, rng=np.random.default_rng(1), reps=(2,))


@pytest.mark.parametrize("name", sorted(DISTS))
def test_score_equals_central_difference_of_log_prob(name):
    dist = DISTS[name]()
    x = _points(dist)
    theta = dist.params
    fd = central_difference(lambda t: dist.with_params(t).log_prob(x), theta, 1e-5)
    score = dist.score(x)
    assert score.shape == (2, 5, dist.n_params)
    # central differences with h = 1e-5: truncation ~h^2, rounding ~1e-16 / h
    np.testing.assert_allclose(score, fd, rtol=0, atol=1e-8)


@pytest.mark.parametrize("name", sorted(DISTS))
def test_log_prob_matches_scipy(name):
    dist = DISTS[name]()
    x = _points(dist)
    lp = dist.log_prob(x)
    assert lp.shape == (2, 5)
    if isinstance(dist, vt.Bernoulli):
        p = special.expit(dist.logits)
        ref = stats.bernoulli.logpmf(x, p).reshape(2, 5, -1).sum(-1)
    elif isinstance(dist, vt.Categorical):
        probs = special.softmax(dist.logits, axis=-1).reshape(-1, dist.n_categories)
        flat = x.reshape(2, 5, -1)
        ref = np.log(probs[np.arange(flat.shape[-1]), flat]).sum(-1)
    else:
        ref = stats.norm.logpdf(x, dist.loc, dist.scale).reshape(2, 5, -1).sum(-1)
    np.testing.assert_allclose(lp, ref, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("name", ["bernoulli", "bernoulli2d", "categorical", "categorical_batch"])
def test_support_probabilities_and_zero_mean_score(name):
    dist = DISTS[name]()
    x, w = dist.support()
    assert x.shape[1:] == dist.event_shape
    assert len(np.unique(x.reshape(len(x), -1), axis=0)) == len(x)  # no duplicates
    assert abs(w.sum() - 1.0) < ATOL
    assert np.all(w > 0)
    # probabilities from first principles (independent coordinates)
    flat = x.reshape(len(x), -1)
    if isinstance(dist, vt.Bernoulli):
        p = special.expit(dist.logits).ravel()
        ref = np.prod(np.where(flat == 1, p, 1 - p), axis=-1)
        expected_count = 2**dist.n_params
    else:
        probs = special.softmax(dist.logits, axis=-1).reshape(-1, dist.n_categories)
        ref = np.prod(probs[np.arange(flat.shape[1]), flat], axis=-1)
        expected_count = dist.n_categories ** flat.shape[1]
    assert len(x) == expected_count
    np.testing.assert_allclose(w, ref, rtol=1e-13)
    s = dist.score(x[:, None])[:, 0]
    np.testing.assert_allclose(w @ s, 0.0, atol=ATOL)
    # Fisher information E[s s^T] from the closed form (block-diagonal, p(1-p) / diag - pp^T)
    fisher = np.einsum("m,mi,mj->ij", w, s, s)
    if isinstance(dist, vt.Bernoulli):
        q = special.expit(dist.logits).ravel()
        ref_fisher = np.diag(q * (1 - q))
    else:
        blocks = [np.diag(pr) - np.outer(pr, pr) for pr in probs]
        k = dist.n_categories
        ref_fisher = np.zeros((len(blocks) * k,) * 2)
        for j, blk in enumerate(blocks):
            ref_fisher[j * k : (j + 1) * k, j * k : (j + 1) * k] = blk
    np.testing.assert_allclose(fisher, ref_fisher, atol=ATOL)


@pytest.mark.parametrize("log_scale", [False, True])
def test_normal_score_zero_mean_and_fisher_by_quadrature(log_scale):
    loc, scale = 3.0, 0.4  # far from the origin and narrow
    dist = (
        vt.Normal.from_log_scale([loc], [np.log(scale)]) if log_scale else vt.Normal([loc], [scale])
    )
    prob = vt.Problem("n", dist, lambda x: x[..., 0])

    def integrand(x, e):
        s = dist.score(x)[:, 0, :]
        return np.concatenate([np.ones((len(x), 1)), s, s * s, s[:, :1] * s[:, 1:]], axis=-1)

    v = exact.quadrature(prob, integrand)
    assert abs(v[0] - 1.0) < 1e-10  # the density integrates to one
    np.testing.assert_allclose(v[1:3], 0.0, atol=1e-10)
    fisher = [1 / scale**2, 2.0 if log_scale else 2 / scale**2]
    np.testing.assert_allclose(v[3:5], fisher, rtol=1e-10)
    assert abs(v[5]) < 1e-10


def test_bernoulli_support_order_first_coordinate_slowest():
    x, _ = vt.Bernoulli(np.zeros(3)).support()
    np.testing.assert_array_equal(x, np.array(list(itertools.product([0.0, 1.0], repeat=3))))


@pytest.mark.parametrize("name", sorted(DISTS))
@pytest.mark.parametrize("reps", [(), (3,), (2, 3)])
def test_sample_equals_transform_of_noise_and_shapes(name, reps):
    dist = DISTS[name]()
    x = dist.sample(4, rng=np.random.default_rng(7), reps=reps)
    noise = dist.sample_noise(4, rng=np.random.default_rng(7), reps=reps)
    assert x.shape == (*reps, 4, *dist.event_shape)
    assert noise.shape == x.shape
    np.testing.assert_array_equal(x, dist.transform(noise))
    assert dist.log_prob(x).shape == (*reps, 4)
    assert dist.score(x).shape == (*reps, 4, dist.n_params)
    if dist.enumerable:
        np.testing.assert_array_equal(dist.noise_from_uniform(noise), noise)


@pytest.mark.parametrize(
    "name",
    [
        "bernoulli",
        "categorical",
        "categorical_batch",
        "categorical_wide",
        "categorical_uneven",
        "categorical_extreme",
    ],
)
def test_inverse_cdf_is_exact_on_a_stratified_grid(name):
    """Equally spaced uniforms: each outcome's share of the grid is its probability to 1/M."""
    dist = DISTS[name]()
    m = 100_000
    u = (np.arange(m) + 0.5) / m
    shape = (m, 1, *dist.event_shape)
    noise = np.broadcast_to(u.reshape(m, 1, *([1] * len(dist.event_shape))), shape)
    x = dist.transform(np.ascontiguousarray(noise))[:, 0]
    if isinstance(dist, vt.Bernoulli):
        share = x.reshape(m, -1).mean(0)
        np.testing.assert_allclose(share, special.expit(dist.logits).ravel(), atol=1.0 / m)
        # x = 1[u > 1 - p]: ones exactly at the top of the unit interval
        p = special.expit(dist.logits).ravel()
        np.testing.assert_array_equal(x.reshape(m, -1), (u[:, None] > 1 - p).astype(float))
    else:
        probs = special.softmax(dist.logits, axis=-1).reshape(-1, dist.n_categories)
        flat = x.reshape(m, -1)
        for j in range(flat.shape[1]):
            share = np.bincount(flat[:, j], minlength=dist.n_categories) / m
            np.testing.assert_allclose(share, probs[j], atol=1.0 / m)
            # monotone in u: the inverse CDF
            assert np.all(np.diff(flat[:, j]) >= 0)
        assert x.dtype == np.int64


def test_categorical_sampling_frequencies_within_standard_errors():
    dist = DISTS["categorical_batch"]()
    n = 200_000
    x = dist.sample(n, rng=np.random.default_rng(3))
    probs = dist.probs
    for j in range(2):
        freq = np.bincount(x[:, j], minlength=3) / n
        se = np.sqrt(probs[j] * (1 - probs[j]) / n)
        assert np.all(np.abs(freq - probs[j]) <= Z_HUNDRED * se)


def test_bernoulli_sampling_frequencies_within_standard_errors():
    dist = DISTS["bernoulli2d"]()
    n = 200_000
    x = dist.sample(n, rng=np.random.default_rng(4))
    p = dist.probs
    se = np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(x.mean(0) - p) <= Z_HUNDRED * se)


def test_normal_noise_from_uniform_is_the_normal_quantile():
    dist = vt.Normal(0.0, 1.0)
    u = np.array([[1e-300, 0.025, 0.5, 0.975, 1.0 - 1e-17, 0.0, 1.0]])
    e = dist.noise_from_uniform(u)
    assert np.all(np.isfinite(e))
    np.testing.assert_allclose(e[0, 1:4], stats.norm.ppf(u[0, 1:4]), rtol=1e-14)
    assert np.all(np.diff(e[0, :5]) > 0)


def _nonsep_objective() -> Objective:
    def value(x):
        return x[..., 0] * x[..., 1] + np.sin(x[..., 0]) + 0.5 * x[..., 1] ** 2

    def grad(x):
        g = np.empty_like(x)
        g[..., 0] = x[..., 1] + np.cos(x[..., 0])
        g[..., 1] = x[..., 0] + x[..., 1]
        return g

    return Objective(value, grad, "x0 x1 + sin x0 + x1^2/2")


@pytest.mark.parametrize("log_scale", [False, True])
def test_transform_vjp_equals_finite_difference_of_f_of_transform(log_scale):
    dist = (
        vt.Normal.from_log_scale([0.5, -1.0], [-0.3, 0.6])
        if log_scale
        else vt.Normal([0.5, -1.0], [0.7, 2.0])
    )
    f = _nonsep_objective()
    noise = dist.sample_noise(6, rng=np.random.default_rng(2), reps=(3,))
    fd = central_difference(lambda t: f(dist.with_params(t).transform(noise)), dist.params, 1e-6)
    terms = dist.transform_vjp(noise, f.grad(dist.transform(noise)))
    assert terms.shape == (3, 6, 4)
    np.testing.assert_allclose(terms, fd, rtol=0, atol=1e-7)


def test_params_roundtrip_names_and_unflatten():
    d = vt.Normal([0.5, -1.0], [0.7, 2.0])
    np.testing.assert_array_equal(d.params, [0.5, -1.0, 0.7, 2.0])
    assert d.param_names == ("loc[0]", "loc[1]", "scale[0]", "scale[1]")
    blocks = d.unflatten(np.arange(8.0).reshape(2, 4))
    np.testing.assert_array_equal(blocks["loc"], [[0, 1], [4, 5]])
    np.testing.assert_array_equal(blocks["scale"], [[2, 3], [6, 7]])
    dl = vt.Normal.from_log_scale([0.5], [np.log(2.0)])
    np.testing.assert_allclose(dl.params, [0.5, np.log(2.0)], rtol=1e-15)
    np.testing.assert_allclose(dl.with_params(dl.params).scale, [2.0], rtol=1e-15)
    assert dl.with_params(dl.params).parameterization == "log_scale"
    c = vt.Categorical(np.arange(6.0).reshape(2, 3))
    assert c.param_names[4] == "logits[1,1]"
    np.testing.assert_array_equal(c.with_params(c.params).logits, c.logits)
    b = vt.Bernoulli(np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert b.unflatten(b.params)["logits"].shape == (2, 2)
    np.testing.assert_array_equal(b.with_params(b.params).logits, b.logits)
    # the parameters are frozen: neither the dataclass nor its arrays can be changed
    with pytest.raises(AttributeError):
        b.logits = np.zeros(2)  # type: ignore[misc]
    with pytest.raises(ValueError):
        b.logits[0, 0] = 5.0


def test_distribution_does_not_alias_the_callers_array():
    logits = np.array([0.0, 1.0])
    d = vt.Bernoulli(logits)
    logits[0] = 9.0
    assert d.logits[0] == 0.0


@pytest.mark.parametrize(
    "dist",
    [
        vt.Bernoulli(np.array([50.0, -50.0, 0.0])),
        vt.Categorical(np.array([[50.0, -50.0, 0.0], [-50.0, -50.0, 50.0]])),
    ],
    ids=["bernoulli", "categorical"],
)
def test_extreme_logits_are_stable(dist):
    """+-50 logits: no overflow, NaN or RuntimeWarning (warnings are errors in pytest)."""
    x = dist.sample(1000, rng=np.random.default_rng(0), reps=(2,))
    for arr in (dist.log_prob(x), dist.score(x)):
        assert np.all(np.isfinite(arr))
    xs, w = dist.support()
    assert abs(w.sum() - 1.0) < ATOL
    lp = dist.log_prob(xs[:, None])[:, 0]
    assert np.all(np.isfinite(lp))
    assert lp.min() < -99  # the improbable outcomes keep their tiny, exact log mass
    s = dist.score(xs[:, None])[:, 0]
    np.testing.assert_allclose(w @ s, 0.0, atol=ATOL)
    # the likely outcome is drawn, the impossible-looking one essentially never
    assert np.all(np.isfinite(x))
    prob = vt.Problem("extreme", dist, lambda z: np.cos(z.reshape(*z.shape[:2], -1).sum(-1)))
    g = exact.exact_gradient(prob)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(
        g,
        central_difference(
            lambda t: exact.exact_expectation(prob.with_params(t)), dist.params, 1e-4
        ),
        atol=1e-9,
    )


def test_extreme_logit_bernoulli_score_values():
    d = vt.Bernoulli(np.array([50.0, -50.0]))
    s = d.score(np.array([[0.0, 1.0]]))
    np.testing.assert_allclose(s, [[-1.0, 1.0]], atol=1e-21)
    lp = d.log_prob(np.array([[0.0, 1.0]]))
    np.testing.assert_allclose(lp, [-100.0], rtol=1e-14)


@pytest.mark.parametrize(
    "name",
    [
        "categorical",
        "categorical_batch",
        "categorical_wide",
        "categorical_uneven",
        "categorical_extreme",
    ],
)
def test_categorical_transform_is_the_smallest_k_with_cdf_above_u(name):
    """Brute force #{k : cdf_k <= u}, for random uniforms and for u on and just below each cdf_k."""
    dist = DISTS[name]()
    k = dist.n_categories
    cdf = np.cumsum(special.softmax(dist.logits, axis=-1), axis=-1).reshape(-1, k)
    cdf[:, -1] = 1.0
    nb = cdf.shape[0]
    edges = cdf[:, :-1].T  # (k - 1, nb): u exactly on a cdf value, and one ulp below it
    u = np.concatenate(
        [
            np.random.default_rng(0).random((5000, nb)),
            edges,
            np.nextafter(edges, -np.inf),
            np.zeros((1, nb)),
            np.full((1, nb), np.nextafter(1.0, 0.0)),
        ]
    )
    u = np.clip(u, 0.0, np.nextafter(1.0, 0.0))
    ref = np.minimum((u[..., None] >= cdf).sum(-1), k - 1)
    x = dist.transform(u.reshape(len(u), 1, *dist.event_shape)).reshape(len(u), nb)
    np.testing.assert_array_equal(x, ref)
