"""Samplers: shapes, structure (pairs, strata, nets), unbiasedness and variance reduction."""

import numpy as np
import pytest
from scipy import special

import vartools as vt
from vartools.core.rng import generator
from vartools.measure.statistics import paired_ratio
from vartools.oracles.exact import exact_gradient
from vartools.samplers.sampling import Sampler, antithetic, iid, sobol, stratified

Z1 = 4.9
Z100 = 5.7

SAMPLERS = {
    "iid": iid,
    "antithetic": antithetic,
    "stratified": stratified,
    "sobol": sobol,
    "sobol(scipy)": lambda: sobol("scipy"),
}

DISTS = {
    "bern": lambda: vt.Bernoulli([0.3, -1.0, 2.0]),
    "cat": lambda: vt.Categorical(np.zeros((2, 4))),
    "normal": lambda: vt.Normal([0.0, 1.0], [1.0, 2.0]),
    "normal0d": lambda: vt.Normal(0.5, 2.0),
}


@pytest.mark.parametrize("dist", sorted(DISTS))
@pytest.mark.parametrize("name", sorted(SAMPLERS))
@pytest.mark.parametrize("reps", [(), (3,), (2, 3)])
def test_shapes_and_reproducibility(name, dist, reps):
    d = DISTS[dist]()
    s = SAMPLERS[name]()
    a = s.draw(d, 8, rng=np.random.default_rng(0), reps=reps)
    b = s.draw(d, 8, rng=np.random.default_rng(0), reps=reps)
    assert a.shape == (*reps, 8, *d.event_shape)
    np.testing.assert_array_equal(a, b)
    assert np.all(np.isfinite(a))
    assert isinstance(s, Sampler) and s.unbiased
    assert s.independent == (name == "iid")


def _uniforms(sampler, n, reps, dim=3):
    """Uniforms drawn by a sampler (a Bernoulli's noise is its uniform)."""
    return sampler.draw(vt.Bernoulli(np.zeros(dim)), n, rng=np.random.default_rng(4), reps=reps)


def test_antithetic_pairs():
    u = _uniforms(antithetic(), 6, (5,))
    np.testing.assert_array_equal(u[:, :3] + u[:, 3:], 1.0)
    e = antithetic().draw(vt.Normal([1.0], [3.0]), 4, rng=np.random.default_rng(0), reps=(7,))
    np.testing.assert_array_equal(e[:, :2], -e[:, 2:])  # reflection about the mean
    # the Bernoulli pair is the ARM pair 1[u > 1 - sigma], 1[u < sigma]
    d = vt.Bernoulli([0.8])
    x = d.transform(_uniforms(antithetic(), 2, (1000,), dim=1))
    u = _uniforms(antithetic(), 2, (1000,), dim=1)[:, 0]
    sig = special.expit(0.8)
    np.testing.assert_array_equal(x[:, 1, 0], (u[:, 0] < sig).astype(float))


def test_antithetic_refuses_odd_n():
    with pytest.raises(ValueError, match="even"):
        antithetic().draw(vt.Normal(0.0, 1.0), 5, rng=np.random.default_rng(0))
    assert antithetic().min_n == 2


def test_stratified_one_uniform_per_stratum_per_coordinate():
    n = 7
    u = _uniforms(stratified(), n, (50,))
    strata = np.sort(np.floor(u * n), axis=1)
    np.testing.assert_array_equal(strata, np.broadcast_to(np.arange(n)[:, None], strata.shape))
    # independent permutations per coordinate: coordinates are not all in the same stratum
    assert np.any(np.floor(u[..., 0] * n) != np.floor(u[..., 1] * n))


@pytest.mark.parametrize("method", ["lms", "scipy"])
def test_sobol_points_form_a_net(method):
    n = 32
    u = _uniforms(sobol(method), n, (20,), dim=4)
    # each one-dimensional projection: one point per interval [i/n, (i+1)/n)
    strata = np.sort(np.floor(u * n), axis=1)
    np.testing.assert_array_equal(strata, np.broadcast_to(np.arange(n)[:, None], strata.shape))
    # the first two coordinates form a (0, 5, 2)-net: one point per elementary box
    for a in range(6):
        cell = np.floor(u[..., 0] * 2**a) * 2 ** (5 - a) + np.floor(u[..., 1] * 2 ** (5 - a))
        np.testing.assert_array_equal(np.sort(cell, axis=1), np.broadcast_to(np.arange(n), (20, n)))
    # independent scrambles: replicates differ
    assert not np.allclose(u[0], u[1])


def test_sobol_refuses_n_not_power_of_two():
    with pytest.raises(ValueError, match="power of two"):
        sobol().draw(vt.Normal(0.0, 1.0), 12, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="method"):
        sobol("owen")


@pytest.mark.parametrize("name", ["antithetic", "stratified", "sobol"])
def test_dependent_samplers_refuse_loo_baseline(name):
    with pytest.raises(ValueError, match="independent"):
        vt.make_estimator(vt.score_function, vt.loo_baseline(), sampler=SAMPLERS[name]())
    est = vt.make_estimator(vt.score_function, vt.ema_baseline(), sampler=SAMPLERS[name]())
    assert est.name == f"sf+ema(0.9)+{name}"


def _marginal_uniform_check(sampler, n):
    """Each sample's uniforms are marginally U(0,1): bin counts against n_reps / bins (z*SE)."""
    u = _uniforms(sampler, n, (4000,), dim=2)
    bins = 5
    counts = np.stack(
        [(np.floor(u * bins) == b).mean(axis=0) for b in range(bins)]
    )  # (bins, n, dim): frequency per sample index
    se = np.sqrt(0.2 * 0.8 / 4000)
    return np.abs(counts - 0.2).max() / se


@pytest.mark.parametrize("name", ["antithetic", "stratified", "sobol"])
def test_each_sample_is_marginally_uniform(name):
    # 5 bins x 8 samples x 2 coordinates = 80 comparisons
    assert _marginal_uniform_check(SAMPLERS[name](), 8) <= Z100


CASES = {
    "bern": lambda: vt.Problem(
        "bern3",
        vt.Bernoulli([0.4, -1.1, 0.7]),
        lambda b: np.cos(2.0 * b[..., 0] + 1.5 * b[..., 1] - b[..., 2]) + 3 * b[..., 0] * b[..., 1],
    ),
    "cat": lambda: vt.make_problem("cat_table", n_vars=2, n_classes=3, seed=1),
    "normal": lambda: vt.make_problem("gaussian_cost", cost="cos", k=1.0),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("name", ["antithetic", "stratified", "sobol"])
def test_samplers_unbiased_within_z_se(name, case):
    prob = CASES[case]()
    g = exact_gradient(prob)
    est = vt.make_estimator(vt.score_function, sampler=SAMPLERS[name]())
    e, _ = est(prob, 8, rng=generator(7, name, case), reps=(20000,))
    se = e.std(axis=0, ddof=1) / np.sqrt(e.shape[0])
    assert np.all(np.abs(e.mean(axis=0) - g) <= Z100 * se)


@pytest.mark.parametrize("name", ["sobol", "stratified"])
def test_qmc_and_stratified_reduce_variance_on_smooth_normal(name):
    prob = vt.make_problem("gaussian_cost", cost="cos", k=1.0)
    plain = vt.make_estimator(vt.score_function)
    est = vt.make_estimator(vt.score_function, sampler=SAMPLERS[name]())
    e0, _ = plain(prob, 32, rng=generator(3, "iid"), reps=(4096,))
    e1, _ = est(prob, 32, rng=generator(3, name), reps=(4096,))
    # independent streams here, so the paired interval is conservative
    _, lo, hi = paired_ratio(e1, e0, confidence=2 * special.ndtr(Z1) - 1)
    assert np.all(hi < 1.0)


def test_sobol_variance_below_iid_via_measure_variance():
    prob = vt.make_problem("gaussian_cost", cost="cos", k=1.0)
    ests = [
        vt.make_estimator(vt.score_function),
        vt.make_estimator(vt.score_function, sampler=sobol()),
    ]
    t = vt.measure_variance(prob, ests, n_samples=[32], n_reps=4096, seed=0, exact=False)
    row = t[(t["estimator"] == "sf+sobol") & (t["kind"] == "mean")].iloc[0]
    assert row["ratio_hi"] < 1.0


def test_antithetic_exactly_unbiased_on_bernoulli():
    """Exact expectation over the pair's uniform: the estimate is piecewise constant in v."""
    prob = CASES["bern"]()
    dist = prob.dist
    sig = special.expit(dist.logits)
    dim, half = dist.event_shape[0], 2  # n = 4: two antithetic pairs
    cells, widths = [], []
    for d in range(dim):  # breakpoints of 1[v > 1 - sig] and 1[1 - v > 1 - sig]
        edges = np.unique(np.r_[0.0, 1.0 - sig[d], sig[d], 1.0])
        cells.append((edges[:-1] + edges[1:]) / 2)
        widths.append(np.diff(edges))
    grids = np.meshgrid(*([c for c in cells] * half), indexing="ij")
    wgrid = np.meshgrid(*([w for w in widths] * half), indexing="ij")
    v = np.stack([gr.ravel() for gr in grids], axis=-1).reshape(-1, half, dim)
    w = np.prod(np.stack([gr.ravel() for gr in wgrid], axis=-1), axis=-1)
    assert abs(w.sum() - 1.0) < 1e-12
    noise = np.concatenate([v, 1.0 - v], axis=1)  # the antithetic sampler's map
    est = vt.make_estimator(vt.score_function)
    mean = w @ est.from_noise(prob, noise).estimate
    np.testing.assert_allclose(mean, exact_gradient(prob), rtol=0, atol=1e-12)
    # and the sampler draws exactly that map
    u = antithetic().draw(dist, 4, rng=np.random.default_rng(0), reps=(3,))
    np.testing.assert_array_equal(u[:, 2:], 1.0 - u[:, :2])


@pytest.mark.parametrize("name", ["antithetic", "stratified", "sobol"])
def test_exact_oracles_refuse_dependent_samplers(name):
    """Enumerating iid samples would report the iid variance for a dependent sampler."""
    est = vt.make_estimator(vt.score_function, sampler=SAMPLERS[name]())
    for prob in (CASES["bern"](), CASES["normal"]()):
        with pytest.raises(ValueError, match="dependent"):
            vt.exact_moments(prob, est, 4)
    t = vt.measure_variance(
        CASES["bern"](), est, n_samples=[4], n_reps=16, seed=0, allow_small_reps=True
    )
    assert t["exact_variance"].isna().all()
