"""The SBN figure: the ELBO along training and the encoder-gradient variance at snapshots.

Imported only by ``vartools plot`` (``figures``, the experiment's figures hook).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from vartools.plots.helpers import errorbar_ci, run_size
from vartools.plots.style import estimator_colors, save_figure

__all__ = ["STYLE", "figures"]

STYLE = {
    "sf+rloo": ("SF + RLOO (n samples)", "o"),
    "arm": ("ARM (n pairs)", "^"),
    "disarm": ("DisARM (n pairs)", "D"),
    "local_expectation": ("local expectation (n samples)", "*"),
}


def _figures(summary: pd.DataFrame, exact: Any, out_dir: Any, training: Any = None) -> list[Any]:
    """ELBO against steps, and the mean encoder-gradient variance against f evaluations.

    With several training runs (``at_run``): the ELBO's mean over runs with its t band,
    and per snapshot the geometric mean of the runs' variances with the t band of their
    logs (``variance_summary``); with one run, its markers and 95% CIs.
    """
    from experiments._training_grid import seed_band

    from . import variance_summary

    colors = estimator_colors(STYLE)
    s = summary[summary["kind"] == "mean"]
    if "at_run" not in s.columns:
        s = s.assign(at_run=0)
    n_runs = s["at_run"].nunique()
    steps = sorted(s["at_step"].astype(int).unique())
    ncol = min(3, len(steps) + 1)
    nrow = -(-(len(steps) + 1) // ncol)
    fig = Figure(figsize=(4.2 * ncol, 3.9 * nrow + 0.6), layout="constrained")
    axes = list(np.atleast_1d(fig.subplots(nrow, ncol)).ravel())
    for extra in axes[len(steps) + 1 :]:
        extra.set_visible(False)
    ax = axes[0]
    if exact is not None and "seed" in exact.columns and exact["seed"].nunique() > 1:
        for _, one in exact.groupby("seed"):
            ax.plot(one["step"], one["elbo"], "-", color="0.6", lw=0.6)
        seed_band(ax, exact, "step", "elbo", color="k", lw=1.4)
        ax.set_title(f"training (RLOO, Adam), {exact['seed'].nunique()} seeds: mean, t band")
    elif exact is not None:
        ax.plot(exact["step"], exact["elbo"], "-", color="k", lw=1.2)
        ax.set_title("training (RLOO, Adam)")
    for st in steps:
        ax.axvline(st, color="0.7", ls=":", lw=1)
    ax.set_xlabel("training step")
    ax.set_ylabel("ELBO per digit (nats)")
    ax.grid(alpha=0.3)
    vs = variance_summary(s.assign(at_run=s["at_run"])) if n_runs > 1 else None
    for ax, st in zip(axes[1 : len(steps) + 1], steps, strict=True):
        for name, (label, marker) in STYLE.items():
            if vs is not None:
                m = vs[(vs["at_step"].astype(int) == st) & (vs["estimator"] == name)]
                m = m.sort_values("n_evals")
                ax.plot(
                    m["n_evals"],
                    m["variance_mean"],
                    marker + "-",
                    color=colors[name],
                    ms=4,
                    label=label,
                )
                ax.fill_between(
                    m["n_evals"],
                    m["variance_lo"],
                    m["variance_hi"],
                    color=colors[name],
                    alpha=0.2,
                    lw=0,
                )
            else:
                sub = s[s["at_step"].astype(int) == st]
                m = sub[sub["estimator"] == name].sort_values("n_evals")
                errorbar_ci(ax, m, "n_evals", fmt=marker + "-", color=colors[name], label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("f evaluations per estimate")
        ax.set_ylabel("variance, mean over encoder weights")
        ax.set_title(f"step {st}")
        ax.grid(alpha=0.3, which="both")
    axes[1].legend(fontsize=8, frameon=False)
    n_reps, scale = run_size(summary)
    what = (
        f"geometric mean over {n_runs} training seeds, band: 95% t interval over the seeds"
        if n_runs > 1
        else "95% CIs"
    )
    fig.suptitle(
        f"Sigmoid belief net on 8x8 digits: {n_reps} replicates per point; {what} ({scale} scale)"
    )
    return save_figure(fig, Path(out_dir) / "variance_vs_evals")


def figures(summary: pd.DataFrame, extra: Any, out_dir: Any) -> list[Any]:
    """Harness hook (``vartools plot``): the figures from summary.csv and the extra tables."""
    return _figures(summary, extra.get("exact"), out_dir, training=extra.get("training"))
