"""A tanh-MLP softmax policy over states s ~ N(0, I_d) as a vartools JAX model (W4, memory).

x = [s, a] (one float row per sample: the state and the action index), noise = d
standard normals (the state) and one uniform (the action, by the inverse CDF of
softmax(MLP(s))); log p(x) = log pi(a | s) (the state's density does not depend on
theta); f(s, a) = s[a] - 0.1 a.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import vartools as vt
import vartools.jax as vj

__all__ = ["init_params", "logits", "policy_problem"]


def init_params(sizes: tuple[int, ...], seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """Glorot-scaled weights ``w{i}`` (a, b) and small biases ``b{i}`` per layer."""
    rng = np.random.default_rng(seed)
    layers = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers[f"w{i + 1}"] = rng.normal(size=(a, b)) / np.sqrt(a)
        layers[f"b{i + 1}"] = 0.1 * rng.normal(size=b)
    return {"policy": layers}


def logits(params, s):
    """MLP(s): tanh hidden layers, linear output; s (..., d) -> (..., actions)."""
    layers = params["policy"]
    k = len(layers) // 2
    h = s
    for i in range(1, k + 1):
        h = h @ layers[f"w{i}"] + layers[f"b{i}"]
        if i < k:
            h = jnp.tanh(h)
    return h


def log_prob(params, x):
    d = x.shape[0] - 1
    return jax.nn.log_softmax(logits(params, x[:d]))[x[d].astype(jnp.int32)]


def transform(params, e):
    d = e.shape[0] - 1
    s = e[:d]
    cdf = jnp.cumsum(jax.nn.softmax(logits(params, s)))
    a = jnp.sum(cdf[:-1] <= e[d])
    return jnp.concatenate([s, a[None].astype(e.dtype)])


def f(x):
    d = x.shape[0] - 1
    return x[x[d].astype(jnp.int32)] - 0.1 * x[d]


def policy_problem(sizes: tuple[int, ...], seed: int = 0) -> vt.Problem:
    """The policy-gradient problem for an MLP with layer sizes ``sizes`` (first = d)."""
    d = sizes[0]
    dist = vj.distribution(
        init_params(sizes, seed),
        log_prob,
        transform,
        event_shape=(d + 1,),
        noise=[("normal", d), ("uniform", 1)],
    )
    return vj.problem(f"policy{'-'.join(map(str, sizes))}", dist, f)
