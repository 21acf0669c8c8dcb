"""The workloads in PyTorch (vectorised), JAX (jit + vmap) and storchastic, when installed.

None of these is a vartools dependency: ``pip install torch jax jaxlib storchastic`` (or
``pip install -e .[bench]``) enables the columns. PyTorch and JAX run in float32, their
default. Each ``make_*`` returns ``{workload key: run(R, seed) -> (R, p) numpy array}``
or ``{}`` when the framework is missing; the estimators are the same as in
``workloads.py`` (W2 with the leave-one-out coefficient).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import special
from workloads import Workload

__all__ = ["make_jax", "make_storchastic", "make_torch"]

Run = Callable[[int, int], np.ndarray]


def make_torch(workloads: dict[str, Workload]) -> dict[str, Run]:
    try:
        import torch
    except ImportError:
        return {}
    out: dict[str, Run] = {}

    w = workloads["W1"]
    n1 = w.n
    thr1 = torch.tensor(special.expit(-w.params["logits"]), dtype=torch.float32)
    probs1 = torch.tensor(special.expit(w.params["logits"]), dtype=torch.float32)

    def w1(r: int, seed: int) -> np.ndarray:
        gen = torch.Generator().manual_seed(seed)
        u = torch.rand((r, n1, w.params["d"]), generator=gen)
        x = (u > thr1).float()
        fx = ((x - 0.45) ** 2).sum(-1)
        wt = fx - (fx.sum(-1, keepdim=True) - fx) / (n1 - 1)
        g = torch.einsum("rn,rnd->rd", wt, x) - wt.sum(-1, keepdim=True) * probs1
        return (g / n1).numpy()

    out["W1"] = w1

    w2 = workloads["W2"]
    n2 = w2.n
    mu = torch.tensor(w2.params["mu"], dtype=torch.float32)

    def w2_run(r: int, seed: int) -> np.ndarray:
        gen = torch.Generator().manual_seed(seed)
        x = mu + torch.randn((r, n2, w2.params["d"]), generator=gen)
        fx = torch.cos(2.0 * x).sum(-1)
        z = x - mu
        s = torch.cat([z, z * z - 1.0], dim=-1)
        s2 = s * s
        fs2 = fx[..., None] * s2
        beta = (fs2.sum(1, keepdim=True) - fs2) / (s2.sum(1, keepdim=True) - s2)
        return ((fx[..., None] - beta) * s).mean(1).numpy()

    out["W2"] = w2_run

    w3 = workloads["W3"]
    n3, j, k = w3.n, w3.params["j"], w3.params["k"]
    probs3 = special.softmax(w3.params["logits"], axis=-1)
    cdf = np.cumsum(probs3, axis=-1)
    cdf[:, -1] = 1.0
    cdf_t = torch.tensor(cdf, dtype=torch.float32)
    table = torch.tensor(w3.params["table"], dtype=torch.float32)
    probs_t = torch.tensor(probs3.ravel(), dtype=torch.float32)
    rows = torch.arange(j)

    def w3_run(r: int, seed: int) -> np.ndarray:
        gen = torch.Generator().manual_seed(seed)
        u = torch.rand((r, n3, j), generator=gen)
        z = torch.searchsorted(cdf_t, u.reshape(-1, j).T.contiguous(), right=True)
        z = z.clamp_(max=k - 1).T.reshape(r, n3, j)
        fx = table[rows, z].sum(-1)
        wt = fx - (fx.sum(-1, keepdim=True) - fx) / (n3 - 1)
        idx = (rows * k + z).reshape(r, n3 * j)
        g = torch.zeros((r, j * k)).scatter_add_(1, idx, wt.repeat_interleave(j, dim=1))
        g -= wt.sum(-1, keepdim=True) * probs_t
        return (g / n3).numpy()

    out["W3"] = w3_run
    return out


def make_jax(workloads: dict[str, Workload]) -> dict[str, Run]:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return {}
    out: dict[str, Run] = {}

    w = workloads["W1"]
    n1, d1 = w.n, w.params["d"]
    thr1 = jnp.asarray(special.expit(-w.params["logits"]), dtype=jnp.float32)
    probs1 = jnp.asarray(special.expit(w.params["logits"]), dtype=jnp.float32)

    def one_w1(key: Any) -> Any:
        x = (jax.random.uniform(key, (n1, d1)) > thr1).astype(jnp.float32)
        fx = ((x - 0.45) ** 2).sum(-1)
        wt = fx - (fx.sum() - fx) / (n1 - 1)
        return (wt @ x - wt.sum() * probs1) / n1

    w2 = workloads["W2"]
    n2, d2 = w2.n, w2.params["d"]
    mu = jnp.asarray(w2.params["mu"], dtype=jnp.float32)

    def one_w2(key: Any) -> Any:
        x = mu + jax.random.normal(key, (n2, d2))
        fx = jnp.cos(2.0 * x).sum(-1)
        z = x - mu
        s = jnp.concatenate([z, z * z - 1.0], axis=-1)
        s2 = s * s
        fs2 = fx[:, None] * s2
        beta = (fs2.sum(0) - fs2) / (s2.sum(0) - s2)
        return ((fx[:, None] - beta) * s).mean(0)

    w3 = workloads["W3"]
    n3, j, k = w3.n, w3.params["j"], w3.params["k"]
    probs3 = special.softmax(w3.params["logits"], axis=-1)
    cdf = np.cumsum(probs3, axis=-1)
    cdf[:, -1] = 1.0
    cdf_j = jnp.asarray(cdf, dtype=jnp.float32)
    table = jnp.asarray(w3.params["table"], dtype=jnp.float32)
    probs_j = jnp.asarray(probs3, dtype=jnp.float32)
    rows = jnp.arange(j)
    search = jax.vmap(lambda c, u: jnp.searchsorted(c, u, side="right"), in_axes=(0, 1), out_axes=1)

    def one_w3(key: Any) -> Any:
        z = jnp.minimum(search(cdf_j, jax.random.uniform(key, (n3, j))), k - 1)
        fx = table[rows, z].sum(-1)
        wt = fx - (fx.sum() - fx) / (n3 - 1)
        g = jnp.einsum("n,njk->jk", wt, jax.nn.one_hot(z, k)) - wt.sum() * probs_j
        return (g / n3).ravel()

    for key, one in (("W1", one_w1), ("W2", one_w2), ("W3", one_w3)):
        batched = jax.jit(jax.vmap(one))

        def run(r: int, seed: int, batched: Any = batched) -> np.ndarray:
            keys = jax.random.split(jax.random.PRNGKey(seed), r)
            return np.asarray(batched(keys).block_until_ready())

        out[key] = run
    return out


def make_storchastic(workloads: dict[str, Workload]) -> dict[str, Run]:
    """storchastic (a Python loop over replicates, as the library is used).

    W2 has no per-coordinate score control variate in storchastic; it runs the score
    function with storchastic's leave-one-out ("batch_average") baseline instead, so its
    W2 figure is indicative only.
    """
    try:
        import storch
        import torch
        from storch.method import ScoreFunction
    except ImportError:
        return {}
    out: dict[str, Run] = {}

    w = workloads["W1"]
    logits1 = torch.tensor(w.params["logits"], dtype=torch.float32)

    def w1(r: int, seed: int) -> np.ndarray:
        torch.manual_seed(seed)
        res = []
        for _ in range(r):
            theta = logits1.clone().requires_grad_(True)
            method = ScoreFunction("z", n_samples=w.n, baseline_factory="batch_average")
            z = method(torch.distributions.Bernoulli(logits=theta))
            storch.add_cost(((z - 0.45) ** 2).sum(-1), "f")
            storch.backward()
            res.append(theta.grad.numpy().copy())
        return np.stack(res)

    w2 = workloads["W2"]
    mu2 = torch.tensor(w2.params["mu"], dtype=torch.float32)

    def w2_run(r: int, seed: int) -> np.ndarray:
        torch.manual_seed(seed)
        res = []
        for _ in range(r):
            loc = mu2.clone().requires_grad_(True)
            scale = torch.ones_like(mu2).requires_grad_(True)
            method = ScoreFunction("x", n_samples=w2.n, baseline_factory="batch_average")
            x = method(torch.distributions.Normal(loc, scale))
            storch.add_cost(torch.cos(2.0 * x).sum(-1), "f")
            storch.backward()
            res.append(torch.cat([loc.grad, scale.grad]).numpy().copy())
        return np.stack(res)

    w3 = workloads["W3"]
    logits3 = torch.tensor(w3.params["logits"], dtype=torch.float32)
    table3 = torch.tensor(w3.params["table"], dtype=torch.float32)

    def w3_run(r: int, seed: int) -> np.ndarray:
        torch.manual_seed(seed)
        res = []
        for _ in range(r):
            theta = logits3.clone().requires_grad_(True)
            method = ScoreFunction("z", n_samples=w3.n, baseline_factory="batch_average")
            z = method(torch.distributions.Categorical(logits=theta))
            onehot = torch.nn.functional.one_hot(z, w3.params["k"]).float()
            storch.add_cost((onehot * table3).sum((-1, -2)), "f")  # table[j, z_j] summed
            storch.backward()
            res.append(theta.grad.numpy().ravel().copy())
        return np.stack(res)

    out["W1"], out["W2"], out["W3"] = w1, w2_run, w3_run
    return out
