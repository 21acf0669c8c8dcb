"""The Double-CV toy's figure: loss and mean per-dimension variance along training.

Imported only by ``vartools plot`` (``figures``, the experiment's figures hook).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from vartools.plots.helpers import axes_note, errorbar_ci, run_size
from vartools.plots.style import estimator_colors, save_figure

__all__ = ["N_OF", "STYLE", "figures"]

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
    colors = estimator_colors(STYLE)
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
