"""Training the VAE with any vartools estimator for the encoder: ``train_vae``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from vartools.core.optim import adam
from vartools.estimators.composed import Estimator
from vartools.jax._compat import require_jax, x64
from vartools.jax.distribution import JaxDistribution
from vartools.jax.problem import at
from vartools.jax.vae.model import (
    Params,
    _mlp,
    elbo,
    elbo_terms,
    encoder_problem,
    init_vae,
)

__all__ = ["train_vae"]

jax = require_jax()
jnp = jax.numpy


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

    Stateful estimators (REBAR's tuned eta, RELAX's surrogate, fitted coefficients) keep
    their state from step to step. ``f_evals`` counts the estimator's evaluations of f
    (``Batch.n_evals``: relaxed points and gradients included as each estimator reports
    them); the exact decoder and prior gradient costs one more per step for every
    estimator and is not counted.

    Returns:
        ([{"step", "seconds", "f_evals", "elbo"}], {step: params}).
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
    f_evals = 0
    est_state = estimator.init(base)  # stateful control variates learn along training
    for step in range(steps + 1):
        enc = dist.to_tree(theta[:p_enc])
        with x64(True):
            rest = jax.tree_util.tree_map(np.asarray, unravel(jnp.asarray(theta[p_enc:])))
        params = {"encoder": enc, **rest}
        if step in snapshots:
            snaps[step] = params
        if elbo_every and (step % elbo_every == 0 or step == steps):
            curve.append(
                {
                    "step": step,
                    "seconds": seconds,
                    "f_evals": f_evals,
                    "elbo": elbo(params, data, rng=eval_rng),
                }
            )
        if step == steps:
            break
        t0 = time.perf_counter()
        xb = data[rng.integers(0, data.shape[0], batch)]
        prob = at(base, theta[:p_enc], context={"x": xb}, f_context={"x": xb, "params": params})
        out, est_state = estimator.batch(prob, n, rng=rng, state=est_state)
        g_enc = out.estimate
        f_evals += int(out.n_evals)
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
