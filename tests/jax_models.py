"""JAX twins of the native Bernoulli, Categorical and Normal problems of the test suite.

Module-level functions, so that the problems pickle (the processes executor test).
"""

from __future__ import annotations

import itertools

import numpy as np

jax = __import__("pytest").importorskip("jax")
jnp = jax.numpy

import vartools.jax as vj  # noqa: E402

BERN_LOGITS = np.array([0.3, -1.1, 0.8])
CAT_LOGITS = np.array([[0.2, -0.5, 1.0], [0.0, 0.7, -1.2]])
NORMAL_LOC = np.array([0.5, -0.3])
NORMAL_SCALE = np.array([1.2, 0.7])
_TABLE = np.array([[0.4, -1.2, 2.0], [1.5, 0.1, -0.8]])


# -- Bernoulli -----------------------------------------------------------------------
def bern_log_prob(params, x):
    lg = params["logits"]
    return jnp.sum(x * lg - jnp.logaddexp(0.0, lg))


def bern_transform(params, u):
    return (u > jax.nn.sigmoid(-params["logits"])).astype(u.dtype)


def bern_logits(params):
    return params["logits"]


def bern_f(b):
    return b[0] * b[1] + 2.0 * b[1] * b[2] - 0.7 * b[0] + jnp.sin(jnp.sum(b)) + 0.3 * b[2]


def bern_dist(logits=BERN_LOGITS):
    support = np.array(list(itertools.product((0.0, 1.0), repeat=3)))
    return vj.distribution(
        {"logits": np.asarray(logits, dtype=float)},
        bern_log_prob,
        bern_transform,
        event_shape=(3,),
        noise="uniform",
        support=support,
        logits=bern_logits,
        logits_kind="bernoulli",
    )


def bern_problem(logits=BERN_LOGITS):
    return vj.problem("bern3", bern_dist(logits), bern_f)


# -- Categorical -----------------------------------------------------------------------
def cat_log_prob(params, x):
    lp = jax.nn.log_softmax(params["logits"], axis=-1)
    return jnp.sum(jnp.take_along_axis(lp, x[:, None], axis=-1))


def cat_transform(params, u):
    cdf = jnp.cumsum(jax.nn.softmax(params["logits"], axis=-1), axis=-1)
    return jnp.sum(cdf[:, :-1] <= u[:, None], axis=-1)


def cat_f(z):
    v0 = jnp.asarray(_TABLE[0])[z[0]]
    v1 = jnp.asarray(_TABLE[1])[z[1]]
    return v0 + v1 + 1.3 * v0 * v1 + (z[0] == z[1])


def cat_problem():
    support = np.array(list(itertools.product(range(3), repeat=2)), dtype=np.int64)
    dist = vj.distribution(
        {"logits": CAT_LOGITS}, cat_log_prob, cat_transform, event_shape=(2,), support=support
    )
    return vj.problem("cat2x3", dist, cat_f)


# -- Normal --------------------------------------------------------------------------
def normal_log_prob(params, x):
    z = (x - params["loc"]) / params["scale"]
    return jnp.sum(-0.5 * z * z - jnp.log(params["scale"]) - 0.5 * jnp.log(2 * jnp.pi))


def normal_transform(params, e):
    return params["loc"] + params["scale"] * e


def normal_f(x):
    return jnp.cos(x[0]) * x[1] + x[1] ** 2


def normal_problem():
    dist = vj.distribution(
        {"loc": NORMAL_LOC, "scale": NORMAL_SCALE},
        normal_log_prob,
        normal_transform,
        event_shape=(2,),
        noise="normal",
        reparameterized=True,
    )
    return vj.problem("normal2", dist, normal_f)


# -- a small softmax policy over states (mixed noise, many parameters) --------------------
def mlp_params(sizes=(4, 8, 3), seed=0):
    rng = np.random.default_rng(seed)
    layers = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers[f"w{i + 1}"] = rng.normal(size=(a, b)) / np.sqrt(a)
        layers[f"b{i + 1}"] = 0.1 * rng.normal(size=b)
    return {"policy": layers}


def mlp_logits(params, s):
    layers = params["policy"]
    h = s
    k = len(layers) // 2
    for i in range(1, k + 1):
        h = h @ layers[f"w{i}"] + layers[f"b{i}"]
        if i < k:
            h = jnp.tanh(h)
    return h


def policy_log_prob(params, x):
    d = x.shape[0] - 1
    a = x[d].astype(jnp.int32)
    return jax.nn.log_softmax(mlp_logits(params, x[:d]))[a]


def policy_transform(params, e):
    d = e.shape[0] - 1
    s = e[:d]
    cdf = jnp.cumsum(jax.nn.softmax(mlp_logits(params, s)))
    a = jnp.sum(cdf[:-1] <= e[d])
    return jnp.concatenate([s, a[None].astype(e.dtype)])


def policy_f(x):
    d = x.shape[0] - 1
    a = x[d].astype(jnp.int32)
    return x[a] - 0.1 * x[d]


def policy_problem(sizes=(4, 8, 3), seed=0):
    d = sizes[0]
    dist = vj.distribution(
        mlp_params(sizes, seed),
        policy_log_prob,
        policy_transform,
        event_shape=(d + 1,),
        noise=[("normal", d), ("uniform", 1)],
    )
    return vj.problem("policy", dist, policy_f)
