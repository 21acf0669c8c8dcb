"""Estimators: shapes over replicate axes, purity, determinism, and the Batch contract."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ATOL, bern_problem, cat_problem, normal_problem

import vartools as vt
from vartools.core.objectives import Objective
from vartools.oracles import exact


def _normal2d() -> vt.Problem:
    def value(x):
        return x[..., 0] * x[..., 1] + np.cos(x[..., 0])

    def grad(x):
        return np.stack([x[..., 1] - np.sin(x[..., 0]), x[..., 0]], axis=-1)

    return vt.Problem("n2", vt.Normal([0.5, -1.0], [0.7, 2.0]), Objective(value, grad))


PROBLEMS = {
    "bern3": bern_problem,
    "cat2x3": cat_problem,
    "gauss_cos": lambda: normal_problem("cos", 1.5),
    "normal2d": _normal2d,
}


def _estimators(prob: vt.Problem) -> dict[str, vt.Estimator]:
    p = prob.dist.n_params
    out = {
        "sf": vt.make_estimator(vt.score_function),
        "sf+const(vec)": vt.make_estimator(
            vt.score_function, vt.constant_baseline(np.linspace(-1, 1, p))
        ),
        "sf+loo": vt.make_estimator(vt.score_function, vt.loo_baseline()),
        "sf+ema+loo": vt.make_estimator(vt.score_function, vt.ema_baseline(0.5), vt.loo_baseline()),
    }
    if prob.dist.reparameterized:
        out["pathwise"] = vt.make_estimator(vt.pathwise)
    return out


CASES = [(p, e) for p in PROBLEMS for e in _estimators(PROBLEMS[p]())]


@pytest.mark.parametrize(("prob_name", "est_name"), CASES)
@pytest.mark.parametrize("reps", [(), (3,), (2, 3)])
def test_shapes_over_replicate_axes(prob_name, est_name, reps):
    prob = PROBLEMS[prob_name]()
    est = _estimators(prob)[est_name]
    p = prob.dist.n_params
    ev = prob.dist.event_shape
    g, _ = est(prob, 4, rng=np.random.default_rng(0), reps=reps)
    assert g.shape == (*reps, p)
    b, _ = est.batch(prob, 4, rng=np.random.default_rng(0), reps=reps)
    assert b.x.shape == (*reps, 4, *ev)
    assert b.fx.shape == (*reps, 4)
    assert b.terms.shape == (*reps, 4, p)
    assert b.n == 4 and b.n_evals == 4
    if b.score is not None:
        assert b.score.shape == (*reps, 4, p)
    np.testing.assert_array_equal(g, b.estimate)
    np.testing.assert_allclose(b.estimate, b.terms.mean(-2), rtol=1e-13, atol=1e-14)
    assert np.all(np.isfinite(g))


@pytest.mark.parametrize(("prob_name", "est_name"), CASES)
def test_vectorised_replicates_equal_sequential_single_draws(prob_name, est_name):
    """Row r of a (6,)-replicate call equals the r-th of six single calls on the same stream,
    and a (2, 3) call is the same numbers reshaped: replicates never mix."""
    prob = PROBLEMS[prob_name]()
    est = _estimators(prob)[est_name]
    state = est.init(prob)
    if est.stateful:
        state = ((0.7, 3), None)
    g6, _ = est(prob, 5, rng=np.random.default_rng(9), reps=(6,), state=state)
    g23, _ = est(prob, 5, rng=np.random.default_rng(9), reps=(2, 3), state=state)
    np.testing.assert_array_equal(g23.reshape(6, -1), g6)
    rng = np.random.default_rng(9)
    singles = np.stack([est(prob, 5, rng=rng, state=state)[0] for _ in range(6)])
    np.testing.assert_allclose(singles, g6, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize(("prob_name", "est_name"), CASES)
def test_deterministic_given_the_rng(prob_name, est_name):
    prob = PROBLEMS[prob_name]()
    est = _estimators(prob)[est_name]
    a, sa = est(prob, 3, rng=np.random.default_rng(21), reps=(4,))
    b, sb = est(prob, 3, rng=np.random.default_rng(21), reps=(4,))
    c, _ = est(prob, 3, rng=np.random.default_rng(22), reps=(4,))
    np.testing.assert_array_equal(a, b)
    assert repr(sa) == repr(sb)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(("prob_name", "est_name"), CASES)
def test_from_samples_and_from_noise_do_not_mutate_inputs(prob_name, est_name):
    prob = PROBLEMS[prob_name]()
    est = _estimators(prob)[est_name]
    noise = prob.dist.sample_noise(4, rng=np.random.default_rng(2), reps=(3,))
    noise_copy = noise.copy()
    noise.setflags(write=False)
    b1 = est.from_noise(prob, noise)
    np.testing.assert_array_equal(noise, noise_copy)
    b2 = est.from_noise(prob, noise)
    np.testing.assert_array_equal(b1.terms, b2.terms)
    if est.base.from_samples is not None:
        x = prob.dist.transform(noise_copy)
        x_copy = x.copy()
        x.setflags(write=False)
        b3 = est.from_samples(prob, x)
        np.testing.assert_array_equal(x, x_copy)
        np.testing.assert_allclose(b3.terms, b1.terms, atol=1e-15)


def test_estimator_does_not_mutate_the_state_or_problem():
    prob = bern_problem()
    logits = prob.dist.logits.copy()
    est = vt.make_estimator(vt.score_function, vt.ema_baseline(0.5))
    state = (0.2, 2)
    _, new = est(prob, 3, rng=np.random.default_rng(0), reps=(5,), state=state)
    assert state == (0.2, 2) and new[1] == 3
    np.testing.assert_array_equal(prob.dist.logits, logits)


def test_pathwise_terms_are_the_transform_vjp():
    prob = _normal2d()
    b, _ = vt.make_estimator(vt.pathwise).batch(prob, 5, rng=np.random.default_rng(1), reps=(2,))
    assert b.score is None and b.noise is not None
    ref = prob.dist.transform_vjp(b.noise, prob.grad_f(b.x))
    np.testing.assert_array_equal(b.terms, ref)


def test_score_function_terms_are_f_times_score():
    prob = cat_problem()
    b, _ = vt.make_estimator(vt.score_function).batch(
        prob, 5, rng=np.random.default_rng(1), reps=(2,)
    )
    np.testing.assert_array_equal(b.fx, prob.f(b.x))
    np.testing.assert_array_equal(b.terms, b.fx[..., None] * prob.dist.score(b.x))


def test_sf_and_pathwise_unbiased_on_a_normal_by_quadrature():
    prob = normal_problem("bump", 0.7, loc=0.4, scale=1.2)
    g = exact.exact_gradient(prob)
    for est in (vt.make_estimator(vt.score_function), vt.make_estimator(vt.pathwise)):
        mean, _ = exact.exact_moments(prob, est, 2)
        np.testing.assert_allclose(mean, g, rtol=1e-10, atol=1e-12)


def test_batch_factored_terms_and_copies():
    rng = np.random.default_rng(0)
    score = rng.normal(size=(2, 4, 3))
    w = rng.normal(size=(2, 4))
    extra = rng.normal(size=(2, 4, 3))
    b = vt.Batch(x=np.zeros((2, 4, 3)), fx=w, score=score, n_evals=4, weight=w, extra=extra)
    ref = w[..., None] * score + extra
    np.testing.assert_allclose(b.estimate, ref.mean(-2), atol=ATOL)  # factored path
    np.testing.assert_allclose(b.terms, ref, atol=ATOL)
    np.testing.assert_allclose(b.estimate, ref.mean(-2), atol=ATOL)  # cached path
    c = b.with_terms(2 * ref)
    assert c.weight is None and b.weight is w
    np.testing.assert_allclose(c.estimate, 2 * ref.mean(-2), atol=ATOL)
    d = b.with_info(a=1)
    assert d.info == {"a": 1} and b.info == {}
    assert b.replace(n_evals=8).n_evals == 8 and b.n_evals == 4
    with pytest.raises(ValueError, match="weight"):
        vt.Batch(x=b.x, fx=w, score=score, n_evals=4)
    with pytest.raises(ValueError, match="score"):
        vt.Batch(x=b.x, fx=w, score=None, n_evals=4, weight=w)


def test_estimator_metadata():
    loo = vt.make_estimator(vt.score_function, vt.constant_baseline(1.0), vt.loo_baseline())
    assert loo.name == "sf+const(1)+loo" and loo.min_n == 2 and not loo.biased
    assert not loo.stateful
    assert vt.make_estimator(vt.score_function, vt.ema_baseline(0.9)).stateful
    assert vt.make_estimator(vt.score_function, name="plain").name == "plain"
    assert vt.make_estimator(vt.pathwise).base.needs_grad
