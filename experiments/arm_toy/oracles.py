"""Exact variances of the ARM toy's estimators on a grid of sigmoid(phi): ``exact_table``."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from vartools.estimators.arm import antithetic_moments
from vartools.oracles.exact import rloo_variance, sf_moments

from .models import problem

__all__ = ["exact_table"]


def exact_table(scale: str = "full") -> pd.DataFrame:
    """Exact variances on a grid of sigmoid(phi) in [0.5, 0.9999] (every scale).

    SF and RLOO by enumeration (``vartools.oracles.exact``), ARM and DisARM by integrating u cell by
    cell (``vartools.estimators.arm.antithetic_moments``).
    """
    del scale
    rows = []
    for phi in np.linspace(0.0, 9.2, 185):
        prob = problem().with_params(np.array([phi]))
        m = sf_moments(prob)
        v_sf = float(m.m2[0] - m.g[0] ** 2)
        vals = {
            ("sf", 1): v_sf,
            ("sf", 2): v_sf / 2,
            ("rloo", 2): float(rloo_variance(m, 2)[0]),
            ("arm", 1): float(antithetic_moments(prob, "arm", 1)[1][0]),
            ("disarm", 1): float(antithetic_moments(prob, "disarm", 1)[1][0]),
        }
        for (name, n), v in vals.items():
            rows.append(
                {
                    "logit": float(phi),
                    "theta": float(special.expit(phi)),
                    "estimator": name,
                    "n": n,
                    "exact_variance": max(v, 0.0),
                }
            )
    return pd.DataFrame(rows)
