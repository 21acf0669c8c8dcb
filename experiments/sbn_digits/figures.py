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
    """ELBO against steps, and the mean encoder-gradient variance against f evaluations."""
    colors = estimator_colors(STYLE)
    s = summary[summary["kind"] == "mean"]
    steps = sorted(s["at_step"].astype(int).unique())
    ncol = min(3, len(steps) + 1)
    nrow = -(-(len(steps) + 1) // ncol)
    fig = Figure(figsize=(4.2 * ncol, 3.9 * nrow + 0.6), layout="constrained")
    axes = list(np.atleast_1d(fig.subplots(nrow, ncol)).ravel())
    for extra in axes[len(steps) + 1 :]:
        extra.set_visible(False)
    ax = axes[0]
    if exact is not None:
        ax.plot(exact["step"], exact["elbo"], "-", color="k", lw=1.2)
    for st in steps:
        ax.axvline(st, color="0.7", ls=":", lw=1)
    ax.set_xlabel("training step")
    ax.set_ylabel("ELBO per digit (nats)")
    ax.set_title("training (RLOO, Adam)")
    ax.grid(alpha=0.3)
    for ax, st in zip(axes[1 : len(steps) + 1], steps, strict=True):
        sub = s[s["at_step"].astype(int) == st]
        for name, (label, marker) in STYLE.items():
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
    fig.suptitle(f"Sigmoid belief net on 8x8 digits: {n_reps} replicates, 95% CIs ({scale} scale)")
    return save_figure(fig, Path(out_dir) / "variance_vs_evals")


def figures(summary: pd.DataFrame, extra: Any, out_dir: Any) -> list[Any]:
    """Harness hook (``vartools plot``): the figures from summary.csv and the extra tables."""
    return _figures(summary, extra.get("exact"), out_dir, training=extra.get("training"))
