"""JAX-defined Bernoulli, Categorical and Normal problems equal the native ones (same seeds).

SF, RLOO, the optimal baseline and pathwise give the same estimates (float tolerance:
the JAX gradients and the native closed forms round differently), measure_variance the
same tables, and the exact oracles the same gradients.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("jax")

import jax_models as jm  # noqa: E402
from conftest import bern_f as native_bern_f  # noqa: E402
from conftest import cat_f as native_cat_f  # noqa: E402

import vartools as vt  # noqa: E402
from vartools.oracles import exact  # noqa: E402

RTOL, ATOL = 1e-10, 1e-12


def _native_bern():
    return vt.Problem("bern3", vt.Bernoulli(jm.BERN_LOGITS), native_bern_f)


def _native_cat():
    return vt.Problem("cat2x3", vt.Categorical(jm.CAT_LOGITS), native_cat_f)


def _native_normal():
    def f(x):
        return np.cos(x[..., 0]) * x[..., 1] + x[..., 1] ** 2

    def grad(x):
        g = np.empty_like(x)
        g[..., 0] = -np.sin(x[..., 0]) * x[..., 1]
        g[..., 1] = np.cos(x[..., 0]) + 2 * x[..., 1]
        return g

    return vt.Problem("normal2", vt.Normal(jm.NORMAL_LOC, jm.NORMAL_SCALE), f, grad_f=grad)


PAIRS = {
    "bernoulli": (_native_bern, jm.bern_problem),
    "categorical": (_native_cat, jm.cat_problem),
    "normal": (_native_normal, jm.normal_problem),
}

SF_ESTIMATORS = {
    "sf": lambda: vt.make_estimator(vt.score_function),
    "rloo": lambda: vt.make_estimator(vt.score_function, vt.loo_baseline()),
    "optbase_loo": lambda: vt.make_estimator(vt.score_function, vt.optimal_baseline("loo")),
}


@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_samples_log_prob_and_score_equal_native(kind):
    native, jx = (make() for make in PAIRS[kind])
    assert jx.dist.param_names == native.dist.param_names
    np.testing.assert_array_equal(jx.dist.params, native.dist.params)
    x_n = native.dist.sample(5, rng=np.random.default_rng(3), reps=(4,))
    x_j = jx.dist.sample(5, rng=np.random.default_rng(3), reps=(4,))
    if kind == "normal":  # XLA fuses loc + scale * e (one rounding instead of two)
        np.testing.assert_allclose(x_j, x_n, RTOL, ATOL)
    else:  # discrete outcomes: identical
        np.testing.assert_array_equal(x_j, x_n)
    assert x_j.dtype == x_n.dtype
    np.testing.assert_allclose(jx.dist.log_prob(x_n), native.dist.log_prob(x_n), RTOL, ATOL)
    np.testing.assert_allclose(jx.dist.score(x_n), native.dist.score(x_n), RTOL, ATOL)
    w = np.random.default_rng(4).normal(size=x_n.shape[:2])
    np.testing.assert_allclose(jx.dist.score_dot(x_n, w), native.dist.score_dot(x_n, w), RTOL, ATOL)
    np.testing.assert_allclose(jx.evaluate(x_n), native.evaluate(x_n), RTOL, ATOL)


@pytest.mark.parametrize("est_name", sorted(SF_ESTIMATORS))
@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_score_function_estimators_equal_native(kind, est_name):
    native, jx = (make() for make in PAIRS[kind])
    est = SF_ESTIMATORS[est_name]()
    g_n, _ = est(native, 6, rng=np.random.default_rng(11), reps=(300,))
    g_j, _ = est(jx, 6, rng=np.random.default_rng(11), reps=(300,))
    np.testing.assert_allclose(g_j, g_n, RTOL, ATOL)


SAMPLERS = {
    "antithetic": vt.antithetic,
    "stratified": vt.stratified,
    "sobol": vt.sobol,
}


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_samplers_equal_native(kind, sampler):
    """Every sampler draws through the distribution's noise, so a JAX model takes it as is."""
    native, jx = (make() for make in PAIRS[kind])
    est = vt.make_estimator(vt.score_function, sampler=SAMPLERS[sampler]())
    g_n, _ = est(native, 8, rng=np.random.default_rng(3), reps=(200,))
    g_j, _ = est(jx, 8, rng=np.random.default_rng(3), reps=(200,))
    np.testing.assert_allclose(g_j, g_n, RTOL, ATOL)


def test_pathwise_equals_native():
    native, jx = _native_normal(), jm.normal_problem()
    est = vt.make_estimator(vt.pathwise)
    g_n, _ = est(native, 6, rng=np.random.default_rng(5), reps=(300,))
    g_j, _ = est(jx, 6, rng=np.random.default_rng(5), reps=(300,))
    np.testing.assert_allclose(g_j, g_n, RTOL, ATOL)


@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_measure_variance_tables_equal_native(kind):
    native, jx = (make() for make in PAIRS[kind])
    ests = [
        vt.make_estimator(vt.score_function),
        vt.make_estimator(vt.score_function, vt.loo_baseline()),
        vt.make_estimator(vt.score_function, vt.optimal_baseline("running")),
    ]
    if kind == "normal":
        ests.append(vt.make_estimator(vt.pathwise))
    kw = dict(n_samples=[4], n_reps=600, seed=7, block_size=256, warmup=5)
    t_n = vt.measure_variance(native, ests, **kw)
    t_j = vt.measure_variance(jx, ests, **kw)
    assert list(t_j["coordinate"]) == list(t_n["coordinate"])
    cols = ["mean", "variance", "variance_lo", "variance_hi", "ratio", "exact_variance", "truth"]
    np.testing.assert_allclose(t_j[cols].to_numpy(float), t_n[cols].to_numpy(float), 1e-8, 1e-12)


@pytest.mark.parametrize("kind", ["bernoulli", "categorical"])
def test_exact_oracles_equal_native(kind):
    native, jx = (make() for make in PAIRS[kind])
    np.testing.assert_allclose(exact.exact_gradient(jx), exact.exact_gradient(native), 1e-12, 1e-12)
    est = vt.make_estimator(vt.score_function, vt.loo_baseline())
    m_j, v_j = exact.exact_moments(jx, est, 2)
    m_n, v_n = exact.exact_moments(native, est, 2)
    np.testing.assert_allclose(m_j, m_n, 1e-12, 1e-12)
    np.testing.assert_allclose(v_j, v_n, 1e-12, 1e-12)


@pytest.mark.parametrize("base", ["arm", "disarm", "local_expectation"])
def test_via_logits_equals_native_base_estimators(base):
    import vartools.jax as vj
    from vartools.estimators.arm import arm, disarm
    from vartools.estimators.rao_blackwell import local_expectation

    b = {"arm": arm, "disarm": disarm, "local_expectation": local_expectation}[base]
    native, jx = _native_bern(), jm.bern_problem()
    g_n, _ = vt.make_estimator(b)(native, 4, rng=np.random.default_rng(2), reps=(200,))
    g_j, _ = vt.make_estimator(vj.via_logits(b))(jx, 4, rng=np.random.default_rng(2), reps=(200,))
    np.testing.assert_allclose(g_j, g_n, RTOL, ATOL)


def test_float32_mode_matches_native_float32():
    native, jx = _native_bern(), jm.bern_problem()
    est = vt.make_estimator(vt.score_function, vt.loo_baseline(), dtype="float32")
    g_n, _ = est(native, 8, rng=np.random.default_rng(1), reps=(100,))
    g_j, _ = est(jx, 8, rng=np.random.default_rng(1), reps=(100,))
    assert g_j.dtype == np.float32
    np.testing.assert_allclose(g_j, g_n, rtol=1e-5, atol=1e-6)
