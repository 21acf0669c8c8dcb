"""The ARM toy's figure: variance against sigmoid(phi) along the trajectory.

Imported only by ``vartools plot`` (``figures``) and the paper (``markers``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from scipy import special

from vartools.plots.helpers import axes_note, errorbar_ci, run_size
from vartools.plots.style import estimator_colors, save_figure

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
    summary: pd.DataFrame, exact: pd.DataFrame, out_dir: Any, training: Any = None
) -> list[Any]:
    """Variance against sigmoid(phi) along the trajectory, exact curves overlaid."""
    if training is None:
        raise ValueError("the arm_toy figure needs the training table (training.csv)")
    colors = estimator_colors(e for e, _ in CURVES)
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


def figures(summary: pd.DataFrame, extra: Any, out_dir: Any) -> list[Any]:
    """Harness hook (``vartools plot``): the figures from summary.csv and the extra tables."""
    return _figures(summary, extra.get("exact"), out_dir, training=extra.get("training"))
