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

Seeds: every estimator trains on 5 seeds (seed-tree nodes (2012, "run", s, ...), s = 0..4;
within a seed every estimator sees the same minibatches and the same measurement draws).
``trajectories.csv`` has one row per (estimator, seed, step, block, reduce);
``trajectories_summary.csv`` the mean over the 5 seeds with a Student t 95% interval over
them (t_{0.975, 4} = 2.776; the variance on the log scale: geometric mean); ``ratios.csv``
the quoted variance ratios between estimators (``RATIOS``) with the f-evaluations of each
side, their median, min and max over every (checkpoint after step 0, seed), and at the last
step the geometric mean over the seeds with its t interval, beside the per-evaluation
(efficiency) ratio: variance ratio x evaluations of the numerator / evaluations of the
denominator (> 1: the denominator is better per evaluation).

Measured at checkpoints (every 500 steps at full scale): the ELBO on the full data (Monte
Carlo, 1000 samples, with its standard error) and the per-dimension variance of the
single-sample gradient estimate on the full data, from 1000 independent replicates at the
current parameters and frozen control-variate state (common random numbers across
estimators), summarised by the mean and the max over the dimensions of each block (mean,
log_scale) with 95% CIs, from 500 replicates. The paper measures every 10 steps; we use
fewer checkpoints and replicates (earlier runs: every 250 steps from 1000 replicates, one
seed) to keep 5 seeds within minutes.

The harness sweep (``EXPERIMENT``) measures every estimator at the initial posterior
(``summary.csv``); ``tables`` runs the training trajectories (``trajectories.csv``).
"""

from __future__ import annotations

import numpy as np
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

__all__ = [
    "EXPERIMENT",
    "HYPERPARAMETERS",
    "RATIOS",
    "build_estimators",
    "initial_problem",
    "ratio_table",
    "tables",
]

SEED = 2012
FULL = TrainConfig(steps=5000, every=500, n_reps=500, elbo_samples=1000, seeds=5)
QUICK = TrainConfig(steps=200, every=50, n_reps=200, elbo_samples=500, seeds=2)

#: The quoted comparisons: (numerator, denominator) of a variance ratio > 1 when the
#: denominator has the smaller variance.
RATIOS = (
    ("sf", "pathwise"),
    ("sf", "sf+delta"),
    ("sf", "sf+ema"),
    ("sf", "mvd"),
    ("pathwise", "pathwise+delta"),
    ("mvd", "pathwise"),
    ("mvd", "mvd+delta"),
)


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
    parts = [
        train_blr(data, est, config, seed=exp.seed, run=run)
        for run in range(config.seeds)
        for est in build_estimators()
    ]
    traj = pd.concat(parts, ignore_index=True)
    evals = _evals(summary)
    return {
        "trajectories": traj,
        "trajectories_summary": trajectory_summary(traj),
        "ratios": ratio_table(traj, evals),
    }


def _evals(summary: pd.DataFrame | None) -> dict[str, int]:
    """f evaluations per single-sample estimate of each estimator (from the sweep)."""
    if summary is not None and "n_evals" in summary.columns:
        one = summary[summary["n"] == 1].groupby("estimator")["n_evals"].first()
        return {k: int(v) for k, v in one.items()}
    from vartools.core.rng import generator

    prob, out = initial_problem(), {}
    for est in build_estimators():
        batch, _ = est.batch(prob, 1, rng=generator(SEED, "evals"), reps=(1,))
        out[est.name] = int(batch.n_evals)
    return out


def trajectory_summary(traj: pd.DataFrame) -> pd.DataFrame:
    """Per (estimator, step, block, reduce): ELBO and variance over the seeds (t 95%)."""
    from vartools.measure.training import seed_summary

    by = ["estimator", "step", "block", "reduce"]
    elbo = seed_summary(traj, by, ["elbo"])
    var = seed_summary(traj, by, ["variance"], log=True).drop(columns=["n_seeds"])
    return elbo.merge(var.rename(columns={"interval": "variance_interval"}), on=by)


def ratio_table(traj: pd.DataFrame, evals: dict[str, int]) -> pd.DataFrame:
    """The ``RATIOS`` of per-coordinate variances (mean over a block), with their ranges.

    For each comparison and block (loc, log_scale; the mean over the 31 coordinates): the
    variance ratio numerator / denominator at every (checkpoint after step 0, seed), its
    median, min and max; at the last step its geometric mean over the seeds and the
    Student t 95% interval of the log ratios; and the same for the efficiency ratio
    (variance x evaluations, numerator over denominator: how many times fewer f
    evaluations the denominator needs for the same variance).
    """
    from vartools.measure.training import t_interval

    mean = traj[traj["reduce"] == "mean"]
    wide = mean.pivot_table(
        index=["block", "seed", "step"], columns="estimator", values="variance"
    ).reset_index()
    last = wide["step"].max()
    rows = []
    for num, den in RATIOS:
        if num not in wide.columns or den not in wide.columns:
            continue
        cost = evals[num] / evals[den]
        for block, w in wide[wide["step"] > 0].groupby("block", sort=False):
            r = (w[num] / w[den]).to_numpy()
            at_last = (w.loc[w["step"] == last, num] / w.loc[w["step"] == last, den]).to_numpy()
            row = {
                "comparison": f"{num} / {den}",
                "numerator": num,
                "denominator": den,
                "evals_numerator": evals[num],
                "evals_denominator": evals[den],
                "block": block,
                "reduce": "mean",
                "n_checkpoints": int(w["step"].nunique()),
                "n_seeds": int(w["seed"].nunique()),
            }
            for kind, factor in (("variance_ratio", 1.0), ("efficiency_ratio", cost)):
                x = r * factor
                m, _, lo, hi = t_interval(np.log(at_last * factor))
                row.update(
                    {
                        f"{kind}_median": float(np.median(x)),
                        f"{kind}_min": float(x.min()),
                        f"{kind}_max": float(x.max()),
                        f"{kind}_last": float(np.exp(m)),
                        f"{kind}_last_lo": float(np.exp(lo)),
                        f"{kind}_last_hi": float(np.exp(hi)),
                    }
                )
            row["last_step"] = int(last)
            row["interval"] = "t95 over seeds of log ratio at the last step"
            rows.append(row)
    return pd.DataFrame(rows)


#: The training set-up, machine readable (``experiments._training_grid.HYPERPARAMETER_KEYS``).
HYPERPARAMETERS = {
    "trainer": "each estimator separately",
    "samples_per_step": FULL.n_samples,
    "batch_size": FULL.batch_size,
    "optimizer": "sgd",
    "learning_rate": FULL.lr,
    "lr_schedule": f"cosine decay to 0 over {FULL.steps} steps",
    "steps": FULL.steps,
    "checkpoint_every": FULL.every,
    "n_reps": FULL.n_reps,
    "ema_decay": 0.9,  # sf+ema
    "warmup_batches": 0,  # trajectories: the control-variate state of the run, frozen
    "seeds": FULL.seeds,
    "seed_root": SEED,
}
