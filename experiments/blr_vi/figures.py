"""The BLR figures: ELBO and gradient variance along each estimator's training run.

Imported only by ``vartools plot`` (``figures``, the experiment's figures hook).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from vartools.plots.helpers import legend_below
from vartools.plots.style import estimator_color, save_figure

__all__ = ["ELBO_FROM", "STYLE", "figures"]

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


#: The ELBO panels start here (at step 0 the negative ELBO is 15x larger).
ELBO_FROM = 500


def _elbo_figure(traj: pd.DataFrame) -> Any:
    """Small multiples: one panel per estimator (seeds and their mean with the t band),
    and a last panel with every estimator's final ELBO (mean and t interval over seeds)."""
    from experiments._training_grid import seed_band

    from . import trajectory_summary

    one = traj[(traj["block"] == "loc") & (traj["reduce"] == "mean")]
    one = one.assign(neg_elbo=-one["elbo"])
    names = [n for n in STYLE if n in set(one["estimator"])]
    fig = Figure(figsize=(13.0, 6.6), layout="constrained")
    axes = fig.subplots(2, 4).ravel()
    start = (
        ELBO_FROM if one["step"].max() > ELBO_FROM else int(one.loc[one["step"] > 0, "step"].min())
    )
    late = one[one["step"] >= start]
    lo, hi = late["neg_elbo"].min(), late["neg_elbo"].max()
    pad = 0.05 * (hi - lo)
    for ax, name in zip(axes, names, strict=False):
        st = STYLE[name]
        t = late[late["estimator"] == name]
        for _, run in t.groupby("seed"):
            ax.plot(run["step"], run["neg_elbo"], color=st["color"], lw=0.6, alpha=0.5)
        if t["seed"].nunique() > 1:
            seed_band(ax, t, "step", "neg_elbo", color=st["color"], lw=1.8)
        ax.set_title(st["label"], fontsize=9)
        ax.set_ylim(lo - pad, hi + pad)
        ax.grid(alpha=0.3)
        ax.set_xlabel("training step")
        ax.set_ylabel("negative ELBO (nats)")
    for ax in axes[len(names) : -1]:
        ax.set_visible(False)
    ax = axes[-1]
    last = trajectory_summary(one)
    last = last[last["step"] == last["step"].max()].set_index("estimator").loc[names]
    y = np.arange(len(names))[::-1]
    for yi, name in zip(y, names, strict=True):
        r = last.loc[name]
        ax.errorbar(
            -r["elbo_mean"],
            yi,
            xerr=[[r["elbo_hi"] - r["elbo_mean"]], [r["elbo_mean"] - r["elbo_lo"]]],
            fmt="o",
            color=STYLE[name]["color"],
            capsize=3,
        )
    ax.set_yticks(y, [STYLE[n]["label"].replace(" + ", "\n+ ") for n in names], fontsize=7)
    ax.set_xlabel(f"negative ELBO at step {int(last['step'].iloc[0])}")
    ax.set_title("final: mean, 95% t interval over seeds", fontsize=9)
    ax.grid(alpha=0.3)
    n_seeds = one["seed"].nunique()
    fig.suptitle(
        f"Bayesian logistic regression: negative ELBO on the full data from step {start} "
        f"(linear scale, same y range in every panel), {n_seeds} seeds per estimator: thin "
        "lines one seed each,\nthick line the mean, band the 95% t interval over the seeds "
        f"(Monte Carlo SE of each point, elbo_se: median {late['elbo_se'].median():.2g} nats)",
        fontsize=10,
    )
    return fig


def _variance_figure(traj: pd.DataFrame) -> Any:
    from . import trajectory_summary

    summ = trajectory_summary(traj)
    n_seeds = int(summ["n_seeds"].max())
    fig = Figure(figsize=(10.0, 7.5), layout="constrained")
    axes = fig.subplots(2, 2, sharex=True)
    blocks = (("loc", "mean"), ("log_scale", "log-scale"))
    reduces = (("mean", "mean over the 31 dimensions"), ("max", "max over the 31 dimensions"))
    for i, (block, blabel) in enumerate(blocks):
        for j, (red, rlabel) in enumerate(reduces):
            ax = axes[i, j]
            sub = summ[(summ["block"] == block) & (summ["reduce"] == red)]
            for name, st in STYLE.items():
                t = sub[sub["estimator"] == name].sort_values("step")
                if not len(t):
                    continue
                ax.plot(
                    t["step"],
                    t["variance_mean"],
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
        "the full data,\nalong each estimator's own training runs: geometric mean over "
        f"{n_seeds} seeds, band = 95% t interval over the seeds (log scale)",
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
