"""REBAR's relaxed noise: z, the conditional z~ ~ p(z | b), and the control-variate direction.

Bernoulli (Tucker et al. 2017, sec. 3): z = phi + logit(u), b = 1[z > 0], z~ = phi +
logit(v') with v' = b (v theta + 1 - theta) + (1 - b) v (1 - theta). Categorical (Tucker et
al. 2017, appendix; the Gumbel-max trick of Maddison et al.): with l = log softmax(logits),
z = l + Gumbel(u), b = argmax z, and given b, z~_b = -log(-log v_b) and z~_k =
-log(-log(v_k) exp(-l_k) - log v_b) for k != b (the Gumbels conditioned on their argmax),
so dz~_k / dl_k = -log(v_k) exp(-l_k) / exp(-z~_k) for k != b and 0 for b; the relaxed
sample is softmax(z / lam) and f on it is the ``relaxed`` objective on one-hot vectors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from vartools.core.objectives import Objective
from vartools.core.problem import Problem
from vartools.distributions.discrete import Bernoulli, Categorical

__all__ = [
    "categorical_direction",
    "categorical_noise",
    "rebar_direction",
    "relaxed_noise",
    "require_bernoulli",
    "require_relaxable",
]

_TINY = 1e-12


def require_bernoulli(problem: Problem, who: str) -> Bernoulli:
    """The problem's Bernoulli, or an error naming ``who`` and the distribution."""
    if not isinstance(problem.dist, Bernoulli):
        raise TypeError(
            f"{who} needs independent Bernoullis; problem {problem.name!r} samples from "
            f"{type(problem.dist).__name__} (REBAR also takes categoricals with relaxed=...)"
        )
    return problem.dist


def relaxed_noise(
    problem: Problem, u: np.ndarray, v: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """z, z~, dz~/dphi and the score s(b), each flattened to (*R, n, D), from u, v.

    z = phi + logit(u) (b = 1[z > 0]), z~ = phi + logit(v') ~ p(z | b), and
    dz~/dphi = 1 + theta (1 - theta) (dv'/dtheta) / (v' (1 - v')) (dz/dphi = 1).
    """
    dist = require_bernoulli(problem, "rebar")
    phi, theta = dist.logits, dist.probs
    lead = u.shape[: u.ndim - len(dist.event_shape)]
    uc = np.clip(u, _TINY, 1.0 - _TINY)
    b = (uc > 1.0 - theta).astype(np.float64)
    z = phi + np.log(uc) - np.log1p(-uc)
    vp = np.where(b > 0.5, v * theta + 1.0 - theta, v * (1.0 - theta))
    vp = np.clip(vp, _TINY, 1.0 - _TINY)
    zt = phi + np.log(vp) - np.log1p(-vp)
    dvp = np.where(b > 0.5, v - 1.0, -v)
    dzt = 1.0 + theta * (1.0 - theta) * dvp / (vp * (1.0 - vp))
    shape = (*lead, dist.n_params)
    return z.reshape(shape), zt.reshape(shape), dzt.reshape(shape), (b - theta).reshape(shape)


def rebar_direction(
    problem: Problem,
    u: np.ndarray,
    v: np.ndarray,
    temperature: float,
    relaxed: Objective | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """REBAR's control-variate direction C_lam (*R, n, p) for uniforms u, v.

    C_lam = -f(sigma_lam(z~)) s(b) + grad_phi f(sigma_lam(z)) - grad_phi f(sigma_lam(z~)),
    so that the estimator's terms are f(b) s(b) + eta C_lam. Also returns f(sigma_lam(z~))
    (*R, n). Two evaluations of f and its gradient at relaxed points per sample. u, v
    have the shape of the noise: (*R, n, *event) for Bernoullis, (*R, n, *batch, K) for
    categoricals (which need ``relaxed``, f on one-hot vectors with its gradient).
    """
    if isinstance(problem.dist, Categorical):
        return categorical_direction(problem, u, v, temperature, relaxed)
    dist = require_bernoulli(problem, "rebar")
    ev = dist.event_shape
    z, zt, dzt, s = relaxed_noise(problem, u, v)
    lam = float(temperature)
    sz, szt = special.expit(z / lam), special.expit(zt / lam)
    shape = sz.shape
    grad_z = problem.evaluate_grad(sz.reshape(*shape[:-1], *ev)).reshape(shape)
    grad_zt = problem.evaluate_grad(szt.reshape(*shape[:-1], *ev)).reshape(shape)
    gz = grad_z * sz * (1.0 - sz) / lam
    gzt = grad_zt * szt * (1.0 - szt) / lam * dzt
    f_zt = problem.evaluate(szt.reshape(*shape[:-1], *ev))
    return -f_zt[..., None] * s + gz - gzt, f_zt


def require_relaxable(problem: Problem, who: str, relaxed: Objective | None) -> None:
    """Refuse problems REBAR cannot relax, naming ``who`` and the distribution."""
    dist = problem.dist
    if isinstance(dist, Categorical):
        if relaxed is None or relaxed.grad is None:
            raise TypeError(
                f"{who} on a Categorical needs f on one-hot vectors with its gradient: pass "
                f"relaxed=Objective(value, grad) taking (*R, n, *batch, K) arrays to {who}(...)"
            )
        return
    require_bernoulli(problem, who)


def categorical_noise(
    logits: np.ndarray, u: np.ndarray, v: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """b (*R, n, *batch), z, z~ and dz~/dl (each (*R, n, *batch, K)) from uniforms u, v."""
    lp = special.log_softmax(logits, axis=-1)
    uc = np.clip(u, _TINY, 1.0 - _TINY)
    vc = np.clip(v, _TINY, 1.0 - _TINY)
    z = lp - np.log(-np.log(uc))
    b = np.argmax(z, axis=-1)
    onehot = np.arange(lp.shape[-1]) == b[..., None]
    log_vb = np.take_along_axis(np.log(vc), b[..., None], axis=-1)  # (..., 1), < 0
    scaled = -np.log(vc) * np.exp(-lp)  # -log(v_k) exp(-l_k) > 0
    a = np.where(onehot, -log_vb, scaled - log_vb)
    zt = -np.log(a)
    dzt = np.where(onehot, 0.0, scaled / a)
    return b, z, zt, dzt


def categorical_direction(
    problem: Problem,
    u: np.ndarray,
    v: np.ndarray,
    temperature: float,
    relaxed: Objective | None,
) -> tuple[np.ndarray, np.ndarray]:
    """``rebar_direction`` for independent categoricals (see the module docstring)."""
    require_relaxable(problem, "rebar", relaxed)
    assert relaxed is not None and relaxed.grad is not None
    grad_fn = relaxed.grad
    dist = problem.dist
    assert isinstance(dist, Categorical)
    lam = float(temperature)
    b, z, zt, dzt = categorical_noise(dist.logits, u, v)
    p = dist.probs
    lead = b.shape[: b.ndim - len(dist.event_shape)]

    def dtheta(y: np.ndarray, dz: Any) -> np.ndarray:
        h = np.asarray(grad_fn(y), dtype=np.float64)
        q = y * (h - (y * h).sum(-1, keepdims=True)) / lam  # df/dz (softmax VJP)
        dl = q * dz  # df/dl (dz/dl is diagonal)
        return dl - p * dl.sum(-1, keepdims=True)  # through l = log softmax(theta)

    y, yt = special.softmax(z / lam, axis=-1), special.softmax(zt / lam, axis=-1)
    f_zt = np.asarray(relaxed.value(yt), dtype=np.float64)
    s = (np.arange(p.shape[-1]) == b[..., None]) - p
    c = -f_zt.reshape(*lead, *([1] * (s.ndim - len(lead)))) * s + dtheta(y, 1.0) - dtheta(yt, dzt)
    return c.reshape(*lead, dist.n_params), f_zt
