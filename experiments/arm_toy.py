"""ARM toy (Yin & Zhou 2019, as re-implemented in alekdimi/arms): one Bernoulli, f = (z - 0.49)^2.

E_{z ~ Bernoulli(sigmoid(phi))}[(z - 0.49)^2] is *maximised* by gradient ascent on the logit
phi from 0 (Adam, lr 0.01, trained with ARM); the maximiser is sigmoid(phi) -> 1. Along the
trajectory, the replicate variance (500 estimates, 95% CI) of SF, RLOO (K = 2), ARM and
DisARM, plotted against sigmoid(phi) with the exact variance of each estimator on a dense
grid of sigmoid(phi) (REFERENCES.md, E7). SF and RLOO are exact by enumeration; ARM and
DisARM by integrating the uniform u cell by cell (``vartools.estimators.arm.antithetic_moments``).
Compared at equal cost: ARM / DisARM use 1 antithetic pair (2 evaluations), SF and RLOO
K = 2 samples; SF with one sample is also shown.

The p0 grid (Yin & Zhou 2019, Fig. 1; ``p0_grid.csv``, figure ``p0_grid``): f = (z - p0)^2
for p0 in {0.49, 0.499, 0.501, 0.51}, each of REINFORCE, RLOO (K = 2), ARM, DisARM, REBAR
and RELAX trained separately (3 seeds, 2000 Adam steps at lr 0.01, by
``experiments/_training_grid.py``), with sigmoid(phi), the exact E[f] and the replicate
variance of the trainer's own estimate against the iteration. What differs from the
paper: the variance is a replicate variance (1000 estimates per checkpoint), not a moving
average along one run; 3 seeds; REBAR / RELAX as in ``experiments/rebar_relax_toy.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from vartools.control_variates.baselines import loo_baseline
from vartools.core.objectives import square_distance
from vartools.core.optim import adam
from vartools.core.problem import Problem
from vartools.distributions.discrete import Bernoulli
from vartools.estimators.arm import antithetic_moments, arm, disarm
from vartools.estimators.base import score_function
from vartools.estimators.composed import Estimator, make_estimator
from vartools.harness.experiment import Experiment, Scale, Trajectory
from vartools.oracles.exact import rloo_variance, sf_moments

TARGET = 0.49


def problem() -> Problem:
    """One Bernoulli at logit 0, f = (z - 0.49)^2."""
    return Problem(
        "arm_toy",
        Bernoulli(np.zeros(1)),
        square_distance(TARGET),
        description="one Bernoulli, f = (z - 0.49)^2, maximised (Yin & Zhou 2019)",
    )


def estimators() -> list[Estimator]:
    """SF, RLOO, ARM and DisARM."""
    return [
        make_estimator(score_function, name="sf"),
        make_estimator(score_function, loo_baseline(), name="rloo"),
        make_estimator(arm, name="arm"),
        make_estimator(disarm, name="disarm"),
    ]


EXPERIMENT = Experiment(
    name="arm_toy",
    description=(
        "ARM toy (Yin & Zhou 2019): maximise E[(z - 0.49)^2] over one Bernoulli logit with "
        "Adam (lr 0.01), trained with ARM; replicate variance of SF, RLOO, ARM and DisARM "
        "against sigmoid(phi) along the trajectory, with exact curves."
    ),
    problem=problem,
    estimators=estimators(),
    n_samples=[1, 2],
    n_reps=500,
    seed=63,
    trajectory=Trajectory(
        estimator=make_estimator(arm, name="arm"),
        n=1,
        optimizer=adam(0.01),
        steps=2000,
        every=50,
        maximize=True,
    ),
    quick=Scale(n_reps=500, steps=1000, every=100),
)


#: (estimator, n) pairs of the figure: equal cost 2 evaluations, plus SF with one sample.
CURVES = {
    ("sf", 1): ("SF, 1 sample (1 eval)", "o", ":"),
    ("sf", 2): ("SF, 2 samples (2 evals)", "o", "-"),
    ("rloo", 2): ("RLOO, K = 2 (2 evals)", "s", "-"),
    ("arm", 1): ("ARM, 1 pair (2 evals)", "^", "-"),
    ("disarm", 1): ("DisARM, 1 pair (2 evals)", "D", "-"),
}


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


def markers(summary: pd.DataFrame, training: pd.DataFrame) -> pd.DataFrame:
    """The Monte Carlo markers with sigmoid(phi) of their checkpoint."""
    s = summary[summary["kind"] == "coordinate"]
    keep = [(e, n) in CURVES for e, n in zip(s["estimator"], s["n"], strict=True)]
    s = s[keep].merge(training[["step", "theta.logits[0]"]], on="step", how="left")
    return s.assign(theta=special.expit(s["theta.logits[0]"]))


def _figures(
    summary: pd.DataFrame, exact: pd.DataFrame, out_dir: Any, training: Any = None
) -> list[Any]:
    """Variance against sigmoid(phi) along the trajectory, exact curves overlaid."""
    from pathlib import Path

    from matplotlib.figure import Figure

    from experiments._common import run_size
    from vartools.plots.figures import axes_note, errorbar_ci, palette, save_figure

    if training is None:
        raise ValueError("the arm_toy figure needs the training table (training.csv)")
    colors = palette(dict.fromkeys(e for e, _ in CURVES))
    mk = markers(summary, training)
    fig = Figure(figsize=(8.5, 7), layout="constrained")
    ax_t, ax = fig.subplots(2, 1, height_ratios=[1, 3])
    ax_t.plot(
        training["step"], special.expit(training["theta.logits[0]"]), "o-", ms=3, color="k", lw=1
    )
    ax_t.set_xlabel("training step (gradient ascent with ARM, Adam lr 0.01)")
    ax_t.set_ylabel("sigmoid(phi)")
    ax_t.grid(alpha=0.3)
    floor = 1e-12 * exact["exact_variance"].max()
    for (name, n), (label, marker, ls) in CURVES.items():
        e = exact[(exact["estimator"] == name) & (exact["n"] == n)]
        e = e[e["exact_variance"] > floor]
        ax.plot(e["theta"], e["exact_variance"], ls, color=colors[name], lw=1.2)
        m = mk[(mk["estimator"] == name) & (mk["n"] == n) & (mk["variance"] > floor)]
        mfc = "none" if n == 1 and name == "sf" else None
        errorbar_ci(ax, m, "theta", fmt=marker, color=colors[name], mfc=mfc, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("sigmoid(phi)")
    ax.set_ylabel("variance of d/d phi estimate")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, frameon=False, loc="lower left")
    axes_note(
        ax,
        "lines: exact; markers: replicate variance (95% CI)\n"
        "DisARM at sigmoid(phi) = 1/2: variance 0 (not drawn)",
        0.99,
        0.99,
        ha="right",
        va="top",
    )
    n_reps, scale = run_size(summary)
    fig.suptitle(
        f"ARM toy, f = (z - 0.49)^2 maximised: {n_reps} replicates per checkpoint ({scale} scale)"
    )
    return save_figure(fig, Path(out_dir) / "variance_vs_theta")


P0_VALUES = (0.49, 0.499, 0.501, 0.51)
#: Training scale of the p0 grid: (runs, steps, every, replicates per checkpoint).
GRID = {"full": (3, 2000, 100, 1000), "quick": (1, 200, 100, 100)}


def grid_problem(p0: float) -> Problem:
    """One Bernoulli at logit 0, f = (z - p0)^2 (maximised)."""
    return Problem(
        f"arm_toy(p0={p0:g})", Bernoulli(np.zeros(1)), square_distance(p0), description="p0 grid"
    )


def tables(exp: Experiment, summary: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Harness hook: the exact curves and the p0 grid trained estimator by estimator."""
    from experiments._training_grid import train_grid
    from experiments.rebar_relax_toy import TRAINERS

    runs, steps, every, reps = GRID[exp.scale]
    grid = train_grid(
        grid_problem,
        [{"p0": p0} for p0 in P0_VALUES],
        TRAINERS,
        runs=runs,
        steps=steps,
        every=every,
        optimizer=lambda: adam(0.01),
        seed=exp.seed,
        n_reps=reps,
        maximize=True,
    )
    return {"exact": exact_table(exp.scale), "p0_grid": grid}


def _grid_figure(grid: pd.DataFrame, out_dir: Any) -> list[Any]:
    """sigmoid(phi) and the trainer's variance against the iteration, one column per p0."""
    from pathlib import Path

    from matplotlib.figure import Figure

    from experiments.rebar_relax_toy import STYLE
    from vartools.plots.figures import legend_below, palette, save_figure

    colors = palette(STYLE)
    fig = Figure(figsize=(13, 6.5), layout="constrained")
    axes = fig.subplots(2, len(P0_VALUES), sharex=True, height_ratios=[1, 1.4])
    for j, p0 in enumerate(P0_VALUES):
        g = grid[np.isclose(grid["at_p0"].astype(float), p0)]
        for name, (label, marker) in STYLE.items():
            m = g[g["trainer"] == name].groupby("step")
            theta = special.expit(m["theta[0]"].mean())
            axes[0, j].plot(theta.index, theta, "-", color=colors[name], lw=1.2, label=label)
            var = m["variance"].mean()
            var = var[var > 1e-20]  # DisARM at sigmoid(phi) = 1/2: variance 0, not drawn
            axes[1, j].plot(var.index, var, marker + "-", color=colors[name], ms=3, lw=1)
        axes[0, j].set_title(f"p0 = {p0:g}")
        axes[0, j].set_ylabel("sigmoid(phi) (mean over seeds)")
        axes[1, j].set_yscale("log")
        axes[1, j].set_xlabel("iteration (Adam lr 0.01, maximising)")
        axes[1, j].set_ylabel("variance of d/d phi (own trainer)")
        for ax in axes[:, j]:
            ax.grid(alpha=0.3, which="both")
    legend_below(fig, axes[0, 0], ncol=6)
    n_reps, runs = int(grid["n_reps"].iloc[0]), int(grid["run"].max()) + 1
    fig.suptitle(
        f"ARM toy, f = (z - p0)^2 maximised, each estimator trained separately ({runs} seeds; "
        f"{n_reps} replicates per checkpoint; variance 0 not drawn)"
    )
    return save_figure(fig, Path(out_dir) / "p0_grid")


def figures(summary: pd.DataFrame, extra: Any, out_dir: Any) -> list[Any]:
    """Harness hook (``vartools plot``): the figures from summary.csv and the extra tables."""
    files = _figures(summary, extra.get("exact"), out_dir, training=extra.get("training"))
    if extra.get("p0_grid") is not None:
        files += _grid_figure(extra["p0_grid"], out_dir)
    return files
