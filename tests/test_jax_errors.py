"""Named errors of the JAX path: each names the function or argument, the bad value and a fix."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = jax.numpy

import jax_models as jm  # noqa: E402

import vartools as vt  # noqa: E402
import vartools.jax as vj  # noqa: E402

LOGITS = {"logits": np.array([0.3, -1.1, 0.8])}


def _dist(log_prob=jm.bern_log_prob, transform=jm.bern_transform, params=None, **kw):
    kw.setdefault("event_shape", (3,))
    return vj.distribution(LOGITS if params is None else params, log_prob, transform, **kw)


def test_transform_wrong_shape():
    with pytest.raises(ValueError, match=r"transform\(params, noise\) returned shape \(2,\).*"):
        _dist(transform=lambda p, u: jm.bern_transform(p, u)[:2])


def test_transform_wrong_dtype():
    with pytest.raises(TypeError, match=r"transform\(params, noise\) returned dtype complex"):
        _dist(transform=lambda p, u: jm.bern_transform(p, u) * (1 + 1j))


def test_transform_non_finite():
    with pytest.raises(ValueError, match=r"transform\(params, noise\) returned a NaN"):
        _dist(transform=lambda p, u: jm.bern_transform(p, u) / 0.0)


def test_log_prob_non_scalar():
    with pytest.raises(ValueError, match=r"log_prob\(params, x\) returned shape \(3,\).*scalar"):
        _dist(log_prob=lambda p, x: x * p["logits"] - jnp.logaddexp(0.0, p["logits"]))


def test_log_prob_integer_output():
    with pytest.raises(TypeError, match=r"log_prob\(params, x\) returned dtype int.*floating"):
        _dist(log_prob=lambda p, x: jnp.sum(x).astype(jnp.int32))


def test_log_prob_nan():
    with pytest.raises(ValueError, match=r"log_prob\(params, x\) = nan"):
        _dist(log_prob=lambda p, x: jnp.sum(x * p["logits"]) * jnp.nan)


def test_params_pytree_does_not_match_log_prob():
    with pytest.raises(ValueError, match=r"failed: KeyError.*blocks \['logits'\]"):
        _dist(log_prob=lambda p, x: jnp.sum(x * p["w"]))


def test_params_with_integer_leaves():
    with pytest.raises(TypeError, match=r"params leaf 'logits' has dtype int64"):
        _dist(params={"logits": np.array([1, 2, 3])})


def test_params_non_finite():
    with pytest.raises(ValueError, match=r"params leaf 'logits' holds a NaN"):
        _dist(params={"logits": np.array([0.0, np.nan, 1.0])})


def test_non_differentiable_log_prob():
    def log_prob(p, x):  # NumPy inside: fine on values, fails under jax.grad
        lg = np.asarray(p["logits"])
        return jnp.sum(x * lg - np.logaddexp(0.0, lg))

    with pytest.raises(ValueError, match=r"log_prob is not differentiable in params"):
        _dist(log_prob=log_prob)


def _log_prob_01(p, x):
    ok = jnp.all((x == 0) | (x == 1))
    return jnp.where(ok, jm.bern_log_prob(p, jnp.clip(x, 0, 1)), -jnp.inf)


def test_sampler_out_of_support_at_construction():
    with pytest.raises(ValueError, match=r"= -inf at x = .*leaves the support"):
        _dist(log_prob=_log_prob_01, transform=lambda p, u: 2.0 * jm.bern_transform(p, u))


def test_sampler_out_of_support_at_run_time():
    def transform(p, u):  # leaves {0, 1} only for u > 0.99, which the probes never hit
        return jm.bern_transform(p, u) + (u > 0.99)

    dist = _dist(log_prob=_log_prob_01, transform=transform)
    prob = vj.problem("bad", dist, jm.bern_f)
    est = vt.make_estimator(vt.score_function)
    with pytest.raises(ValueError, match=r"outside the support of log_prob"):
        est(prob, 8, rng=np.random.default_rng(0), reps=(100,))


def test_f_wrong_shape_dtype_and_non_finite():
    dist = _dist()
    with pytest.raises(ValueError, match=r"f\(x\) returned shape \(3,\).*scalar"):
        vj.problem("p", dist, lambda x: x * 2.0)
    with pytest.raises(TypeError, match=r"f\(x\) returned dtype complex"):
        vj.problem("p", dist, lambda x: jnp.sum(x) * 1j)
    with pytest.raises(ValueError, match=r"f\(x\) = inf"):
        vj.problem("p", dist, lambda x: jnp.sum(x) / 0.0 + jnp.inf)


def test_noise_segments_must_cover_the_noise():
    with pytest.raises(ValueError, match=r"cover 2 values .* has 3"):
        _dist(noise=[("uniform", 1), ("normal", 1)])
    with pytest.raises(ValueError, match=r"kind in \('uniform', 'normal'\)"):
        _dist(noise="gumbel")


def test_reparameterized_needs_a_differentiable_float_transform():
    with pytest.raises(TypeError, match=r"reparameterized=True needs a transform with float"):
        _dist(
            transform=lambda p, u: (u > jax.nn.sigmoid(-p["logits"])).astype(jnp.int32),
            log_prob=lambda p, x: jm.bern_log_prob(p, x.astype(jnp.float64)),
            reparameterized=True,
        )


def test_pathwise_on_a_model_that_is_not_reparameterized():
    prob = jm.bern_problem()
    with pytest.raises(TypeError, match=r"needs a reparameterised distribution"):
        vt.make_estimator(vt.pathwise)(prob, 2, rng=np.random.default_rng(0))


def test_via_logits_without_logits():
    from vartools.estimators.arm import disarm

    prob = jm.cat_problem()
    with pytest.raises(TypeError, match=r"pass logits=\(function of params\)"):
        vt.make_estimator(vj.via_logits(disarm))(prob, 2, rng=np.random.default_rng(0))


def test_logits_with_the_wrong_shape():
    with pytest.raises(ValueError, match=r"logits\(params\) returned shape \(2,\)"):
        _dist(logits=lambda p: p["logits"][:2], logits_kind="bernoulli")


def test_support_that_does_not_sum_to_one():
    with pytest.raises(ValueError, match=r"sum to .*not 1"):
        _dist(support=np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]))
