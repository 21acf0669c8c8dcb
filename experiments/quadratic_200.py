"""Double control variates toy (Titsias & Shi 2022): 200 Bernoullis, f = ||b - 0.499||^2 / 200.

D = 200 independent Bernoullis with logits eta (initialised at 0), f(b) = sum_d (b_d -
0.499)^2 / D, declared as a sum of per-coordinate terms (``vartools.core.objectives.separable``)
so that the dependency-aware estimator knows each term reads one coordinate. Training
minimises E[f] with RMSprop (lr 0.01) using RLOO with K = 2 samples (REFERENCES.md, E8);
at checkpoints, the mean over the 200 coordinates of the replicate variance of:

- SF (K = 2 samples, no baseline), RLOO (K = 2), DisARM (1 antithetic pair = 2 evaluations);
- local expectation gradients (1 + D = 201 evaluations per sample): for this separable f
  the local expectation of coordinate d is w_d ((1 - t)^2 - t^2) / D, a constant given eta,
  so its variance is 0 (to rounding);
- dependency-aware Rao-Blackwellization (K = 2; f's terms are evaluated once per sample):
  coordinate d's score multiplies only the term (b_d - t)^2 / D;
- the Double CV estimator itself (``vartools.estimators.double_cv``, K = 2: RLOO plus the
  Taylor control variate with the leave-one-out average gradient 2 (b_j - t) / D, alpha
  fitted on earlier batches by minimising the variance, warmed up over 50 batches at each
  checkpoint) and RODEO (``vartools.estimators.rodeo``, Gibbs Stein operators on the same
  Taylor surrogate, alpha and beta fitted likewise). What differs from the paper: alpha
  is the closed-form minimiser of the running variance estimate instead of an SGD
  iterate, and RODEO's surrogate has no neural network.

The paper measures every 10 steps from 2000 estimates; we measure every 100 steps from
1000 estimates at the full scale (the local-expectation estimator costs 201 f evaluations per
sample) and say so in the README. No exact oracle: 2^200 states (the exact variance of a
separable objective has a closed form, but the coordinates drift apart along training).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from vartools.control_variates.baselines import loo_baseline
from vartools.core.objectives import separable
from vartools.core.optim import rmsprop
from vartools.core.problem import Problem
from vartools.distributions.discrete import Bernoulli
from vartools.estimators.arm import disarm
from vartools.estimators.base import score_function
from vartools.estimators.composed import Estimator, make_estimator
from vartools.estimators.double_cv import double_cv
from vartools.estimators.rao_blackwell import dependency_aware, local_expectation
from vartools.estimators.rodeo import rodeo
from vartools.estimators.tuned import fitted_coefficients
from vartools.harness.experiment import Experiment, Scale, Trajectory

D = 200
TARGET = 0.499


def problem() -> Problem:
    """200 Bernoullis at logit 0, f = ||b - 0.499||^2 / 200 as a sum of per-coordinate terms."""
    return Problem(
        "quadratic_200",
        Bernoulli(np.zeros(D)),
        separable(
            lambda b: (b - TARGET) ** 2 / D,
            D,
            grad=lambda b: 2.0 * (b - TARGET) / D,  # on real b: Double CV and RODEO use it
            name="||b - 0.499||^2 / 200",
        ),
        description="200 Bernoullis, f = ||b - 0.499||^2 / 200 (Titsias & Shi 2022)",
    )


def expected_loss(prob: Problem) -> float:
    """E[f] = mean_d [theta_d (1 - t)^2 + (1 - theta_d) t^2] (exact, f is separable)."""
    theta = special.expit(prob.dist.params)
    return float(np.mean(theta * (1 - TARGET) ** 2 + (1 - theta) * TARGET**2))


def estimators() -> list[Estimator]:
    """SF, RLOO, DisARM, local expectation, dependency-aware RB, Double CV and RODEO."""
    return [
        make_estimator(score_function, name="sf"),
        make_estimator(score_function, loo_baseline(), name="rloo"),
        make_estimator(disarm, name="disarm"),
        make_estimator(local_expectation, name="local_expectation"),
        make_estimator(dependency_aware, name="dependency_aware"),
        make_estimator(double_cv(0.0), fitted_coefficients(), name="double_cv"),
        make_estimator(rodeo(0.0, 0.0), fitted_coefficients(), name="rodeo"),
    ]


EXPERIMENT = Experiment(
    name="quadratic_200",
    summary_rows="aggregates",  # thousands of per-coordinate rows would not be worth committing
    description=(
        "Double-CV toy (Titsias & Shi 2022): 200 Bernoullis, f = ||b - 0.499||^2 / 200, "
        "trained with RLOO (K = 2) and RMSprop (lr 0.01); mean per-dimension replicate "
        "variance of SF, RLOO, DisARM, local expectation, dependency-aware "
        "Rao-Blackwellization, Double CV and RODEO along training."
    ),
    problem=problem,
    estimators=estimators(),
    n_samples=[1, 2],  # DisARM at 1 pair = 2 evaluations, the others at K = 2
    n_reps=1000,
    seed=62,
    trajectory=Trajectory(
        estimator=make_estimator(score_function, loo_baseline(), name="rloo"),
        n=2,
        optimizer=rmsprop(0.01),
        steps=2000,
        every=100,
        loss=expected_loss,
    ),
    quick=Scale(n_reps=200, steps=200, every=100),
    exact=False,
)


#: Samples (pairs for DisARM) per estimate in the figure: 2 f evaluations each, as in the paper.
N_OF = {"disarm": 1}

STYLE = {
    "sf": ("SF, K = 2 (2 evals)", "o"),
    "rloo": ("RLOO, K = 2 (2 evals)", "s"),
    "disarm": ("DisARM, 1 pair (2 evals)", "D"),
    "dependency_aware": ("dependency-aware RB, K = 2 (2 evals)", "^"),
    "local_expectation": ("local expectation, K = 2 (402 evals)", "*"),
    "double_cv": ("Double CV, K = 2 (2 evals + grads)", "v"),
    "rodeo": ("RODEO, K = 2 (2 evals + grads)", "P"),
}


def _figures(
    summary: pd.DataFrame, exact: Any = None, out_dir: Any = ".", training: Any = None
) -> list[Any]:
    """Loss and mean per-dimension variance against training steps."""
    from pathlib import Path

    from matplotlib.figure import Figure

    from experiments._common import run_size
    from vartools.plots.figures import axes_note, errorbar_ci, palette, save_figure

    colors = palette(STYLE)
    s = summary[summary["kind"] == "mean"]
    fig = Figure(figsize=(8.5, 7), layout="constrained")
    ax_l, ax = fig.subplots(2, 1, sharex=True, height_ratios=[1, 2.5])
    if training is not None:
        ax_l.plot(training["step"], training["loss"], "o-", color="k", ms=3, lw=1)
    ax_l.set_ylabel("loss E[f] (exact)")
    ax_l.ticklabel_format(axis="y", useOffset=False, style="plain")
    ax_l.grid(alpha=0.3)
    ax_l.set_title("trained with RLOO (K = 2), RMSprop lr 0.01")
    ref = s[(s["estimator"] == "sf") & (s["n"] == 2)].set_index("step")["variance"]
    zero = []
    for name, (label, marker) in STYLE.items():
        m = s[(s["estimator"] == name) & (s["n"] == N_OF.get(name, 2))].sort_values("step")
        tiny = m["variance"].to_numpy() <= 1e-12 * m["step"].map(ref).to_numpy()
        if tiny.all():
            zero.append(label.split(",")[0])
            continue
        m = m[~tiny]
        errorbar_ci(ax, m, "step", fmt=marker + "-", color=colors[name], label=label)
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("mean over the 200 logits of the variance")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, frameon=False)
    if zero:
        axes_note(ax, ", ".join(zero) + ": variance 0 (f is separable)", 0.99, ha="right")
    n_reps, scale = run_size(summary)
    fig.suptitle(
        f"Double-CV toy, 200 Bernoullis: {n_reps} replicates per checkpoint, 95% CIs "
        f"({scale} scale)"
    )
    return save_figure(fig, Path(out_dir) / "training")


def figures(summary: pd.DataFrame, extra: Any, out_dir: Any) -> list[Any]:
    """Harness hook (``vartools plot``): the figures from summary.csv and the extra tables."""
    return _figures(summary, extra.get("exact"), out_dir, training=extra.get("training"))
