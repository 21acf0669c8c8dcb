"""Least-squares fitting of control-variate coefficients (for ``coefficients``).

Sums of the moments of h and g over samples (``Moments``, ``_per_sample``, ``_sums``),
the pooling groups of the coordinates (``_groups``) and the solve
beta = (Sxx + ridge tr(Sxx)/k I)^+ Sxy with degenerate directions set to zero
(``_solve``); the formulas are in the docstring of ``vartools.control_variates.coefficients``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from vartools.core.problem import Problem

__all__ = ["Moments", "_DEGENERATE", "_groups", "_per_sample", "_solve", "_sums"]


def _groups(problem: Problem, pooling: str) -> np.ndarray | None:
    """Group index (p,) of each coordinate, or None for per-coordinate coefficients."""
    p = problem.dist.n_params
    if pooling == "coordinate":
        return None
    if pooling == "all":
        return np.zeros(p, dtype=np.int64)
    blocks = problem.dist.unflatten(np.arange(p))
    gid = np.empty(p, dtype=np.int64)
    for j, idx in enumerate(blocks.values()):
        gid[np.asarray(idx, dtype=np.int64).ravel()] = j
    return gid


#: Relative size below which a direction of Sxx counts as zero (no information).
_DEGENERATE = 1e-10


def _solve(
    sxx: np.ndarray, sxy: np.ndarray, scale: np.ndarray, ridge: float, gid: np.ndarray | None
) -> np.ndarray:
    """beta (..., p, k) from Sxx (..., p, k, k), Sxy (..., p, k), pooled by gid.

    ``scale`` (..., p) is the size of the uncentred second moment of h: a direction of
    Sxx smaller than ``_DEGENERATE * scale`` (e.g. all samples equal, up to rounding)
    gets a zero coefficient, so rounding never decides the coefficient.
    """
    if gid is not None:
        onehot = (gid[:, None] == np.arange(gid.max() + 1)).astype(np.float64)  # (p, G)
        sxx = np.einsum("...pkl,pg->...gkl", sxx, onehot)
        sxy = np.einsum("...pk,pg->...gk", sxy, onehot)
        scale = np.einsum("...p,pg->...g", scale, onehot)
    k = sxx.shape[-1]
    if ridge > 0:
        tr = np.trace(sxx, axis1=-2, axis2=-1)[..., None, None] / k
        sxx = sxx + ridge * tr * np.eye(k)
    tol = _DEGENERATE * scale
    if k == 1:
        den = sxx[..., 0]
        ok = den > tol[..., None]
        beta = np.where(ok, sxy / np.where(ok, den, 1.0), 0.0)
    else:  # pseudo-inverse through the eigendecomposition of the symmetric Sxx
        w, v = np.linalg.eigh(sxx)
        ok = w > tol[..., None]
        inv_w = np.where(ok, 1.0 / np.where(ok, w, 1.0), 0.0)
        proj = np.einsum("...kj,...k->...j", v, sxy) * inv_w
        beta = np.einsum("...kj,...j->...k", v, proj)
    return beta if gid is None else beta[..., gid, :]


class Moments(NamedTuple):
    """Sums over samples: count m, sum h (.., p, k), sum g (.., p), sum h h^T, sum h g.

    Also the state of ``optimal_cv(..., source="running")`` (None before the first
    batch): the decayed sums of earlier batches.
    """

    m: Any
    sh: np.ndarray
    sg: np.ndarray
    shh: np.ndarray
    shg: np.ndarray

    def combine(self, other: Moments, w_self: float = 1.0, sign: float = 1.0) -> Moments:
        """w_self * self + sign * other, entry by entry (broadcasting)."""
        return Moments(*(w_self * a + sign * b for a, b in zip(self, other, strict=True)))

    def cov(self, center: bool) -> tuple[np.ndarray, np.ndarray]:
        """Sxx (.., p, k, k) and Sxy (.., p, k), about the sample means or the known mean."""
        if not center:
            return self.shh, self.shg
        m = np.asarray(self.m, dtype=np.float64)
        inv = np.where(m > 0, 1.0 / np.where(m > 0, m, 1.0), 0.0)
        inv = inv.reshape(inv.shape + (1,) * (self.sh.ndim - inv.ndim))
        mean_h = self.sh * inv
        sxx = self.shh - mean_h[..., :, None] * self.sh[..., None, :]
        sxy = self.shg - mean_h * self.sg[..., None]
        return sxx, sxy


def _per_sample(hc: np.ndarray, g: np.ndarray) -> Moments:
    """Each sample's own contribution (m = 1), shapes (*R, n, p, ...)."""
    return Moments(1.0, hc, g, hc[..., :, None] * hc[..., None, :], hc * g[..., None])


def _sums(hc: np.ndarray, g: np.ndarray, axis: tuple[int, ...]) -> Moments:
    """Moments summed over the given (non-negative) sample axes of hc (*R, n, p, k)."""
    one = _per_sample(hc, g)
    m = float(np.prod([hc.shape[a] for a in axis]))
    return Moments(m, *(a.sum(axis=axis) for a in one[1:]))
