"""Bayesian logistic regression by variational inference (Mohamed et al. 2020, sec. 8.3).

Setting (REFERENCES.md, E4; ``vartools.catalogue.logistic``): scikit-learn's breast-cancer
data (569 points, 30 features, standardised, plus a bias column: D = 31), prior N(0, I),
mean-field Gaussian posterior with parameters mean and log_scale (both initialised at 0).
Training as in the paper: SGD on -(ELBO estimate) = -(N / B) sum_batch log-likelihood + KL
(KL analytic), batch B = 32, 50 posterior samples per step, learning rate 1e-3 with cosine
decay, 5000 steps (full scale; the quick scale trains 200 steps).

Estimators of grad E_q[log-likelihood], each training its own run (as in the paper):
pathwise, score function and measure-valued (coupled; 4 D f-evaluations per sample), each
without control variate; the delta method (second-order Taylor expansion at the mean, with
a finite-difference Hessian diagonal; optimal coefficient from running moments of earlier
batches, which keeps it unbiased: the paper fits it on 25 extra samples) for pathwise and
score function and the measure-valued derivative (the coupled construction applied to the
Taylor expansion with the same Weibull, Maxwell and uniform draws); and a moving-average
baseline (decay 0.9) for the score function.

Measured at checkpoints (every 250 steps at full scale): the ELBO on the full data (Monte
Carlo, 1000 samples, with its standard error) and the per-dimension variance of the
single-sample gradient estimate on the full data, from 1000 independent replicates at the
current parameters and frozen control-variate state (common random numbers across
estimators), summarised by the mean and the max over the dimensions of each block (mean,
log_scale) with 95% CIs. The paper measures every 10 steps; we use fewer checkpoints to keep
the run within minutes.

The harness sweep (``EXPERIMENT``) measures every estimator at the initial posterior
(``summary.csv``); ``tables`` runs the training trajectories (``trajectories.csv``).
"""

from __future__ import annotations

import pandas as pd

from vartools.catalogue.logistic import TrainConfig, blr_problem, breast_cancer, train_blr
from vartools.control_variates.baselines import ema_baseline
from vartools.control_variates.coefficients import delta_method
from vartools.core.problem import Problem
from vartools.estimators.base import pathwise, score_function
from vartools.estimators.composed import Estimator, make_estimator
from vartools.estimators.measure_valued import measure_valued
from vartools.harness.experiment import Experiment, Scale
from vartools.harness.plot_spec import Plot

__all__ = ["EXPERIMENT", "build_estimators", "initial_problem", "tables"]

SEED = 2012
FULL = TrainConfig(steps=5000, every=250, n_reps=1000, elbo_samples=1000)
QUICK = TrainConfig(steps=200, every=50, n_reps=200, elbo_samples=500)


def build_estimators() -> list[Estimator]:
    """The compared estimators (see the module docstring)."""
    return [
        make_estimator(pathwise, name="pathwise"),
        make_estimator(pathwise, delta_method(2, "running"), name="pathwise+delta"),
        make_estimator(score_function, name="sf"),
        make_estimator(score_function, delta_method(2, "running"), name="sf+delta"),
        make_estimator(score_function, ema_baseline(0.9), name="sf+ema"),
        make_estimator(measure_valued, name="mvd"),
        make_estimator(measure_valued, delta_method(2, "running"), name="mvd+delta"),
    ]


def initial_problem() -> Problem:
    """E_q[log-likelihood on the full data] at the initial posterior N(0, I)."""
    return blr_problem(breast_cancer(), name="blr_init")


EXPERIMENT = Experiment(
    name="blr_vi",
    description=(
        "Mohamed et al. (2020), sec. 8.3: Bayesian logistic regression (breast cancer, D = 31), "
        "mean-field VI; gradient variance of pathwise / score-function / measure-valued "
        "estimators with the delta method and a moving-average baseline, at the initial "
        "posterior (summary.csv) and along training (trajectories.csv, from tables())"
    ),
    problem=initial_problem,
    estimators=build_estimators(),
    n_samples=[1],
    n_reps=2000,
    seed=SEED,
    quick=Scale(n_reps=256),
    warmup=50,
    plot=Plot(x="n"),
)


def tables(exp: Experiment, summary: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """``trajectories.csv``: every estimator's training run and its checkpoints.

    Args:
        exp: the experiment at its scale (``FULL`` or ``QUICK`` training set-up).
        summary: the harness's summary table (unused).
    """
    config = FULL if exp.scale == "full" else QUICK
    data = breast_cancer()
    parts = [train_blr(data, est, config, seed=exp.seed) for est in build_estimators()]
    return {"trajectories": pd.concat(parts, ignore_index=True)}
