"""The Gaussian-cost problems: x ~ N(mu = 1, sigma = 1), f = (x - k)^2, exp(-k x^2), cos(k x).

The k grids of the exact lines, the (cost, k) points measured by Monte Carlo, the
closed-form costs and their derivatives (used by the oracles), and the problem factory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from vartools.catalogue.settings import make_problem
from vartools.core.problem import Problem

__all__ = [
    "COSTS",
    "MU",
    "N_GRID_FULL",
    "N_GRID_QUICK",
    "N_PANEL",
    "N_SWEEP_FULL",
    "N_SWEEP_QUICK",
    "RLOO_K",
    "SIGMA",
    "cost_derivatives",
    "cost_value",
    "gaussian_problem",
    "marker_points",
]

#: The costs and the k grid of each (a function of the grid size).
COSTS: dict[str, Callable[[int], np.ndarray]] = {
    "square": lambda m: np.linspace(-3.0, 3.0, m),
    "bump": lambda m: np.geomspace(0.1, 10.0, m),
    "cos": lambda m: np.geomspace(0.5, 5.0, m),
}
N_GRID_FULL = 100
N_GRID_QUICK = 25
RLOO_K = 4
#: the k of the variance-against-n panel
N_PANEL = {"cost": "cos", "k": 2.0}
N_SWEEP_FULL = (1, 2, 4, 8, 16, 32, 64)
N_SWEEP_QUICK = (1, 4, 16)
MU, SIGMA = 1.0, 1.0


def marker_points(n_markers: int) -> list[dict[str, Any]]:
    """The (cost, k) points measured by Monte Carlo: ``n_markers`` per cost, plus N_PANEL."""
    pts: list[dict[str, Any]] = []
    for cost, grid in COSTS.items():
        ks = grid(N_GRID_FULL)
        idx = np.unique(np.round(np.linspace(0, len(ks) - 1, n_markers)).astype(int))
        pts.extend({"cost": cost, "k": float(ks[i])} for i in idx)
    if N_PANEL not in pts:
        pts.append(dict(N_PANEL))
    return pts


def gaussian_problem(cost: str, k: float) -> Problem:
    """x ~ N(1, 1), f the cost at k (``make_problem("gaussian_cost", ...)``)."""
    return make_problem("gaussian_cost", cost=cost, k=float(k))


def cost_derivatives(cost: str, x: np.ndarray, k: np.ndarray):
    """f, f' and f'' of a cost at x, broadcast over an array of k (closed forms)."""
    if cost == "square":
        return (x - k) ** 2, 2.0 * (x - k), np.full(np.broadcast_shapes(x.shape, k.shape), 2.0)
    if cost == "bump":
        f = np.exp(-k * x * x)
        return f, -2.0 * k * x * f, (4.0 * k * k * x * x - 2.0 * k) * f
    if cost == "cos":
        return np.cos(k * x), -k * np.sin(k * x), -k * k * np.cos(k * x)
    raise ValueError(f"cost must be one of {sorted(COSTS)}, got {cost!r}")


def cost_value(cost: str, x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """f of a cost at x, broadcast over k."""
    if cost == "square":
        return (x - k) ** 2
    if cost == "bump":
        return np.exp(-k * x * x)
    if cost == "cos":
        return np.cos(k * x)
    raise ValueError(f"cost must be one of {sorted(COSTS)}, got {cost!r}")
