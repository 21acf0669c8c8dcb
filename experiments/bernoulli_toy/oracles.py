"""Exact variances of the Bernoulli toy's estimators for one Bernoulli.

The score-function family via ``vartools.oracles.exact`` (enumeration); ARM and DisARM by
integrating the uniform u piecewise (the estimators are piecewise constant, or piecewise
linear, in u). ``exact_table`` is the experiment's hook (``exact.csv``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from vartools.oracles.exact import (
    baseline_variance,
    optimal_baseline_variance,
    rloo_variance,
    sf_moments,
)

from .models import T_VALUES, problem

__all__ = ["arm_moments", "disarm_moments", "exact_table", "exact_variances"]


def _pieces(phi: float) -> list[tuple[float, float, int, int]]:
    """Intervals of u in [0, 1] with constant (b1, b2) for the antithetic pair.

    b1 = 1[u > 1 - sigmoid(phi)], b2 = 1[u < sigmoid(phi)] (Yin & Zhou 2019).
    """
    theta = float(special.expit(phi))
    cuts = sorted({0.0, theta, 1.0 - theta, 1.0})
    out = []
    for a, c in zip(cuts[:-1], cuts[1:], strict=True):
        mid = 0.5 * (a + c)
        out.append((a, c, int(mid > 1.0 - theta), int(mid < theta)))
    return out


def arm_moments(phi: float, f0: float, f1: float) -> tuple[float, float]:
    """Exact mean and variance of the single-pair ARM estimate for one Bernoulli.

    g(u) = (f(b1) - f(b2)) (u - 1/2), u ~ U(0, 1) (Yin & Zhou 2019, eq. 5); the integrals
    of (u - 1/2) and (u - 1/2)^2 are taken in closed form on each piece.
    """
    fv = (f0, f1)
    m1 = m2 = 0.0
    for a, c, b1, b2 in _pieces(phi):
        delta = fv[b1] - fv[b2]
        m1 += delta * (((c - 0.5) ** 2 - (a - 0.5) ** 2) / 2.0)
        m2 += delta**2 * (((c - 0.5) ** 3 - (a - 0.5) ** 3) / 3.0)
    return m1, m2 - m1 * m1


def disarm_moments(phi: float, f0: float, f1: float) -> tuple[float, float]:
    """Exact mean and variance of the single-pair DisARM estimate for one Bernoulli.

    g(u) = (1/2) (f(b1) - f(b2)) 1[b1 != b2] (-1)^b2 sigmoid(|phi|) (Dong et al. 2020,
    eq. 7): piecewise constant in u.
    """
    fv = (f0, f1)
    w = float(special.expit(abs(phi)))
    m1 = m2 = 0.0
    for a, c, b1, b2 in _pieces(phi):
        g = 0.5 * (fv[b1] - fv[b2]) * float(b1 != b2) * (-1.0) ** b2 * w
        m1 += (c - a) * g
        m2 += (c - a) * g * g
    return m1, m2 - m1 * m1


def exact_variances(phi: float, t: float) -> dict[str, float]:
    """Exact variance of every compared estimator at logit ``phi`` (n of ``CURVES``).

    The EMA baseline is taken at its limit b = E[f] (the EMA of f at frozen parameters);
    the Monte Carlo markers use the warmed-up EMA state, whose exact variance is in the
    summary table's ``exact_variance`` column.
    """
    prob = problem(t).with_params(np.array([phi]))
    m = sf_moments(prob)
    f0, f1 = t * t, (1 - t) ** 2
    return {
        "sf": float(m.m2[0] - m.g[0] ** 2),
        "sf+ema": float(baseline_variance(m, m.ef)[0]),
        "sf+opt* (oracle)": float(max(optimal_baseline_variance(m)[0], 0.0)),
        "rloo": float(rloo_variance(m, 2)[0]),
        "arm": arm_moments(phi, f0, f1)[1],
        "disarm": max(disarm_moments(phi, f0, f1)[1], 0.0),
        "exact (RB)": 0.0,
    }


def exact_table(scale: str = "full") -> pd.DataFrame:
    """Exact variance of every estimator on a grid of logits (the same at every scale)."""
    del scale
    rows = []
    for t in T_VALUES:
        for phi in np.linspace(-9.0, 3.0, 241):
            theta = float(special.expit(phi))
            for name, v in exact_variances(float(phi), t).items():
                rows.append(
                    {
                        "t": t,
                        "logit": float(phi),
                        "theta": theta,
                        "estimator": name,
                        "exact_variance": v,
                    }
                )
    return pd.DataFrame(rows)
