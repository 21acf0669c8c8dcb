"""Exact lines of the Gaussian costs: every estimator's variance against k, by quadrature.

One adaptive cubature per cost integrates every needed moment for all k at once
(``exact_curves_for``); ``tables`` is the experiment's hook that writes them as
``exact.csv``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from vartools.oracles.exact import rloo_variance

from .estimators import ESTIMATOR_NS
from .fitted import fitted_counts, fitted_panel
from .models import (
    COSTS,
    MU,
    N_GRID_FULL,
    N_GRID_QUICK,
    N_PANEL,
    RLOO_K,
    SIGMA,
    cost_derivatives,
    cost_value,
    marker_points,
)

if TYPE_CHECKING:
    from vartools.harness.experiment import Experiment

__all__ = ["GL_NODES", "exact_curves", "exact_curves_for", "tables"]

GL_NODES = 128


def _cubature(fn: Callable[[np.ndarray], np.ndarray], a: list[float], b: list[float]) -> np.ndarray:
    from scipy import integrate

    res = integrate.cubature(fn, a, b, rtol=1e-10, atol=1e-12, max_subdivisions=200_000)
    if res.status != "converged":
        raise RuntimeError(f"exact-curve quadrature did not converge (error {res.error.max()})")
    return np.asarray(res.estimate, dtype=np.float64)


def exact_curves_for(cost: str, ks: np.ndarray) -> pd.DataFrame:
    """Exact variances of every estimator at every k of one cost, vectorised over k.

    One adaptive cubature over the N(0, 1) noise integrates, for all k at once, the
    score-function moments (sf, sf+b*, RLOO: ``vartools.oracles.exact`` closed forms), the
    pathwise terms and the delta-method moments (the second-order Taylor expansion of f at
    mu, Var(g) - Cov(g, h)^2 / Var(h) at the optimal coefficient); two more give the
    coupled measure-valued derivative (Rayleigh W for the mean; double-sided Maxwell M and
    U M for the scale). Tests check every line against the library's per-problem oracles
    (``sf_moments``, ``exact_moments``, ``mvd_moments``) and closed forms.

    Returns:
        Rows (cost, k, estimator, coordinate, n, exact_variance, exact_mean) where
        exact_variance is the variance of the n-sample estimate.
    """
    from vartools.oracles.exact import SFMoments

    ks = np.asarray(ks, dtype=np.float64)
    nk = ks.size
    kk = ks[None, :]

    def main(e: np.ndarray) -> np.ndarray:
        z = e[:, :1]  # (m, 1)
        x = MU + SIGMA * z
        f, f1, _ = cost_derivatives(cost, x, kk)
        f0, a, h2 = cost_derivatives(cost, np.array([[MU]]), kk)
        dx = x - MU
        ftil = f0 + a * dx + 0.5 * h2 * dx * dx
        ftil1 = a + h2 * dx
        out = []
        for s, dxd in ((z / SIGMA, 1.0), ((z * z - 1.0) / SIGMA, z)):
            g = f * s
            hs = ftil * s
            t = f1 * dxd
            hp = ftil1 * dxd
            out += [g, g * g, f * s * s, g * hs, hs, hs * hs, t, t * t, t * hp, hp, hp * hp]
        out += [f, f * f]
        dens = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
        return (np.stack(np.broadcast_arrays(*out), axis=1) * dens[:, :, None]).reshape(len(e), -1)

    v = _cubature(main, [-np.inf], [np.inf]).reshape(-1, nk)
    per = 11
    coords = ["loc[0]", "scale[0]"]
    m0 = np.array([1.0 / SIGMA**2, 2.0 / SIGMA**2])  # E[s^2]
    res: dict[str, np.ndarray] = {}  # estimator -> (2, nk) variances
    blocks = [v[i * per : (i + 1) * per] for i in range(2)]
    ef, ef2 = v[2 * per], v[2 * per + 1]
    g = np.stack([b[0] for b in blocks])
    tmean = np.stack([b[6] for b in blocks])

    def cv_var(var_g: np.ndarray, cov: np.ndarray, var_h: np.ndarray) -> np.ndarray:
        safe = np.where(var_h > 1e-300, var_h, 1.0)
        return np.maximum(var_g - np.where(var_h > 1e-300, cov**2 / safe, 0.0), 0.0)

    sf_var, pw_var, sfd, pwd, opt, loo = [], [], [], [], [], []
    for j, b in enumerate(blocks):
        gj, g2, m1, ghs, hs, hs2, t, t2, thp, hp, hp2 = b
        sf_var.append(g2 - gj**2)
        pw_var.append(t2 - t**2)
        sfd.append(cv_var(g2 - gj**2, ghs - gj * hs, hs2 - hs**2))
        pwd.append(cv_var(t2 - t**2, thp - t * hp, hp2 - hp**2))
        opt.append(g2 - m1**2 / m0[j] - gj**2)
        mom = SFMoments(g=gj, m2=g2, m1=m1, m0=np.full(nk, m0[j]), ef=ef, ef2=ef2)  # type: ignore[arg-type]
        loo.append(rloo_variance(mom, RLOO_K))
    res = {
        "sf": np.array(sf_var),
        "sf+b* (oracle)": np.array(opt),
        "pathwise": np.array(pw_var),
        "sf+loo": np.array(loo),
        "sf+delta* (oracle)": np.array(sfd),
        "pathwise+delta* (oracle)": np.array(pwd),
    }
    means = {name: g for name in res}
    means["pathwise"] = means["pathwise+delta* (oracle)"] = tmean

    # measure-valued derivative, coupled (Mohamed et al. 2020, sec. 6)
    c_mu = 1.0 / (SIGMA * math.sqrt(2 * math.pi))

    def mvd_mean(w: np.ndarray) -> np.ndarray:
        w = w[:, :1]
        gm = c_mu * (cost_value(cost, MU + SIGMA * w, kk) - cost_value(cost, MU - SIGMA * w, kk))
        dens = w * np.exp(-0.5 * w * w)
        return np.concatenate([gm * dens, gm * gm * dens], axis=1)

    # U ~ U(0, 1) by fixed Gauss-Legendre nodes (the integrand is entire in u), M adaptively
    u_nodes, u_weights = np.polynomial.legendre.leggauss(GL_NODES)
    u_nodes, u_weights = 0.5 * (u_nodes + 1.0), 0.5 * u_weights

    def mvd_scale(m: np.ndarray) -> np.ndarray:
        m = m[:, :1, None]  # (q, 1, 1)
        pos = cost_value(cost, MU + SIGMA * m, kk[None])  # (q, 1, nk)
        neg = cost_value(cost, MU + SIGMA * u_nodes[None, :, None] * m, kk[None])
        gs = (pos - neg) / SIGMA  # (q, u, nk)
        m1 = np.einsum("qun,u->qn", gs, u_weights)
        m2 = np.einsum("qun,u->qn", gs * gs, u_weights)
        dens = (m * m * np.exp(-0.5 * m * m) / math.sqrt(2 * math.pi))[:, :, 0]
        return np.concatenate([m1 * dens, m2 * dens], axis=1)

    vm = _cubature(mvd_mean, [0.0], [np.inf]).reshape(2, nk)
    vs = _cubature(mvd_scale, [-np.inf], [np.inf]).reshape(2, nk)
    res["mvd"] = np.array([vm[1] - vm[0] ** 2, vs[1] - vs[0] ** 2])
    means["mvd"] = np.array([vm[0], vs[0]])

    rows = []
    for name, var in res.items():
        n = ESTIMATOR_NS[name]
        for j, coord in enumerate(coords):
            for i, k in enumerate(ks):
                rows.append(
                    {
                        "cost": cost,
                        "k": float(k),
                        "estimator": name,
                        "coordinate": coord,
                        "n": n,
                        "exact_variance": float(var[j, i]),
                        "exact_mean": float(means[name][j, i]),
                    }
                )
    return pd.DataFrame(rows)


def exact_curves(n_grid: int = N_GRID_FULL, markers: int = 10) -> pd.DataFrame:
    """The exact lines of every cost on its grid of ``n_grid`` k (plus the markers' k)."""
    parts = []
    pts = marker_points(markers)
    for cost, grid in COSTS.items():
        ks = set(grid(n_grid).tolist()) | {p["k"] for p in pts if p["cost"] == cost}
        parts.append(exact_curves_for(cost, np.array(sorted(ks))))
    return pd.concat(parts, ignore_index=True)


def tables(exp: Experiment, summary: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Extra tables the experiment writes next to summary.csv.

    ``exact.csv`` (the lines) and, given the summary, ``fitted.csv`` (how often the oracle
    b* and its fitted versions are no worse than SF: ``fitted.fitted_counts``) and
    ``fitted_panel.csv`` (the b estimators against n at the variance-against-n panel's k).

    Args:
        exp: the experiment at its scale (the quick scale uses a coarser k grid).
        summary: the harness's summary table.
    """
    n_grid = N_GRID_FULL if exp.scale == "full" else N_GRID_QUICK
    parts = []
    for cost, grid in COSTS.items():
        ks = set(grid(n_grid).tolist())
        ks |= {float(p["k"]) for p in exp.points if p["cost"] == cost}
        parts.append(exact_curves_for(cost, np.array(sorted(ks))))
    out = {"exact": pd.concat(parts, ignore_index=True)}
    if summary is not None:
        out["fitted"] = fitted_counts(summary, out["exact"])
        out["fitted_panel"] = fitted_panel(summary, N_PANEL["cost"], float(N_PANEL["k"]))
    return out
