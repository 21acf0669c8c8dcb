"""Fast path of the optimal coefficients: the score alone, k = 1, one coefficient per coordinate.

``_fast_score_cv`` computes what ``optimal_cv(score_features(), pooling="coordinate")``
computes for the sources in ``_FAST_SOURCES`` on (*R, n, p) arrays in the batch's
precision, without forming g = f s from a factored batch (see the docstring of
``vartools.control_variates.coefficients``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from vartools.control_variates.fitting import _DEGENERATE, Moments, _solve
from vartools.core.control_variate import require_score

if TYPE_CHECKING:
    from vartools.core.batch import Batch

__all__ = ["_FAST_SOURCES", "_fast_score_cv", "_fit1"]


#: Sources the fast path handles ("fixed" is cheap in the general path already).
_FAST_SOURCES = ("loo", "crossfit", "running", "batch")


def _fit1(
    m: float, sh: Any, sg: Any, shh: np.ndarray, shg: np.ndarray, center: bool, ridge: float
) -> np.ndarray:
    """beta (..., p) for one feature per coordinate: ``Moments.cov`` then ``_solve``, k = 1.

    The same operations in the same order as the general path, on arrays without the
    trailing k axes (``sh`` and ``sg`` are not used when ``center`` is False).
    """
    if center:
        mean_h = sh * (1.0 / m)
        sxx = shh - mean_h * sh
        sxy = shg - mean_h * sg
    else:
        sxx, sxy = shh, shg
    if ridge > 0:
        sxx = sxx + ridge * sxx
    ok = sxx > _DEGENERATE * shh
    return np.where(ok, sxy / np.where(ok, sxx, 1.0), 0.0)


def _fast_score_cv(
    batch: Batch, state: Any, source: str, center: bool, ridge: float, decay: float
) -> tuple[np.ndarray, np.ndarray, Any]:
    """The score control variate per coordinate: new terms (*R, n, p), coefficient, state.

    Computes what ``optimal_cv(score_features(), pooling="coordinate")`` computes for
    the sources in ``_FAST_SOURCES`` (same formulas, same order of operations up to
    rounding), on (*R, n, p) arrays instead of (*R, n, p, k) ones, and without forming
    g = w s when the batch's terms are in factored form:

        terms_i' = (w_i - beta_i) s_i   (g_i - beta_i s_i for general terms).

    Precision: the per-sample work runs in the batch's dtype (float32 in the float32
    mode), except that centred moments are formed in float64, because
    Sxx = sum s^2 - (sum s)^2 / m cancels and in float32 rounding, not the data, would
    decide whether a coordinate is degenerate; the running moments are accumulated
    in float64 (their sums run over every replicate and batch).
    """
    s = require_score(batch, "the score control variate")
    w = batch.weight if batch.extra is None else None
    g = batch.terms if w is None else None
    dt = np.result_type(s, np.float32) if g is None else np.result_type(s, g, np.float32)
    acc = np.dtype(np.float64) if center else dt
    n = s.shape[-2]
    s_dt = s.astype(dt, copy=False)
    w_dt = None if w is None else w.astype(dt, copy=False)[..., None]

    def terms_with(
        beta: np.ndarray,
        sl: slice = slice(None),
        out: np.ndarray | None = None,
        view: Callable[[np.ndarray], np.ndarray] = lambda a: a,
    ) -> np.ndarray:
        """(w - beta) s, or g - beta s, on samples ``sl`` (then ``view``) in the batch's dtype."""
        b = beta.astype(dt, copy=False)
        if w_dt is not None:
            out = np.subtract(view(w_dt[..., sl, :]), b, out=out)
            out *= view(s_dt[..., sl, :])
            return out
        assert g is not None
        out = np.multiply(b, view(s_dt[..., sl, :]), out=out)
        np.subtract(view(g[..., sl, :]), out, out=out)
        return out

    sa = s.astype(acc, copy=False)
    wa = None if w is None else w.astype(acc, copy=False)[..., None]
    ga = None if g is None else g.astype(acc, copy=False)

    def g_of(sl: slice) -> np.ndarray:
        """Per-sample g (w s or the given terms) on samples ``sl``, in ``acc``."""
        if wa is not None:
            return wa[..., sl, :] * sa[..., sl, :]
        assert ga is not None
        return ga[..., sl, :]

    s2 = sa * sa  # per-sample h h^T
    if source in ("loo", "running") or wa is None:
        gs = wa * s2 if wa is not None else g_of(slice(None)) * sa  # per-sample h g

    def part_sums(
        sl: slice, view: Callable[[np.ndarray], np.ndarray]
    ) -> tuple[Any, Any, np.ndarray, np.ndarray]:
        """sum h, sum g (None without centring), sum h^2, sum h g over samples ``sl``."""
        sh = view(sa[..., sl, :]).sum(-2) if center else None
        if wa is not None:  # sum_i w_i a_i as a matrix product: no (*R, n, p) product
            wt = view(wa[..., sl, :]).swapaxes(-1, -2)
            sg = np.matmul(wt, view(sa[..., sl, :]))[..., 0, :] if center else None
            return (
                sh,
                sg,
                view(s2[..., sl, :]).sum(-2),
                np.matmul(wt, view(s2[..., sl, :]))[..., 0, :],
            )
        sg = view(g_of(sl)).sum(-2) if center else None
        return sh, sg, view(s2[..., sl, :]).sum(-2), view(gs[..., sl, :]).sum(-2)

    if source == "running":
        if state is None:
            beta = np.zeros(s.shape[-1])
        else:
            sxx, sxy = state.cov(center)
            beta = _solve(sxx, sxy, np.trace(state.shh, axis1=-2, axis2=-1), ridge, None)[:, 0]
        axes = tuple(range(s.ndim - 1))
        now = Moments(
            float(np.prod(s.shape[:-1])),
            sa.sum(axes, dtype=np.float64)[:, None],
            g_of(slice(None)).sum(axes, dtype=np.float64),
            s2.sum(axes, dtype=np.float64)[:, None, None],
            gs.sum(axes, dtype=np.float64)[:, None],
        )
        new_state = now if state is None else state.combine(now, w_self=decay)
        return terms_with(beta), beta, new_state

    if source == "loo":  # sums over the other n - 1 samples, in place
        m = float(n - 1)
        wt = None if wa is None else wa.swapaxes(-1, -2)  # (*R, 1, n): totals by matmul
        tot_hg = gs.sum(-2, keepdims=True) if wt is None else np.matmul(wt, s2)
        shh = np.subtract(s2.sum(-2, keepdims=True), s2, out=s2)
        shg = np.subtract(tot_hg, gs, out=gs)
        # the threshold scales with the uncentred sum, as in the general path; without
        # centring or ridge, shh > _DEGENERATE * shh is shh > 0 (shh finite)
        tol = shh * _DEGENERATE if center or ridge > 0 else None
        if center:
            sh = np.subtract(sa.sum(-2, keepdims=True), sa)
            if wa is not None and wt is not None:
                sg = np.multiply(wa, sa)
                np.subtract(np.matmul(wt, sa), sg, out=sg)
            else:
                gi = g_of(slice(None))
                sg = np.subtract(gi.sum(-2, keepdims=True), gi)
            mean_h = sh * (1.0 / m)
            sh *= mean_h
            sg *= mean_h
            shh -= sh  # Sxx
            shg -= sg  # Sxy
            del sh, sg, mean_h
        if ridge > 0:
            shh += ridge * shh
        if tol is None:
            ok = None if shh.min() > 0 else shh > 0
        else:
            ok = shh > tol
        beta = shg
        if ok is None or ok.all():
            np.divide(shg, shh, out=beta)
        else:
            np.divide(shg, shh, out=beta, where=ok)
            beta[~ok] = 0.0
        return terms_with(beta, out=shh if shh.dtype == dt else None), beta, state

    if source == "batch" or n % 2 == 0:  # equal parts: a (*R, parts, n / parts, .) view
        parts = 1 if source == "batch" else 2
        lead = s.shape[:-2]

        def blocks(a: np.ndarray) -> np.ndarray:
            return a.reshape(*lead, parts, n // parts, a.shape[-1])

        sums = part_sums(slice(None), blocks)
        beta = _fit1(float(n // parts), *sums, center, ridge)  # (*R, parts, p)
        use = beta if parts == 1 else beta[..., ::-1, :]  # each half: the other half's fit
        terms = terms_with(use[..., None, :], view=blocks).reshape(s.shape)
        return terms, beta[..., 0, :] if parts == 1 else beta, state
    # crossfit with n odd: halves of n // 2 and n - n // 2 samples
    cuts = [slice(0, n // 2), slice(n // 2, n)]
    betas = []
    for sl in cuts:
        sums = part_sums(sl, lambda a: a)
        betas.append(_fit1(float(sl.stop - sl.start), *sums, center, ridge))
    out = np.empty(s.shape, dtype=dt)
    terms_with(betas[1][..., None, :], cuts[0], out[..., : n // 2, :])
    terms_with(betas[0][..., None, :], cuts[1], out[..., n // 2 :, :])
    return out, np.stack(betas, axis=-2), state
