"""Gaussian costs of Mohamed et al. (JMLR 2020), Figures 2 and 3: single-sample variance against k.

Setting (REFERENCES.md, E1-E3): x ~ N(mu, sigma^2) with mu = 1, sigma = 1; gradients with
respect to the mean and the standard deviation of E[f(x)] for

- f = (x - k)^2, k = linspace(-3, 3, 100)           (Figure 2, top; log y axis),
- f = exp(-k x^2), k log-spaced on [0.1, 10]        (Figure 2, middle; log-log),
- f = cos(k x), k log-spaced on [0.5, 5]            (Figure 3; log-log).

Estimators (f evaluations per sample in brackets):

- ``sf``: score function (1);
- ``sf+b* (oracle)``: score function with the optimal constant baseline
  b*_d = E[f s_d^2] / E[s_d^2] per coordinate, computed exactly for each problem from the
  true distribution (an oracle coefficient, as in the paper's figures; 1);
- ``sf+b (loo)``, ``sf+b (xfit)``: the same baseline fitted from the batch without bias
  (leave-one-out; cross-fitted on two halves; 1 per sample, n >= 2);
- ``pathwise`` (1 evaluation of f' );
- ``mvd``: measure-valued derivative with coupling (Mohamed et al. 2020, sec. 6; 2 per
  parameter), when ``vartools.estimators.measure_valued`` provides it;
- beyond the paper: ``sf+loo`` (RLOO with K = 4 samples; 4 per estimate) and the
  second-order delta-method control variate (Paisley et al. 2012) with its optimal
  coefficient computed exactly from the true distribution (oracle) on the score function
  (``sf+delta* (oracle)``) and on the pathwise estimator (``pathwise+delta* (oracle)``),
  each beside its coefficient fitted leave-one-out (``sf+delta (loo)``,
  ``pathwise+delta (loo)``). The delta method costs n + 3 evaluations (f, f', f'' at the
  mean), which the ``n_evals`` column states.

``fitted.csv`` counts the marker points where the oracle and the fitted b are better, no
worse or worse than SF (paired 95% CI of the variance ratio at equal evaluations; for the
oracle also the exact grid, where "no worse" is a theorem); ``fitted_panel.csv`` gives the b
estimators against n at cos(2x).

The exact lines are computed by quadrature over the whole real line (``exact_curves``): one
adaptive cubature per (cost, k) integrates every needed moment at once; the Monte Carlo
markers come from the sweep (``EXPERIMENT``), at a subset of k, with 95% CIs. Figures show
n Var(n-sample estimate), i.e. the single-sample variance for the per-sample estimators
and 4 Var for RLOO with K = 4 (its variance per sample spent). A last panel shows the
variance against n for one k with the 1/n reference line.
"""

from __future__ import annotations

import pandas as pd

from vartools.harness.experiment import Experiment, Scale
from vartools.harness.layout import Layout
from vartools.harness.plot_spec import Plot

from .estimators import build_estimators
from .models import (
    N_SWEEP_FULL,
    N_SWEEP_QUICK,
    gaussian_problem,
    marker_points,
)
from .oracles import tables

__all__ = ["EXPERIMENT", "exact_table", "tables"]

EXPERIMENT = Experiment(
    name="gaussian_costs",
    description=(
        "Mohamed et al. (2020), Figures 2-3: single-sample variance of gradient estimators "
        "for Gaussian costs (x - k)^2, exp(-k x^2), cos(k x) against k, with exact lines; "
        "b* and delta* are oracle coefficients (from the true distribution), each evaluated "
        "beside its version fitted from the samples (leave-one-out, cross-fitted)"
    ),
    problem=gaussian_problem,
    points=marker_points(10),
    estimators=build_estimators(),
    n_samples=N_SWEEP_FULL,
    n_reps=20_000,
    seed=2020,
    quick=Scale(n_reps=2_000, n_samples=N_SWEEP_QUICK, points=marker_points(3)),
    warmup=0,
    layout=Layout(blocks_per_cell=20),
    plot=Plot(x="k"),
)


def exact_table(scale: str) -> pd.DataFrame:
    """The harness hook: the exact lines at a scale, saved by the runner as ``exact.csv``."""
    return tables(EXPERIMENT.at_scale(scale))["exact"]
