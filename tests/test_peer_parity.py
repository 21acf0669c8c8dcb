"""Parity with the peers (deepmind/mc_gradients, optax.monte_carlo) and their two defects.

- Item 13: the delta method with the full Hessian (the peers' second-order expansion):
  on f(x) = (w.x)^2 under a Normal, SF + full delta with coefficient 1 has zero
  variance and the exact gradient; the diagonal-only expansion does not.
- Item 14: the uncoupled measure-valued derivative (mc_gradients ``coupling=False``):
  unbiased (quadrature), its exact variance against the coupled one.
- Item 16: two peer defects vartools' tests catch. (a) optax's x^4 test expects
  d/dmu E[x^4] = 3 mu^3 + 12 mu sigma^2; the right value is 4 mu^3 + 12 mu sigma^2
  (E[x^4] = mu^4 + 6 mu^2 sigma^2 + 3 sigma^4). (b) optax's moving-average baseline
  updates its state with the current batch before using it, so the baseline depends
  on the samples it multiplies: the estimate is biased by -gradient/n on the first
  step. vartools' ``ema_baseline`` reads the state from before the batch.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ATOL, Z_HUNDRED, Z_ONE, bern_problem

import vartools as vt
from vartools.catalogue.settings import make_problem
from vartools.control_variates.coefficients import delta_method
from vartools.control_variates.delta import delta_expansion
from vartools.core.batch import Batch
from vartools.core.control_variate import ControlVariate, subtract_baseline
from vartools.core.objectives import Objective
from vartools.estimators.measure_valued import (
    measure_valued_uncoupled,
    mvd_moments,
    mvd_uncoupled_moments,
)
from vartools.oracles.exact import exact_moments

# ------------------------------------------------------ item 13: full-Hessian delta

W = np.array([1.0, -0.5, 0.3, 2.0])
MU = np.array([0.5, -1.0, 0.2, 0.1])
SD = np.array([1.0, 0.5, 2.0, 0.7])


def _wx2(log_scale: bool = False) -> vt.Problem:
    f = Objective(lambda x: (x @ W) ** 2, lambda x: 2.0 * (x @ W)[..., None] * W)
    dist = vt.Normal.from_log_scale(MU, np.log(SD)) if log_scale else vt.Normal(MU, SD)
    return vt.Problem("wx2", dist, f)


def _wx2_gradient(log_scale: bool) -> np.ndarray:
    """Closed form: E[(w.x)^2] = (w.mu)^2 + sum_d w_d^2 sd_d^2."""
    scale_part = 2.0 * W**2 * SD * (SD if log_scale else 1.0)
    return np.concatenate([2.0 * (W @ MU) * W, scale_part])


FULL_HESSIANS = {
    "matrix": {"hessian": lambda x: 2.0 * np.outer(W, W)},
    "fd": {"hessian": "fd"},
    "hvp": {"hvp": lambda x, v: 2.0 * (v @ W)[..., None] * W},
}


@pytest.mark.parametrize("base", ["sf", "pathwise"])
@pytest.mark.parametrize("how", sorted(FULL_HESSIANS))
@pytest.mark.parametrize("log_scale", [False, True])
def test_item13_full_delta_has_zero_variance_on_a_quadratic(base, how, log_scale):
    prob = _wx2(log_scale)
    cv = delta_method(2, "fixed", coef=1.0, **FULL_HESSIANS[how])
    est = vt.make_estimator(vt.get_estimator(base).base, cv)
    est_, _ = est(prob, 3, rng=np.random.default_rng(0), reps=(500,))
    truth = _wx2_gradient(log_scale)
    tol = 1e-6 if how == "fd" else 1e-10  # fd: the central difference of a linear grad
    # every replicate equals the exact gradient: zero variance, the expectation preserved
    np.testing.assert_allclose(est_, np.broadcast_to(truth, est_.shape), atol=tol, rtol=tol)
    assert est_.var(0).max() <= tol**2


def test_item13_diagonal_delta_leaves_variance_on_the_non_separable_quadratic():
    prob = _wx2()
    diag = vt.make_estimator(vt.score_function, delta_method(2, "fixed", coef=1.0))
    full = vt.make_estimator(vt.score_function, delta_method(2, "fixed", hessian="fd"))
    e_d, _ = diag(prob, 1, rng=np.random.default_rng(1), reps=(4000,))
    e_f, _ = full(prob, 1, rng=np.random.default_rng(1), reps=(4000,))
    v_d, v_f = e_d.var(0), e_f.var(0)
    assert v_d.min() > 1.0  # the cross terms 2 w_i w_j x_i x_j stay in the estimate
    assert v_f.max() < 1e-10


def test_item13_full_delta_mean_is_exact_by_quadrature_for_a_non_quadratic_f():
    # 2-D Gauss-Hermite quadrature (exact for these polynomials times a Gaussian) of
    # E[f~(x) s(x)] and E[grad f~(x) dx/dtheta] against the closed-form mean.
    w = np.array([0.7, -1.3])
    f = Objective(
        lambda x: np.sin(x @ w) + (x[..., 0] ** 2) * x[..., 1],
        lambda x: (
            np.cos(x @ w)[..., None] * w + np.stack([2 * x[..., 0] * x[..., 1], x[..., 0] ** 2], -1)
        ),
    )
    mu, sd = np.array([0.4, -0.6]), np.array([0.8, 1.5])
    prob = vt.Problem("nonsep", vt.Normal(mu, sd), f)
    t = delta_expansion(prob, hessian="fd")
    assert t.full and abs(t.hess[0, 1]) > 0.1  # a real off-diagonal term
    nodes, weights = np.polynomial.hermite_e.hermegauss(12)
    e = np.stack(np.meshgrid(nodes, nodes, indexing="ij"), -1).reshape(-1, 2)
    wq = np.outer(weights, weights).ravel() / (2 * np.pi)
    x = (mu + sd * e)[None]  # (1, m, 2)
    score = prob.dist.score(x)[0]  # (m, 4)
    sf_mean = (wq[:, None] * t.value(x)[0][:, None] * score).sum(0)
    path = prob.dist.transform_vjp(e[None], t.grad + t.hess_times(x - mu))[0]
    pw_mean = (wq[:, None] * path).sum(0)
    np.testing.assert_allclose(sf_mean, t.grad_expectation(), atol=1e-10)
    np.testing.assert_allclose(pw_mean, t.grad_expectation(), atol=1e-10)
    # and E[f~] = f(mu) + (1/2) tr(H Sigma)
    ef = float((wq * t.value(x)[0]).sum())
    assert ef == pytest.approx(t.expectation(), abs=1e-10)


def test_item13_full_delta_features_unbiased_with_a_running_coefficient():
    # non-quadratic f: the running coefficient is fitted on earlier batches, so the
    # estimate stays unbiased; Monte Carlo with a z * SE tolerance on every coordinate.
    w = np.array([0.7, -1.3])
    f = Objective(lambda x: np.cos(x @ w), lambda x: -np.sin(x @ w)[..., None] * w)
    mu, sd = np.array([0.4, -0.6]), np.array([0.8, 1.5])
    prob = vt.Problem("cos_wx", vt.Normal(mu, sd), f)
    a = np.exp(-0.5 * (w**2 * sd**2).sum())  # E[cos(w.x)] = cos(w.mu) a
    truth = np.concatenate([-np.sin(w @ mu) * a * w, np.cos(w @ mu) * a * (-(w**2) * sd)])
    est = vt.make_estimator(vt.score_function, delta_method(2, "running", hessian="fd"))
    _, state = est(prob, 8, rng=np.random.default_rng(2), reps=(200,))  # warm up
    e, _ = est(prob, 8, rng=np.random.default_rng(3), reps=(20000,), state=state)
    se = e.std(0, ddof=1) / np.sqrt(e.shape[0])
    assert np.all(np.abs(e.mean(0) - truth) <= Z_HUNDRED * se)


# ------------------------------------------------------ item 14: uncoupled MVD

PROBLEMS_1D = [
    ("square", 0.5),
    ("square", 3.0),
    ("bump", 1.0),
    ("cos", 2.0),
    ("cos", 3.0),
]


@pytest.mark.parametrize(("cost", "k"), PROBLEMS_1D)
@pytest.mark.parametrize("log_scale", [False, True])
def test_item14_uncoupled_mvd_is_unbiased_by_quadrature(cost, k, log_scale):
    prob = make_problem("gaussian_cost", cost=cost, k=k)
    if log_scale:
        d = prob.dist
        prob = vt.Problem(prob.name, vt.Normal.from_log_scale(d.loc, np.log(d.scale)), prob.f)
    mean, var = mvd_uncoupled_moments(prob)
    # the score-function oracle (quadrature of f s) is independent of the MVD code
    np.testing.assert_allclose(mean, vt.exact_gradient(prob), atol=1e-8)
    assert np.all(var > 0)


def test_item14_uncoupled_mvd_monte_carlo_matches_its_exact_moments():
    prob = make_problem("gaussian_cost", cost="cos", k=2.0)
    est = vt.get_estimator("mvd_uncoupled")
    assert est.base is measure_valued_uncoupled
    e, _ = est(prob, 1, rng=np.random.default_rng(0), reps=(100_000,))
    mean, var = mvd_uncoupled_moments(prob)
    r = e.shape[0]
    se_mean = np.sqrt(var / r)
    assert np.all(np.abs(e.mean(0) - mean) <= Z_ONE * se_mean)
    c = e - mean
    se_var = np.sqrt(((c**4).mean(0) - var**2) / r)  # fourth-moment standard error
    assert np.all(np.abs((c**2).mean(0) - var) <= Z_ONE * se_var)


def test_item14_uncoupled_mvd_unbiased_in_several_dimensions():
    prob = _wx2()
    e, _ = vt.get_estimator("mvd_uncoupled")(prob, 4, rng=np.random.default_rng(5), reps=(40000,))
    se = e.std(0, ddof=1) / np.sqrt(e.shape[0])
    assert np.all(np.abs(e.mean(0) - _wx2_gradient(False)) <= Z_HUNDRED * se)


def test_item14_uncoupled_against_coupled_variance_exact():
    # exact loc-coordinate variance ratios (uncoupled / coupled), quadrature; the
    # numbers quoted in the README (docs/readme/continuous.md)
    ratios = {}
    for cost, k in PROBLEMS_1D:
        prob = make_problem("gaussian_cost", cost=cost, k=k)
        ratios[(cost, k)] = mvd_uncoupled_moments(prob)[1] / mvd_moments(prob)[1]
    assert ratios[("cos", 2.0)][0] == pytest.approx(0.594, abs=1e-3)
    assert ratios[("square", 3.0)][0] == pytest.approx(0.791, abs=1e-3)
    assert ratios[("square", 0.5)][0] == pytest.approx(5.16, abs=1e-2)
    # the scale coordinate: never better uncoupled on these problems
    assert all(r[1] >= 1.0 for r in ratios.values())
    # registered under its name, with its exact oracle
    assert vt.get_estimator("mvd_uncoupled").name == "mvd_uncoupled"
    prob = make_problem("gaussian_cost", cost="cos", k=2.0)
    m, v = exact_moments(prob, vt.get_estimator("mvd_uncoupled"), 4)
    np.testing.assert_allclose(v, mvd_uncoupled_moments(prob, 4)[1], rtol=1e-12)


# ------------------------------------------------------ item 16: the peers' defects

MU4, SD4 = 2.0, 0.5
RIGHT_X4 = np.array([4 * MU4**3 + 12 * MU4 * SD4**2, 12 * MU4**2 * SD4 + 12 * SD4**3])
WRONG_X4_MU = 3 * MU4**3 + 12 * MU4 * SD4**2  # optax's expected value for d/dmu


def _x4() -> vt.Problem:
    return vt.Problem(
        "x4",
        vt.Normal(np.array([MU4]), np.array([SD4])),
        Objective(lambda x: x[..., 0] ** 4, lambda x: 4 * x**3),
    )


def test_item16_x4_exact_gradient_is_4mu3():
    g = vt.exact_gradient(_x4())
    np.testing.assert_allclose(g, RIGHT_X4, rtol=1e-10)
    assert abs(g[0] - WRONG_X4_MU) > 1.0  # the peer's expected value is wrong


@pytest.mark.parametrize("est", ["sf", "pathwise", "mvd", "mvd_uncoupled"])
def test_item16_x4_estimators_agree_with_4mu3_and_reject_3mu3(est):
    e, _ = vt.get_estimator(est)(_x4(), 10, rng=np.random.default_rng(7), reps=(20000,))
    se = e.std(0, ddof=1) / np.sqrt(e.shape[0])
    assert np.all(np.abs(e.mean(0) - RIGHT_X4) <= Z_HUNDRED * se)
    assert abs(e.mean(0)[0] - WRONG_X4_MU) > Z_HUNDRED * se[0]  # the test has power


def _update_then_use(decay: float) -> ControlVariate:
    """optax's order, for contrast: the EMA is updated with this batch, then used."""

    def apply(batch: Batch, state, problem):
        avg, t = state
        avg = decay * avg + (1.0 - decay) * batch.fx.mean(-1, keepdims=True)
        b = avg / (1.0 - decay ** (t + 1))
        return subtract_baseline(batch, b, "peer", per_sample=True), (avg, t + 1)

    return ControlVariate(lambda p: (0.0, 0), apply, name="peer_ema", stateful=True)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("state", [None, (0.8, 3), (-2.0, 1)])
def test_item16_ema_baseline_uses_the_state_before_the_batch(n, state):
    prob = bern_problem()
    truth = vt.exact_gradient(prob)
    est = vt.make_estimator(vt.score_function, vt.ema_baseline(0.9))
    mean, _ = exact_moments(prob, est, n, state=state)  # enumeration of the n-sample joint
    np.testing.assert_allclose(mean, truth, atol=ATOL)
    for ramp in (True, False):  # the schedules keep it
        ramped = vt.make_estimator(vt.score_function, vt.ema_baseline(0.9, ramp=ramp))
        st = None if state is None else (*state, 0.5) if ramp else state
        np.testing.assert_allclose(exact_moments(prob, ramped, n, state=st)[0], truth, atol=ATOL)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_item16_update_then_use_is_biased_by_minus_truth_over_n(n):
    prob = bern_problem()
    truth = vt.exact_gradient(prob)
    peer = vt.make_estimator(vt.score_function, _update_then_use(0.9))
    mean, _ = exact_moments(prob, peer, n)  # first step: b = the batch mean of f
    np.testing.assert_allclose(mean - truth, -truth / n, atol=ATOL)
