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

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from vartools.catalogue.logistic import TrainConfig, blr_problem, breast_cancer, train_blr
from vartools.control_variates.baselines import ema_baseline
from vartools.control_variates.coefficients import delta_method
from vartools.core.problem import Problem
from vartools.estimators.base import pathwise, score_function
from vartools.estimators.composed import Estimator, make_estimator
from vartools.estimators.measure_valued import measure_valued
from vartools.harness.experiment import Experiment, Scale

__all__ = ["EXPERIMENT", "build_estimators", "figures", "tables"]

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
    x="n",
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


# ------------------------------------------------------------------------------ figures

STYLE: dict[str, dict[str, Any]] = {
    "pathwise": {"label": "pathwise", "color": "#D55E00", "ls": "-"},
    "pathwise+delta": {"label": "pathwise + delta method", "color": "#E69F00", "ls": "--"},
    "sf": {"label": "score function", "color": "#0072B2", "ls": "-"},
    "sf+delta": {"label": "score function + delta method", "color": "#56B4E9", "ls": "--"},
    "sf+ema": {"label": "score function + moving-average baseline", "color": "#CC79A7", "ls": ":"},
    "mvd": {"label": "measure-valued (coupled)", "color": "#009E73", "ls": "-"},
    "mvd+delta": {"label": "measure-valued + delta method", "color": "#000000", "ls": "--"},
}


def _elbo_figure(traj: pd.DataFrame) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 4.2), layout="constrained")
    ax = fig.subplots()
    one = traj[(traj["block"] == "loc") & (traj["reduce"] == "mean")]
    for name, st in STYLE.items():
        t = one[one["estimator"] == name].sort_values("step")
        if not len(t):
            continue
        neg = -t["elbo"].to_numpy()
        ax.plot(t["step"], neg, color=st["color"], ls=st["ls"], lw=1.5, label=st["label"])
        ax.fill_between(
            t["step"],
            neg - 1.96 * t["elbo_se"],
            neg + 1.96 * t["elbo_se"],
            color=st["color"],
            alpha=0.15,
            lw=0,
        )
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("negative ELBO (nats, log scale)")
    ax.set_title("Bayesian logistic regression: training loss (95% CI band)", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def _variance_figure(traj: pd.DataFrame) -> Any:
    from matplotlib.figure import Figure

    from vartools.plots.figures import legend_below

    fig = Figure(figsize=(10.0, 7.5), layout="constrained")
    axes = fig.subplots(2, 2, sharex=True)
    blocks = (("loc", "mean"), ("log_scale", "log-scale"))
    reduces = (("mean", "mean over the 31 dimensions"), ("max", "max over the 31 dimensions"))
    for i, (block, blabel) in enumerate(blocks):
        for j, (red, rlabel) in enumerate(reduces):
            ax = axes[i, j]
            sub = traj[(traj["block"] == block) & (traj["reduce"] == red)]
            for name, st in STYLE.items():
                t = sub[sub["estimator"] == name].sort_values("step")
                if not len(t):
                    continue
                ax.plot(
                    t["step"],
                    t["variance"],
                    color=st["color"],
                    ls=st["ls"],
                    lw=1.5,
                    label=st["label"],
                )
                ax.fill_between(
                    t["step"],
                    t["variance_lo"],
                    t["variance_hi"],
                    color=st["color"],
                    alpha=0.15,
                    lw=0,
                )
            ax.set_yscale("log")
            ax.set_title(f"gradient w.r.t. the {blabel}: {rlabel}", fontsize=10)
            ax.set_ylabel("variance of one sample")
            ax.grid(True, which="major", alpha=0.3)
            if i == 1:
                ax.set_xlabel("training step")
    legend_below(fig, axes[0, 0], ncol=3, fontsize=9)
    fig.suptitle(
        "Per-dimension variance of the single-sample gradient of E_q[log-likelihood] on "
        "the full data,\nalong each estimator's own training run (95% CI bands)",
        fontsize=10,
    )
    return fig


def figures(
    summary: pd.DataFrame | None, extra: Mapping[str, pd.DataFrame], out_dir: str | Path
) -> list[Path]:
    """ELBO and gradient variance against training step, from ``extra["trajectories"]``.

    Without that table (the harness passes "exact" and "training" only), the
    ``trajectories.csv`` that the ``tables`` hook writes beside the summary is read; without it, no
    figure is drawn.
    """
    from vartools.plots.figures import save_figure

    out_dir = Path(out_dir)
    trajectories = extra.get("trajectories")
    if trajectories is None and (out_dir.parent / "trajectories.csv").exists():
        trajectories = pd.read_csv(out_dir.parent / "trajectories.csv")
    if trajectories is None:
        return []
    files = save_figure(_elbo_figure(trajectories), out_dir / "blr_vi_elbo")
    files += save_figure(_variance_figure(trajectories), out_dir / "blr_vi_variance")
    return files
