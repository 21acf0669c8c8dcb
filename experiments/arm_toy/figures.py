"""The ARM toy's figure: variance against sigmoid(phi) along the trajectory.

Imported only by ``vartools plot`` (``figures``) and the paper (``markers``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import special

from vartools.plots.helpers import axes_note, errorbar_ci, legend_below, run_size
from vartools.plots.style import estimator_colors, save_figure

from .grid import P0_VALUES

__all__ = ["CURVES", "figures", "markers"]

#: (estimator, n) pairs of the figure: equal cost 2 evaluations, plus SF with one sample.
CURVES = {
    ("sf", 1): ("SF, 1 sample (1 eval)", "o", ":"),
    ("sf", 2): ("SF, 2 samples (2 evals)", "o", "-"),
    ("rloo", 2): ("RLOO, K = 2 (2 evals)", "s", "-"),
    ("arm", 1): ("ARM, 1 pair (2 evals)", "^", "-"),
    ("disarm", 1): ("DisARM, 1 pair (2 evals)", "D", "-"),
}


def markers(summary: pd.DataFrame, training: pd.DataFrame) -> pd.DataFrame:
    """The Monte Carlo markers with sigmoid(phi) of their checkpoint."""
    s = summary[summary["kind"] == "coordinate"]
    keep = [(e, n) in CURVES for e, n in zip(s["estimator"], s["n"], strict=True)]
    s = s[keep].merge(training[["step", "theta.logits[0]"]], on="step", how="left")
    return s.assign(theta=special.expit(s["theta.logits[0]"]))


def _figures(
    summary: pd.DataFrame,
    exact: pd.DataFrame,
    out_dir: Any,
    training: Any = None,
    seeds: Any = None,
) -> list[Any]:
    """Variance against sigmoid(phi) along the trajectory, exact curves overlaid."""
    if training is None:
        raise ValueError("the arm_toy figure needs the training table (training.csv)")
    colors = estimator_colors(e for e, _ in CURVES)
    mk = markers(summary, training)
    fig = Figure(figsize=(8.5, 7), layout="constrained")
    ax_t, ax = fig.subplots(2, 1, height_ratios=[1, 3])
    ax_t.plot(
        training["step"],
        special.expit(training["theta.logits[0]"]),
        "o-",
        ms=3,
        color="k",
        lw=1,
        label="the measured trajectory",
    )
    if seeds is not None:
        from experiments._training_grid import seed_band

        th = seeds.assign(theta=special.expit(seeds["theta[0]"]))
        seed_band(
            ax_t,
            th,
            "step",
            "theta",
            color=estimator_colors(["arm"])["arm"],
            lw=1,
            label=f"{th['seed'].nunique()} more seeds: mean, 95% t band",
        )
        ax_t.legend(fontsize=8, loc="lower right")
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


def _grid_figure(grid: pd.DataFrame, out_dir: Any) -> list[Any]:
    """sigmoid(phi) and the trainer's variance against the iteration, one column per p0."""
    from experiments._training_grid import seed_band
    from experiments.rebar_relax_toy import STYLE

    colors = estimator_colors(STYLE)
    fig = Figure(figsize=(13, 6.5), layout="constrained")
    axes = fig.subplots(2, len(P0_VALUES), sharex=True, height_ratios=[1, 1.4])
    for j, p0 in enumerate(P0_VALUES):
        g = grid[np.isclose(grid["at_p0"].astype(float), p0)]
        for name, (label, marker) in STYLE.items():
            own = g[g["trainer"] == name].assign(theta=lambda d: special.expit(d["theta[0]"]))
            seed_band(axes[0, j], own, "step", "theta", color=colors[name], lw=1.2, label=label)
            m = own.groupby("step")
            var = m["variance"].mean()
            var = var[var > 1e-20]  # DisARM at sigmoid(phi) = 1/2: variance 0, not drawn
            axes[1, j].plot(var.index, var, marker + "-", color=colors[name], ms=3, lw=1)
        axes[0, j].set_title(f"p0 = {p0:g}")
        axes[0, j].set_ylabel("sigmoid(phi)")
        axes[1, j].set_yscale("log")
        axes[1, j].set_xlabel("iteration (Adam lr 0.01, maximising)")
        axes[1, j].set_ylabel("variance of d/d phi (own trainer)")
        for ax in axes[:, j]:
            ax.grid(alpha=0.3, which="both")
    legend_below(fig, axes[0, 0], ncol=6)
    n_reps, runs = int(grid["n_reps"].iloc[0]), grid["seed"].nunique()
    fig.suptitle(
        f"ARM toy, f = (z - p0)^2 maximised, each estimator trained separately, {runs} seeds: "
        "sigmoid(phi) mean with its 95% t band over the seeds;\nvariance of the trainer's own "
        f"estimate, mean over the seeds ({n_reps} replicates per checkpoint; variance 0 not drawn)"
    )
    return save_figure(fig, Path(out_dir) / "p0_grid")


def figures(summary: pd.DataFrame, extra: Any, out_dir: Any) -> list[Any]:
    """Harness hook (``vartools plot``): the figures from summary.csv and the extra tables."""
    files = _figures(
        summary,
        extra.get("exact"),
        out_dir,
        training=extra.get("training"),
        seeds=extra.get("seeds"),
    )
    if extra.get("p0_grid") is not None:
        files += _grid_figure(extra["p0_grid"], out_dir)
    return files
