"""The option-Greeks problems (Black-Scholes call and digital call) and estimators."""

from __future__ import annotations

from typing import Any

import numpy as np

from vartools.catalogue.finance import _control_terms, option_problem, price_control
from vartools.control_variates.coefficients import optimal_cv
from vartools.control_variates.features import Features, FeatureValues
from vartools.core.batch import Batch
from vartools.core.problem import Problem
from vartools.estimators.base import pathwise, score_function
from vartools.estimators.composed import Estimator, make_estimator

__all__ = [
    "EXACT_GRID",
    "FITTED",
    "GREEKS",
    "KINDS",
    "MATURITY",
    "MONEYNESS_FULL",
    "MONEYNESS_QUICK",
    "N_FULL",
    "N_QUICK",
    "RATE",
    "SIGMA",
    "STRIKE",
    "build_estimators",
    "exact_grid",
    "greeks_problem",
    "option_points",
    "price_features",
]

STRIKE, RATE, SIGMA, MATURITY = 100.0, 0.05, 0.2, 1.0
KINDS = ("call", "digital")
GREEKS = {"s0": "delta", "sigma": "vega"}
MONEYNESS_FULL = tuple(np.round(np.linspace(0.8, 1.2, 9), 3))
MONEYNESS_QUICK = (0.8, 1.0, 1.2)
N_FULL = (1, 4, 16, 64, 256)
N_QUICK = (1, 16)
EXACT_GRID = 41


def greeks_problem(kind: str, moneyness: float) -> Problem:
    """The option problem at S0 = moneyness * K."""
    return option_problem(
        kind,
        s0=float(moneyness) * STRIKE,
        strike=STRIKE,
        rate=RATE,
        sigma=SIGMA,
        maturity=MATURITY,
    )


#: the estimators whose coefficient is fitted from the samples (no single-sample oracle)
FITTED = ("lr+cv (loo)", "pathwise+cv (loo)")


def price_features(kind: str) -> Features:
    """The price control terms c_i (``price_control``'s, mean (1, 0)) as fitting features.

    ``optimal_cv(price_features(kind), source="loo")`` fits beta per coordinate from the
    other samples of the batch (leave-one-out), instead of the oracle beta* that
    ``price_control`` computes by quadrature from the true distribution.
    """

    def fn(batch: Batch, problem: Problem) -> FeatureValues:
        if batch.noise is None:
            raise ValueError(
                "price_features needs the batch's noise (draw with a vartools sampler)"
            )
        c = _control_terms(problem, kind, batch.noise)
        return FeatureValues(h=c[..., None], mean=np.array([[1.0], [0.0]]))

    return Features(f"price_{kind}", fn)


def build_estimators() -> list[Estimator]:
    """lr, lr+cv* (oracle), lr+cv (loo), pathwise, pathwise+cv* (oracle), pathwise+cv (loo).

    The ``cv*`` estimators use the price control variate with the exact beta* from the true
    distribution (``price_control``: an oracle); the ``(loo)`` ones fit beta from the batch
    leave-one-out (unbiased, n >= 2), at the same evaluations of the payoff.
    """
    return [
        make_estimator(score_function, name="lr"),
        make_estimator(score_function, price_control("sf"), name="lr+cv* (oracle)"),
        make_estimator(
            score_function, optimal_cv(price_features("sf"), source="loo"), name="lr+cv (loo)"
        ),
        make_estimator(pathwise, name="pathwise"),
        make_estimator(pathwise, price_control("pathwise"), name="pathwise+cv* (oracle)"),
        make_estimator(
            pathwise,
            optimal_cv(price_features("pathwise"), source="loo"),
            name="pathwise+cv (loo)",
        ),
    ]


def option_points(
    moneyness: tuple[float, ...], kinds: tuple[str, ...] = ("call",)
) -> list[dict[str, Any]]:
    """The points (kind, moneyness) of every kind at every moneyness."""
    return [{"kind": k, "moneyness": float(m)} for k in kinds for m in moneyness]


def exact_grid(scale: str, points: Any) -> list[float]:
    """The moneyness values of the exact lines: a grid (finer at the full scale) and the points."""
    grid = np.linspace(0.8, 1.2, EXACT_GRID if scale == "full" else 9)
    return sorted(set(np.round(grid, 6).tolist()) | {float(p["moneyness"]) for p in points})
