"""The binary VAE as a vartools JAX model: parameters, ELBO and the encoder's problems.

See ``vartools.jax.vae`` for the model.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import numpy as np

from vartools.core.problem import Problem
from vartools.estimators.vimco import multi_sample_problem
from vartools.jax._compat import require_jax, x64
from vartools.jax.build import distribution
from vartools.jax.distribution import JaxDistribution
from vartools.jax.problem import at, problem

__all__ = [
    "Params",
    "elbo",
    "elbo_per_example",
    "encoder_problem",
    "init_vae",
    "vimco_problem",
]

jax = require_jax()
jnp = jax.numpy

Params = dict[str, Any]


def init_vae(
    n_latent: int, hidden: int, n_visible: int = 64, *, rng: np.random.Generator
) -> Params:
    """Glorot-scaled weights, zero biases and prior logits: {"encoder", "decoder", "prior"}."""

    def mlp(a: int, b: int) -> dict[str, np.ndarray]:
        return {
            "w1": rng.standard_normal((a, hidden)) / np.sqrt(a),
            "b1": np.zeros(hidden),
            "w2": rng.standard_normal((hidden, b)) / np.sqrt(hidden),
            "b2": np.zeros(b),
        }

    return {
        "encoder": mlp(n_visible, n_latent),
        "decoder": mlp(n_latent, n_visible),
        "prior": np.zeros(n_latent),
    }


def _mlp(p: Any, h: Any) -> Any:
    return jnp.tanh(h @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]


def _log_bern(x: Any, logits: Any) -> Any:
    return jnp.sum(x * logits - jnp.logaddexp(0.0, logits), axis=-1)


def elbo_terms(params: Params, x: Any, z: Any) -> Any:
    """log p(x | z) + log p(z) - log q(z | x) per example: x (..., D), z (..., K) -> (...)."""
    return (
        _log_bern(x, _mlp(params["decoder"], z))
        + _log_bern(z, jnp.broadcast_to(params["prior"], z.shape))
        - _log_bern(z, _mlp(params["encoder"], x))
    )


# -- the encoder problem (single-outcome functions; z is one (B, K) joint draw) -----------
def _enc_logits(enc: Any, ctx: Any) -> Any:
    return _mlp(enc, ctx["x"])


def _log_q(enc: Any, z: Any, ctx: Any) -> Any:
    return jnp.sum(_log_bern(z, _enc_logits(enc, ctx)))


def _sample_q(enc: Any, u: Any, ctx: Any) -> Any:
    return (u > jax.nn.sigmoid(-_enc_logits(enc, ctx))).astype(u.dtype)


def _signal(z: Any, ctx: Any) -> Any:
    return jnp.mean(elbo_terms(ctx["params"], ctx["x"], z))


def encoder_problem(
    params: Params, x: Any, name: str = "vae_encoder", *, enumerate_support: bool = False
) -> Problem:
    """The encoder-gradient problem for a minibatch x (B, 64) at ``params``.

    f(z) = mean_b [log p(x_b | z_b) + log p(z_b) - log q(z_b | x_b)] with every weight held
    fixed inside f; theta = the encoder's weights. ``enumerate_support=True`` lists all
    2^(B K) latent configurations (small B K only), which gives the exact oracles.
    Problems with the same shapes share one model and its compiled kernels
    (``vartools.jax.at``), so building one per minibatch or snapshot does not recompile.
    """
    x = np.asarray(x, dtype=np.float64)
    key = (
        x.shape,
        tuple(np.shape(v) for v in jax.tree_util.tree_leaves(params)),
        bool(enumerate_support),
    )
    base = _BASE.get(key)
    if base is None:
        base = _BASE[key] = _new_problem(params, x, enumerate_support)
    dist = base.dist
    assert isinstance(dist, JaxDistribution)
    theta = np.concatenate(
        [np.ravel(v) for v in jax.tree_util.tree_leaves(params["encoder"])]
    ).astype(np.float64)
    moved = at(base, theta, context={"x": x}, f_context={"x": x, "params": params})
    return replace(moved, name=name)


_BASE: dict[tuple[Any, ...], Problem] = {}


def _new_problem(params: Params, x: np.ndarray, enumerate_support: bool) -> Problem:
    k = int(np.shape(params["prior"])[0])
    ev = (x.shape[0], k)
    support = None
    if enumerate_support:
        grid = np.array(list(itertools.product((0.0, 1.0), repeat=ev[0] * k)))
        support = grid.reshape(-1, *ev)
    dist = distribution(
        params["encoder"],
        _log_q,
        _sample_q,
        event_shape=ev,
        noise="uniform",
        support=support,
        logits=_enc_logits,
        logits_kind="bernoulli",
        context={"x": x},
    )
    return problem("vae_encoder", dist, _signal, context={"x": x, "params": params})


@jax.jit
def _elbo_mc(params: Params, x: Any, u: Any) -> Any:
    q = jax.nn.sigmoid(_mlp(params["encoder"], x))
    z = (u < q).astype(x.dtype)  # (S, N, K)
    return jnp.mean(elbo_terms(params, x, z))


def elbo(params: Params, x: Any, *, rng: np.random.Generator, samples: int = 4) -> float:
    """Monte Carlo ELBO per example: mean over x (N, D) and ``samples`` draws of z each."""
    k = int(np.shape(params["prior"])[0])
    u = rng.random((samples, x.shape[0], k))
    with x64(True):
        return float(_elbo_mc(params, jnp.asarray(x), jnp.asarray(u)))


@jax.jit
def _elbo_rows(params: Params, x: Any, z: Any) -> Any:
    return elbo_terms(params, x, z)


def elbo_per_example(params: Params, x: Any, z: np.ndarray) -> np.ndarray:
    """log p(x_b | z_b) + log p(z_b) - log q(z_b | x_b) for z (..., B, K): (..., B) float64."""
    z = np.asarray(z, dtype=np.float64)
    lead = z.shape[:-2]
    rows = z.reshape(-1, *z.shape[-2:])
    with x64(True):
        out = np.asarray(_elbo_rows(params, jnp.asarray(x), jnp.asarray(rows)), dtype=np.float64)
    return out.reshape(*lead, z.shape[-2])


def vimco_problem(params: Params, x: Any, k: int, name: str = "vae_iwae") -> Problem:
    """The K-sample (IWAE) bound E[log (1/K) sum_k w(z_k)] of one example x (1, 64).

    log w(z) = log p(x | z) + log p(z) - log q(z | x) with every weight fixed inside w;
    theta = the encoder's weights (``vartools.estimators.vimco.multi_sample_problem`` on
    the encoder's distribution). VIMCO and K-sample REINFORCE (``sf``) apply to it.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != 1:
        raise ValueError(
            f"vimco_problem takes one example, x of shape (1, D); got shape {x.shape} "
            "(the bound of a minibatch is a sum of per-example bounds: build one per example)"
        )
    base = encoder_problem(params, x, name=name)
    f = base.f
    return multi_sample_problem(name, base.dist, lambda z: f(z), k)
