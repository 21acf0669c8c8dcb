"""The JAX binary VAE: exact encoder gradients by enumeration, unbiasedness, training."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("jax")

import vartools as vt  # noqa: E402
import vartools.jax as vj  # noqa: E402
from vartools.estimators.rao_blackwell import local_expectation  # noqa: E402
from vartools.jax.vae.model import encoder_problem, init_vae  # noqa: E402
from vartools.jax.vae.training import train_vae  # noqa: E402
from vartools.oracles import exact  # noqa: E402


def _problem():
    params = init_vae(4, 3, n_visible=6, rng=np.random.default_rng(0))
    params["prior"] = np.array([0.3, -0.2, 0.1, 0.5])
    x = (np.random.default_rng(1).random((1, 6)) < 0.5).astype(float)
    return encoder_problem(params, x, enumerate_support=True)


def test_exact_gradient_equals_a_finite_difference_of_the_exact_expectation():
    prob = _problem()
    g = exact.exact_gradient(prob)
    theta = prob.dist.params
    h = 1e-6
    for j in (0, 5, prob.dist.n_params - 1):
        e = np.zeros_like(theta)
        e[j] = h
        up = exact.exact_expectation(prob.with_params(theta + e))
        down = exact.exact_expectation(prob.with_params(theta - e))
        np.testing.assert_allclose(g[j], (up - down) / (2 * h), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "est",
    [
        vt.make_estimator(vt.score_function),
        vt.make_estimator(vj.via_logits(local_expectation)),
    ],
)
def test_estimators_are_unbiased_by_enumeration(est):
    prob = _problem()
    mean, _ = exact.exact_moments(prob, est, 1)
    np.testing.assert_allclose(mean, exact.exact_gradient(prob), rtol=0, atol=1e-12)


def test_problems_of_the_same_shapes_share_one_model():
    params = init_vae(4, 3, n_visible=6, rng=np.random.default_rng(0))
    a = encoder_problem(params, np.zeros((2, 6)))
    b = encoder_problem(params, np.ones((2, 6)), name="other")
    assert a.dist.model is b.dist.model and b.name == "other"


def test_training_runs_and_records_the_elbo():
    data = (np.random.default_rng(2).random((50, 6)) < 0.4).astype(float)
    est = vt.make_estimator(vt.score_function, vt.loo_baseline())
    curve, snaps = train_vae(
        est, data, 6, seed=0, n=2, n_latent=4, hidden=3, batch=5, elbo_every=3, snapshots=(6,)
    )
    assert [c["step"] for c in curve] == [0, 3, 6]
    assert all(np.isfinite(c["elbo"]) for c in curve)
    assert set(snaps) == {6} and snaps[6]["encoder"]["w1"].shape == (6, 3)


# -- the frontier estimators on the JAX model (on_logits), the per-digit set, VIMCO -------
from vartools.estimators.composed import make_estimator  # noqa: E402
from vartools.estimators.double_cv import double_cv  # noqa: E402
from vartools.estimators.rebar.estimator import rebar  # noqa: E402
from vartools.estimators.relax import relax  # noqa: E402
from vartools.estimators.rodeo import rodeo  # noqa: E402
from vartools.estimators.tuned import fitted_coefficients  # noqa: E402
from vartools.estimators.unordered_set import unordered_set  # noqa: E402
from vartools.estimators.vimco import vimco  # noqa: E402
from vartools.jax.vae.estimators import on_logits, unordered_set_per_example  # noqa: E402
from vartools.jax.vae.model import vimco_problem  # noqa: E402

Z = 5.0  # replicate tests: |mean - truth| <= Z standard errors, per coordinate


def _problem_b(batch: int, enumerate_support: bool = True):
    params = init_vae(3, 4, n_visible=6, rng=np.random.default_rng(0))
    params["prior"] = np.array([0.3, -0.2, 0.1])
    x = (np.random.default_rng(1).random((batch, 6)) < 0.5).astype(float)
    return encoder_problem(params, x, enumerate_support=enumerate_support)


def _assert_unbiased(prob, est, n, reps, state=None):
    e, _ = est(prob, n, rng=np.random.default_rng(7), reps=(reps,), state=state)
    g = exact.exact_gradient(prob)
    se = e.std(0, ddof=1) / np.sqrt(reps)
    z = np.abs(e.mean(0) - g) / np.maximum(se, 1e-12)
    assert np.all(z <= Z), f"largest z {z.max():.2f} at {int(z.argmax())}"
    assert se.max() > 0  # not a degenerate estimator
    return float(z.max())


@pytest.mark.parametrize(
    "est",
    [
        on_logits(make_estimator(double_cv(1.0)), min_n=2),
        on_logits(make_estimator(rodeo(1.0, 1.0)), min_n=2),
        on_logits(make_estimator(double_cv(0.0), fitted_coefficients()), min_n=2),
    ],
    ids=["double_cv", "rodeo", "double_cv_fitted"],
)
def test_double_cv_and_rodeo_on_logits_are_unbiased_by_enumeration(est):
    prob = _problem_b(1)
    mean, var = exact.exact_moments(prob, est, 2)
    np.testing.assert_allclose(mean, exact.exact_gradient(prob), rtol=0, atol=1e-12)
    assert var.max() > 0


def test_on_logits_keeps_the_estimators_cost_and_min_n():
    prob = _problem_b(2)
    est = on_logits(make_estimator(double_cv(0.0), fitted_coefficients()), min_n=2)
    b, state = est.batch(prob, 3, rng=np.random.default_rng(0), reps=(4,))
    assert b.estimate.shape == (4, prob.dist.n_params) and b.n_evals == 3
    assert state is not None and est.stateful and est.min_n == 2
    b, _ = on_logits(rebar(eta=1.0, temperature=0.5)).batch(prob, 2, rng=np.random.default_rng(0))
    assert b.n_evals == 6  # f at 2 samples and f with grad f at 2 x 2 relaxed points


@pytest.mark.parametrize(
    "est",
    [on_logits(rebar(eta=0.7, temperature=0.5)), on_logits(relax(train=False))],
    ids=["rebar", "relax"],
)
def test_rebar_and_relax_on_logits_are_unbiased(est):
    _assert_unbiased(_problem_b(1), est, 1, 20_000)


def test_tuned_rebar_stays_unbiased_at_its_learned_state():
    prob = _problem_b(2)
    est = on_logits(rebar(eta=None, temperature=0.5))
    state = est.init(prob)
    rng = np.random.default_rng(3)
    for _ in range(30):
        _, state = est(prob, 2, rng=rng, state=state)
    assert state.eta != 1.0  # eta was fitted
    _assert_unbiased(prob, est, 2, 20_000, state=state)


def test_per_example_unordered_set_equals_the_joint_one_for_one_example():
    prob = _problem_b(1)
    ours = unordered_set_per_example(3)
    joint = make_estimator(unordered_set(3))
    a, _ = ours(prob, 2, rng=np.random.default_rng(5), reps=(40,))
    b, _ = joint(prob, 2, rng=np.random.default_rng(5), reps=(40,))
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    assert ours.batch(prob, 2, rng=np.random.default_rng(0))[0].n_evals == 6


def test_per_example_unordered_set_is_unbiased_on_a_minibatch():
    _assert_unbiased(_problem_b(2), unordered_set_per_example(3), 1, 20_000)


def test_per_example_unordered_set_refuses_bad_k_and_problems():
    with pytest.raises(ValueError, match="k=1"):
        unordered_set_per_example(1)
    with pytest.raises(TypeError, match="does not declare the logits"):
        unordered_set_per_example(2)(_logitless(), 1, rng=np.random.default_rng(0))


def _logitless():
    import jax.numpy as jnp

    def log_prob(params, x):
        return jnp.sum(x * params["l"] - jnp.logaddexp(0.0, params["l"]))

    def transform(params, u):
        return (u > 1.0 / (1.0 + jnp.exp(params["l"]))).astype(u.dtype)

    dist = vj.distribution({"l": np.zeros(2)}, log_prob, transform, event_shape=(2,))
    return vj.problem("nologits", dist, lambda x: jnp.sum(x))


def test_vimco_on_the_vae_bound_is_unbiased_by_enumeration():
    prob = _problem_b(1)
    params = init_vae(3, 4, n_visible=6, rng=np.random.default_rng(0))
    x = (np.random.default_rng(1).random((1, 6)) < 0.5).astype(float)
    iwae = vimco_problem(params, x, 2)
    iwae_enum = type(iwae)(
        iwae.name, type(iwae.dist)(prob.dist.with_params(iwae.dist.params), 2), iwae.f
    )
    mean, _ = exact.exact_moments(iwae_enum, make_estimator(vimco), 1)
    np.testing.assert_allclose(mean, exact.exact_gradient(iwae_enum), rtol=0, atol=1e-10)
    with pytest.raises(ValueError, match="one example"):
        vimco_problem(params, np.zeros((2, 6)), 2)


def test_training_counts_f_evaluations_and_keeps_the_estimator_state():
    data = (np.random.default_rng(2).random((50, 6)) < 0.4).astype(float)
    est = on_logits(rebar(eta=None, temperature=0.5))
    curve, _ = train_vae(est, data, 6, seed=0, n=1, n_latent=4, hidden=3, batch=5, elbo_every=3)
    assert [c["f_evals"] for c in curve] == [0, 9, 18]  # 3 per sample (1 at b, 2 relaxed)
