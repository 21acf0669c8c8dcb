"""Option Greeks by Monte Carlo: likelihood ratio (score function) against pathwise.

Sensitivity analysis in computational finance (Glasserman 2003, ch. 7; REFERENCES.md,
"Beyond the papers"): under Black-Scholes, S_T = S0 exp((r - sigma^2/2) T + sigma sqrt(T) Z),
and the Greeks of a European call (delta = d price / d S0, vega = d price / d sigma) and of a
digital call are gradients of E[discounted payoff(S_T)] with respect to theta = (S0, sigma)
(``vartools.catalogue.finance``). Parameters: K = 100, r = 0.05, sigma = 0.2, T = 1, S0 / K
from 0.8 to 1.2.

Estimators (one evaluation of the payoff, or of its derivative, per sample):

- ``lr``: likelihood ratio = score function;
- ``lr+cv* (oracle)``: with the discounted terminal price e^{-rT} S_T as control variate (its
  mean, S0, is known), optimal coefficient beta* computed exactly by quadrature from the true
  distribution (``price_control``: an oracle);
- ``lr+cv (loo)``: the same control with beta fitted from the batch leave-one-out (unbiased;
  n >= 2; measured by Monte Carlo only);
- ``pathwise``: payoff'(S_T) dS_T/dtheta; biased for the digital call (its payoff's derivative
  is 0 almost everywhere, so the pathwise estimate is identically 0);
- ``pathwise+cv* (oracle)``, ``pathwise+cv (loo)``: with the same control, beta* oracle or
  fitted leave-one-out (for the digital they stay 0).

Exact values: Black-Scholes closed forms for the Greeks; exact single-sample variances by
quadrature over Z split at the strike (``exact_terms_moments``). Outputs: ``summary.csv``
(Monte Carlo), ``exact.csv`` (exact variances on a fine moneyness grid and the Greeks),
``bias.csv`` (mean of each estimator against the exact Greek with its standard error: the
pathwise digital delta is biased, the likelihood ratio is not).
"""

from __future__ import annotations

import pandas as pd

from vartools.harness.experiment import Experiment, Scale
from vartools.harness.layout import Layout
from vartools.harness.plot_spec import Plot

from .extra import exact_table_at, tables
from .models import (
    MONEYNESS_FULL,
    MONEYNESS_QUICK,
    N_FULL,
    N_QUICK,
    build_estimators,
    exact_grid,
    greeks_problem,
    option_points,
)

__all__ = ["EXPERIMENT", "exact_table", "tables"]

EXPERIMENT = Experiment(
    name="option_greeks",
    description=(
        "Black-Scholes Greeks (delta, vega of a call; delta of a digital): likelihood ratio vs "
        "pathwise, with and without the terminal-price control variate (coefficient beta* "
        "computed from the true distribution: an oracle; and beta fitted leave-one-out from the "
        "batch), against moneyness and n (the digital call's points are measured by tables() "
        "into digital.csv)"
    ),
    problem=greeks_problem,
    points=option_points(MONEYNESS_FULL),
    estimators=build_estimators(),
    n_samples=N_FULL,
    n_reps=20_000,
    seed=2003,
    quick=Scale(n_reps=2_000, n_samples=N_QUICK, points=option_points(MONEYNESS_QUICK)),
    exact=False,
    warmup=0,
    layout=Layout(blocks_per_cell=20),
    plot=Plot(x="moneyness"),
)


def exact_table(scale: str) -> pd.DataFrame:
    """The harness hook: exact Greeks and variances at a scale, saved as ``exact.csv``."""
    exp = EXPERIMENT.at_scale(scale)
    return exact_table_at(exact_grid(exp.scale, exp.points))
