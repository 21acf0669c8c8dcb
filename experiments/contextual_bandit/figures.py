"""The contextual bandit's figure: expected return and baseline variances along training.

Imported only by ``vartools plot`` (``figures``, the experiment's figures hook).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from vartools.plots.helpers import axes_note, errorbar_ci, run_size
from vartools.plots.style import estimator_colors, save_figure

from . import N_EPISODES, estimators

__all__ = ["figures"]


def _figures(
    summary: pd.DataFrame, exact: Any = None, out_dir: Any = ".", training: Any = None
) -> list[Any]:
    """Expected return and the (mean over logits) variance of every baseline along training."""
    names = [e.name for e in estimators()]
    colors = estimator_colors(names)
    marks = dict(zip(names, "osv<>^DP", strict=True))
    s = summary[summary["kind"] == "mean"]
    fig = Figure(figsize=(8.5, 7), layout="constrained")
    ax_l, ax = fig.subplots(2, 1, sharex=True, height_ratios=[1, 2.5])
    if training is not None:
        ax_l.plot(training["step"], training["loss"], "o-", color="k", ms=3, lw=1)
    ax_l.set_ylabel("expected return J (exact)")
    ax_l.set_title(f"trained with RLOO per state, {N_EPISODES} episodes per step, Adam lr 0.05")
    ax_l.grid(alpha=0.3)
    for name in names:
        m = s[s["estimator"] == name].sort_values("step")
        ax.plot(m["step"], m["exact_variance"], "-", color=colors[name], lw=1.2)
        errorbar_ci(ax, m, "step", fmt=marks[name], mfc="none", color=colors[name], label=name)
    ax.set_yscale("log")
    ax.set_xlabel("training step (each checkpoint is a frozen policy)")
    ax.set_ylabel(f"variance ({N_EPISODES} episodes), mean over the 9 logits")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, frameon=False, ncol=2)
    axes_note(
        ax,
        "lines: exact (enumeration of the 4-episode joint); markers: replicate variance, 95% CI",
        0.01,
        va="baseline",
    )
    n_reps, scale = run_size(summary)
    fig.suptitle(
        f"Contextual bandit (3 states, 3 actions, noisy rewards): {n_reps} replicates "
        f"({scale} scale)"
    )
    return save_figure(fig, Path(out_dir) / "training")


def figures(summary: pd.DataFrame, extra: Any, out_dir: Any) -> list[Any]:
    """Harness hook (``vartools plot``): the figures from summary.csv and the extra tables."""
    return _figures(summary, extra.get("exact"), out_dir, training=extra.get("training"))
