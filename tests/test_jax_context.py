"""Models with a context (data the functions read but do not differentiate): a minibatch."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = jax.numpy

import vartools as vt  # noqa: E402
import vartools.jax as vj  # noqa: E402


def _lg(params, ctx):
    return ctx["x"] @ params["w"] + params["b"]  # (B, K) encoder logits


def log_prob(params, z, ctx):
    lg = _lg(params, ctx)
    return jnp.sum(z * lg - jnp.logaddexp(0.0, lg))


def transform(params, u, ctx):
    return (u > jax.nn.sigmoid(-_lg(params, ctx))).astype(u.dtype)


def f(z, ctx):
    return jnp.sum((z - ctx["target"]) ** 2) + z[0, 0] * z[-1, -1]


PARAMS = {"w": np.array([[0.5, -0.3], [0.2, 0.1], [-0.4, 0.6]]), "b": np.array([0.1, -0.2])}


def _problem(x, target):
    dist = vj.distribution(
        PARAMS,
        log_prob,
        transform,
        event_shape=(x.shape[0], 2),
        context={"x": x},
        logits=_lg,
        logits_kind="bernoulli",
    )
    return vj.problem("enc", dist, f, context={"target": target})


def test_at_moves_context_and_params_without_rebuilding():
    rng = np.random.default_rng(0)
    x1, x2 = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    p1 = _problem(x1, 0.3)
    theta = p1.dist.params + 0.2
    moved = vj.at(p1, theta, context={"x": x2}, f_context={"target": 0.7})
    fresh = _problem(x2, 0.7).with_params(theta)
    assert moved.dist.model is p1.dist.model and moved.f.cache is p1.f.cache
    for est in (
        vt.make_estimator(vt.score_function, vt.loo_baseline()),
        vt.make_estimator(vj.via_logits(vt.disarm)),
    ):
        g_m, _ = est(moved, 4, rng=np.random.default_rng(1), reps=(20,))
        g_f, _ = est(fresh, 4, rng=np.random.default_rng(1), reps=(20,))
        np.testing.assert_array_equal(g_m, g_f)


def test_context_model_equals_native_bernoulli_on_its_logits():
    x = np.random.default_rng(2).normal(size=(3, 3))
    prob = _problem(x, 0.3)
    lg = x @ PARAMS["w"] + PARAMS["b"]
    native = vt.Bernoulli(lg)
    z = native.sample(6, rng=np.random.default_rng(3), reps=(2,))
    np.testing.assert_array_equal(prob.dist.sample(6, rng=np.random.default_rng(3), reps=(2,)), z)
    np.testing.assert_allclose(prob.dist.log_prob(z), native.log_prob(z), 1e-12, 1e-12)


def test_context_on_a_model_without_one():
    import jax_models as jm

    with pytest.raises(TypeError, match=r"built without a context"):
        jm.bern_dist().with_context({"x": 1.0})
