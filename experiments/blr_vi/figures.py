"""The BLR figures: ELBO and gradient variance along each estimator's training run.

Imported only by ``vartools plot`` (``figures``, the experiment's figures hook).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from vartools.plots.helpers import legend_below
from vartools.plots.style import estimator_color, save_figure

__all__ = ["STYLE", "figures"]

STYLE: dict[str, dict[str, Any]] = {
    "pathwise": {"label": "pathwise", "color": estimator_color("pathwise"), "ls": "-"},
    "pathwise+delta": {
        "label": "pathwise + delta method",
        "color": estimator_color("pathwise+delta"),
        "ls": "--",
    },
    "sf": {"label": "score function", "color": estimator_color("sf"), "ls": "-"},
    "sf+delta": {
        "label": "score function + delta method",
        "color": estimator_color("sf+delta"),
        "ls": "--",
    },
    "sf+ema": {
        "label": "score function + moving-average baseline",
        "color": estimator_color("sf+ema"),
        "ls": ":",
    },
    "mvd": {"label": "measure-valued (coupled)", "color": estimator_color("mvd"), "ls": "-"},
    "mvd+delta": {
        "label": "measure-valued + delta method",
        "color": estimator_color("mvd+delta"),
        "ls": "--",
    },
}


def _elbo_figure(traj: pd.DataFrame) -> Any:
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
    out_dir = Path(out_dir)
    trajectories = extra.get("trajectories")
    if trajectories is None and (out_dir.parent / "trajectories.csv").exists():
        trajectories = pd.read_csv(out_dir.parent / "trajectories.csv")
    if trajectories is None:
        return []
    files = save_figure(_elbo_figure(trajectories), out_dir / "blr_vi_elbo")
    files += save_figure(_variance_figure(trajectories), out_dir / "blr_vi_variance")
    return files
