"""The three benchmark workloads of issue 8, written with vartools and by hand in NumPy.

Each workload is a ``Workload``: the vartools problem and estimator (public API only),
a hand-vectorised NumPy reference that computes the same estimator from the same
random numbers, and the random-number floor (drawing those numbers and nothing else).

- W1: 200 Bernoullis, logits linspace(-2, 2), f = sum_d (b_d - 0.45)^2, score function
  + leave-one-out baseline (RLOO), K = 16 samples per estimate.
- W2: 100 Normals N(mu_d, 1), mu = linspace(-1, 1), theta = (loc, scale) (p = 200),
  (float32: normals by Box-Muller on float32 uniforms, as vartools' float32 mode draws them),
  f = sum_d cos(2 x_d), score function + score control variate with one coefficient
  per coordinate, b_d = sum_j f_j s_jd^2 / sum_j s_jd^2, fitted leave-one-out (sample i
  uses the other N - 1 samples: unbiased) or cross-fitted on halves; N = 32. Both run
  through the fast path of ``vartools.control_variates.coefficients`` for the score alone with one
  coefficient per coordinate, in the batch's precision.
- W3: 20 categoricals x 50 classes, f = sum_j table[j, z_j], score function + RLOO,
  K = 8.

For the same generator state the vartools and reference functions consume the same
random numbers in the same order, so their estimates agree to rounding
(tests/test_benchmark_correctness.py checks it). ``dtype=np.float32`` gives the
single-precision variants (vartools' ``make_estimator(..., dtype="float32")``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

import vartools as vt
from vartools.control_variates.coefficients import optimal_baseline

__all__ = ["WORKLOADS", "Workload", "make_workloads"]

Array = np.ndarray


@dataclass(frozen=True)
class Workload:
    """One benchmark workload.

    Attributes:
        key: "W1", "W2", "W3".
        title: one-line description.
        n: samples per estimate.
        problem: the vartools Problem.
        estimator: name -> factory(dtype) -> vartools Estimator.
        reference: name -> hand NumPy function (rng, R, dtype) -> (R, p) estimates; the
            names match ``estimator``.
        floor: (rng, R, dtype) -> the random numbers only.
        params: the workload's constants (for the torch / JAX versions).
    """

    key: str
    title: str
    n: int
    problem: vt.Problem
    estimator: dict[str, Callable[[str], vt.Estimator]]
    reference: dict[str, Callable[[np.random.Generator, int, Any], Array]]
    floor: Callable[[np.random.Generator, int, Any], Array]
    params: dict[str, Any]


# ---------------------------------------------------------------- W1: Bernoulli + RLOO
def _w1() -> Workload:
    d, n = 200, 16
    logits = np.linspace(-2.0, 2.0, d)
    thr = special.expit(-logits)  # b = 1[u > 1 - sigmoid(logits)]
    probs = special.expit(logits)

    def f(x: Array) -> Array:
        return ((x - 0.45) ** 2).sum(-1)

    problem = vt.Problem("W1-bern200", vt.Bernoulli(logits), f)

    def reference(rng: np.random.Generator, r: int, dtype: Any = np.float64) -> Array:
        u = rng.random((r, n, d), dtype=dtype)
        x = (u > thr).astype(dtype)
        fx = f(x).astype(np.float64)
        w = (fx - (fx.sum(-1, keepdims=True) - fx) / (n - 1)).astype(dtype)  # RLOO weights
        g = np.matmul(w[:, None, :], x)[:, 0, :] - w.sum(-1)[:, None] * probs.astype(dtype)
        return g / n

    def floor(rng: np.random.Generator, r: int, dtype: Any = np.float64) -> Array:
        return rng.random((r, n, d), dtype=dtype)

    return Workload(
        "W1",
        "200 Bernoullis, f = sum (b - 0.45)^2, SF + RLOO, K = 16",
        n,
        problem,
        {"rloo": lambda dt: vt.make_estimator(vt.score_function, vt.loo_baseline(), dtype=dt)},
        {"rloo": reference},
        floor,
        {"logits": logits, "d": d},
    )


# ------------------------------------------------- W2: Normal + per-coordinate score CV
def _w2() -> Workload:
    d, n = 100, 32
    mu = np.linspace(-1.0, 1.0, d)

    def f(x: Array) -> Array:
        return np.cos(2.0 * x).sum(-1)

    problem = vt.Problem("W2-normal100", vt.Normal(mu, np.ones(d)), f)

    def normals(rng: np.random.Generator, r: int, dtype: Any) -> Array:
        """float64: NumPy's normals. float32: as vartools' float32 mode draws them,
        Box-Muller on one raw 64-bit word per pair, one row of words per replicate: the
        first halves of the row's words give the radii, the last halves the angles."""
        if dtype != np.float32:
            return rng.standard_normal((r, n, d))
        h = n * d // 2  # n d is even here
        v = rng.bit_generator.random_raw((r, h)).view(np.uint32)
        b = (v[:, :h] | 1).astype(np.float32)  # (v | 1) 2^-32 in (0, 1)
        radius = np.sqrt(2 * np.maximum(np.float32(32 * np.log(2)) - np.log(b), 0))
        angle = v[:, h:].astype(np.float32) * np.float32(2 * np.pi / 2**32)
        return np.concatenate([radius * np.cos(angle), radius * np.sin(angle)], 1).reshape(r, n, d)

    def _terms(rng: np.random.Generator, r: int, dtype: Any) -> tuple[Array, Array]:
        e = normals(rng, r, dtype)
        x = mu.astype(dtype) + e
        fx = f(x).astype(dtype)
        z = x - mu.astype(dtype)  # scale = 1
        s = np.concatenate([z, z * z - 1.0], axis=-1)  # score wrt (loc, scale), (R, n, p)
        return fx, s

    def reference_loo(rng: np.random.Generator, r: int, dtype: Any = np.float64) -> Array:
        fx, s = _terms(rng, r, dtype)
        s2 = s * s
        sxx = s2.sum(1, keepdims=True)  # (R, 1, p)
        fs2 = fx[..., None] * s2
        sxy = fs2.sum(1, keepdims=True)
        beta = (sxy - fs2) / (sxx - s2)  # leave-one-out coefficient of sample i
        return ((fx[..., None] - beta) * s).mean(1)

    def reference_xfit(rng: np.random.Generator, r: int, dtype: Any = np.float64) -> Array:
        fx, s = _terms(rng, r, dtype)
        m = n // 2
        s2 = s * s
        fs2 = fx[..., None] * s2
        b_a = fs2[:, :m].sum(1) / s2[:, :m].sum(1)  # fitted on the first half
        b_b = fs2[:, m:].sum(1) / s2[:, m:].sum(1)
        fs = fx[..., None] * s
        g = fs.sum(1) - b_b * s[:, :m].sum(1) - b_a * s[:, m:].sum(1)
        return g / n

    def floor(rng: np.random.Generator, r: int, dtype: Any = np.float64) -> Array:
        return normals(rng, r, dtype)

    return Workload(
        "W2",
        "100 Normals, f = sum cos(2x), SF + per-coordinate score CV, N = 32",
        n,
        problem,
        {
            "loo": lambda dt: vt.make_estimator(
                vt.score_function, optimal_baseline("loo", center=False), dtype=dt
            ),
            "xfit": lambda dt: vt.make_estimator(
                vt.score_function, optimal_baseline("crossfit", center=False), dtype=dt
            ),
        },
        {"loo": reference_loo, "xfit": reference_xfit},
        floor,
        {"mu": mu, "d": d},
    )


# ------------------------------------------------------ W3: categoricals + RLOO
def _w3() -> Workload:
    j, k, n = 20, 50, 8
    rng = np.random.default_rng(20261127)
    table = rng.normal(size=(j, k))
    logits = rng.normal(size=(j, k))
    probs = special.softmax(logits, axis=-1)
    cdf = np.cumsum(probs, axis=-1)
    cdf[:, -1] = 1.0
    rows = np.arange(j)

    def f(z: Array) -> Array:
        return table[rows, z].sum(-1)

    problem = vt.Problem("W3-cat20x50", vt.Categorical(logits), f)

    def inverse_cdf(u: Array) -> Array:
        z = np.empty(u.shape, dtype=np.int64)
        for c in range(j):  # one binary search per categorical (20), vectorised over R n
            z[..., c] = np.searchsorted(cdf[c], u[..., c], side="right")
        return np.minimum(z, k - 1)

    def reference(rng: np.random.Generator, r: int, dtype: Any = np.float64) -> Array:
        z = inverse_cdf(rng.random((r, n, j), dtype=dtype))
        fx = f(z)
        w = fx - (fx.sum(-1, keepdims=True) - fx) / (n - 1)
        # sum_i w_i onehot(z_i) by a scatter-add over (replicate, categorical, class) cells
        cell = (np.arange(r)[:, None, None] * j + rows) * k + z
        wb = np.broadcast_to(w[..., None], cell.shape)
        g = np.bincount(cell.ravel(), weights=wb.ravel(), minlength=r * j * k).reshape(r, -1)
        g -= w.sum(-1)[:, None] * probs.ravel()
        return g / n

    def floor(rng: np.random.Generator, r: int, dtype: Any = np.float64) -> Array:
        return inverse_cdf(rng.random((r, n, j), dtype=dtype))

    return Workload(
        "W3",
        "20 categoricals x 50 classes, f = sum table[j, z_j], SF + RLOO, K = 8",
        n,
        problem,
        {"rloo": lambda dt: vt.make_estimator(vt.score_function, vt.loo_baseline(), dtype=dt)},
        {"rloo": reference},
        floor,
        {"table": table, "logits": logits, "j": j, "k": k},
    )


def make_workloads() -> dict[str, Workload]:
    """The three workloads, keyed "W1", "W2", "W3"."""
    return {w.key: w for w in (_w1(), _w2(), _w3())}


WORKLOADS = make_workloads()
