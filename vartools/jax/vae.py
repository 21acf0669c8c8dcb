"""A binary-latent VAE with MLP encoder and decoder, written as a vartools JAX model.

Model (the binary VAE of ARM, DisARM and REBAR, with tanh MLPs; the 8x8 digits of
``vartools.catalogue.sbn.load_digits_binary`` stand in for MNIST):

    z ~ Bernoulli(sigmoid(c))                                (K latents, prior logits c)
    x | z ~ Bernoulli(sigmoid(MLP_dec(z)))                   (64 pixels)
    q(z | x) = Bernoulli(sigmoid(MLP_enc(x)))                (the encoder)

ELBO(x) = E_q[log p(x | z) + log p(z) - log q(z | x)]. With the encoder held fixed
inside the learning signal f, grad_enc ELBO = E_q[f(z) grad_enc log q(z | x)] (the
term E_q[grad_enc log q] is zero): ``encoder_problem`` is this score-function problem
for a minibatch x (B, 64), theta = the encoder's weights (named ``w1[i,j]``, ``b1[j]``,
...), its distribution a ``vartools.jax`` model with the minibatch as context and the
factorised logits declared (so ARM, DisARM, local expectation, straight-through and
Gumbel-softmax run through ``vartools.jax.via_logits``). ``train_vae`` maximises the
ELBO with Adam: the encoder gradient from any vartools estimator, the decoder and
prior gradients exactly given independent draws of z.

Example:
    >>> import numpy as np
    >>> params = init_vae(8, 16, rng=np.random.default_rng(0))
    >>> x = np.zeros((2, 64))
    >>> prob = encoder_problem(params, x)
    >>> prob.dist.event_shape, prob.dist.param_names[0]
    ((2, 8), 'b1[0]')
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from vartools.core.optim import adam
from vartools.core.problem import Problem
from vartools.estimators.composed import Estimator
from vartools.jax._compat import require_jax, x64
from vartools.jax.build import distribution
from vartools.jax.distribution import JaxDistribution
from vartools.jax.problem import at, problem

__all__ = ["elbo", "encoder_problem", "init_vae", "train_vae"]

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
def _model_grad(rest: Params, enc: Any, x: Any, u: Any) -> Any:
    """Exact gradients of the mean ELBO w.r.t. decoder and prior given z = 1[u < q]."""
    z = (u < jax.nn.sigmoid(_mlp(enc, x))).astype(x.dtype)

    def obj(r: Params) -> Any:
        full = {"encoder": enc, "decoder": r["decoder"], "prior": r["prior"]}
        return jnp.mean(elbo_terms(full, x, z))

    return jax.grad(obj)(rest)


def train_vae(
    estimator: Estimator,
    data: np.ndarray,
    steps: int,
    *,
    seed: int,
    n: int,
    n_latent: int = 8,
    hidden: int = 32,
    batch: int = 32,
    lr: float = 3e-3,
    elbo_every: int = 0,
    snapshots: tuple[int, ...] = (),
    on_step: Callable[[int], None] | None = None,
) -> tuple[list[dict[str, float]], dict[int, Params]]:
    """Maximise the ELBO with Adam, the encoder gradient from ``estimator`` (n per step).

    Args:
        estimator: any vartools estimator of the encoder gradient (``via_logits(arm)``...).
        data: binary images (N, 64).
        steps: optimisation steps.
        seed: seed of the initialisation, the minibatches and every draw (one generator).
        n: ``n`` of the estimator per step (samples, or pairs for ARM / DisARM).
        n_latent: K, the number of binary latents.
        hidden: width of the encoder's and the decoder's hidden layer.
        batch: digits per minibatch.
        lr: Adam's learning rate.
        elbo_every: record the ELBO on all the data every this many steps (0: never);
            its cost is excluded from the recorded training time, and so is step 0
            (which compiles the kernels).
        snapshots: steps at which to keep the parameters.
        on_step: called with the step number (progress).

    Returns:
        ([{"step", "seconds", "elbo"}], {step: params}).
    """
    from jax.flatten_util import ravel_pytree

    rng = np.random.default_rng(seed)
    eval_rng = np.random.default_rng([seed, 1])
    params = init_vae(n_latent, hidden, data.shape[1], rng=rng)
    base = encoder_problem(params, data[:batch], name="vae_train")
    dist = base.dist
    assert isinstance(dist, JaxDistribution)
    with x64(True):
        flat, unravel = ravel_pytree({"decoder": params["decoder"], "prior": params["prior"]})
    p_enc = base.dist.n_params
    theta = np.concatenate([base.dist.params, np.asarray(flat, dtype=np.float64)])
    opt = adam(lr)
    state = opt.init(theta)
    curve: list[dict[str, float]] = []
    snaps: dict[int, Params] = {}
    seconds = 0.0
    for step in range(steps + 1):
        enc = dist.to_tree(theta[:p_enc])
        with x64(True):
            rest = jax.tree_util.tree_map(np.asarray, unravel(jnp.asarray(theta[p_enc:])))
        params = {"encoder": enc, **rest}
        if step in snapshots:
            snaps[step] = params
        if elbo_every and (step % elbo_every == 0 or step == steps):
            curve.append(
                {"step": step, "seconds": seconds, "elbo": elbo(params, data, rng=eval_rng)}
            )
        if step == steps:
            break
        t0 = time.perf_counter()
        xb = data[rng.integers(0, data.shape[0], batch)]
        prob = at(base, theta[:p_enc], context={"x": xb}, f_context={"x": xb, "params": params})
        g_enc, _ = estimator(prob, n, rng=rng)
        u = rng.random((xb.shape[0], n_latent))
        with x64(True):
            g_rest, _ = ravel_pytree(_model_grad(rest, enc, xb, u))
        g = np.concatenate([g_enc, np.asarray(g_rest, dtype=np.float64)])
        delta, state = opt.update(-g, state, step)  # ascent on the ELBO
        theta = theta + delta
        if step > 0:  # step 0 compiles the kernels
            seconds += time.perf_counter() - t0
        if on_step is not None:
            on_step(step)
    return curve, snaps
