"""The JAX binary VAE: exact encoder gradients by enumeration, unbiasedness, training."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("jax")

import vartools as vt  # noqa: E402
import vartools.jax as vj  # noqa: E402
from vartools.estimators.rao_blackwell import local_expectation  # noqa: E402
from vartools.jax.vae import encoder_problem, init_vae, train_vae  # noqa: E402
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
