"""The Liu / Kool toy's figure: variance against f evaluations, one panel per eta.

Imported only by ``vartools plot`` (``figures``) and the paper (``markers``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from vartools.plots.helpers import axes_note, errorbar_ci, legend_below, run_size
from vartools.plots.style import estimator_colors, save_figure

from .models import ETAS, MAX_EVALS

__all__ = ["FAMILY_STYLE", "figures", "markers"]

FAMILY_STYLE = {
    "reinforce": ("REINFORCE (no baseline)", "o"),
    "rloo": ("RLOO", "s"),
    "sum_and_sample": ("sum-and-sample (k summed + 1 sample)", "^"),
    "local_expectation": ("local expectation", "D"),
}


def _family_of(name: str) -> tuple[str, int]:
    if name.startswith("sas(k="):
        return "sum_and_sample", int(name[6:-1])
    return name, 0


def markers(summary: pd.DataFrame) -> pd.DataFrame:
    """The Monte Carlo markers of the figure: one row per (eta, family, size)."""
    s = summary[summary["kind"] == "coordinate"].copy()
    fam = s["estimator"].map(_family_of)
    s["family"] = [f for f, _ in fam]
    s["k"] = [k for _, k in fam]
    keep = (
        (s["family"].isin(["reinforce", "rloo"]))
        | ((s["family"] == "sum_and_sample") & (s["n"] == 1))
        | ((s["family"] == "local_expectation") & (s["n"] <= 2))
    )
    s = s[keep].copy()
    s["size"] = np.where(s["family"] == "sum_and_sample", s["k"], s["n"])
    s["eta"] = s["at_eta"].astype(float)
    return s


def _figures(
    summary: pd.DataFrame, exact: pd.DataFrame, out_dir: Any, spread: pd.DataFrame | None = None
) -> list[Any]:
    """Variance of the shared-logit gradient against f evaluations, one panel per eta.

    With ``spread`` (tie_spread.csv) a band shows sum-and-sample's variance over the tie
    choices (smallest to largest conditional variance) around the randomised rule's line.
    """
    mk = markers(summary)
    colors = estimator_colors(FAMILY_STYLE)
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    axes = fig.subplots(1, len(ETAS), sharey=False)
    for ax, eta in zip(axes, ETAS, strict=True):
        ex = exact[exact["eta"] == eta]
        floor = 1e-12 * ex["exact_variance"].max()
        zero_notes = []
        for fam, (label, marker) in FAMILY_STYLE.items():
            e = ex[ex["family"] == fam].sort_values("n_evals")
            pos = e[e["exact_variance"] > floor]
            if fam == "sum_and_sample":  # one point per k at k + 1 evaluations
                pos = pos.drop_duplicates("n_evals")
            if len(pos):
                ax.plot(
                    pos["n_evals"],
                    pos["exact_variance"],
                    "-",
                    color=colors[fam],
                    lw=1.5,
                    label=f"{label}: exact",
                )
            if fam == "sum_and_sample" and spread is not None:
                sp = spread[(spread["eta"] == eta) & (spread["variance_max"] > floor)]
                sp = sp.drop_duplicates("n_evals").sort_values("n_evals")
                if (sp["variance_max"] > sp["variance_min"] * (1 + 1e-9)).any():
                    ax.fill_between(
                        sp["n_evals"],
                        np.maximum(sp["variance_min"], floor),
                        sp["variance_max"],
                        color=colors[fam],
                        alpha=0.15,
                        lw=0,
                        label="sum-and-sample: one fixed tie choice (min to max)",
                    )
            zeros = e[e["exact_variance"] <= floor]
            if len(zeros):
                what = (
                    "k >= " + str(int(zeros["size"].min())) if fam == "sum_and_sample" else "all n"
                )
                zero_notes.append(f"{label.split(' (')[0]}, {what}: variance 0 (exact)")
            m = mk[(mk["eta"] == eta) & (mk["family"] == fam)]
            m = m[m["variance"] > floor].sort_values("n_evals")
            if len(m):
                mc_label = f"{label}: Monte Carlo (95% CI)"
                errorbar_ci(
                    ax, m, "n_evals", fmt=marker, color=colors[fam], mfc="none", label=mc_label
                )
        ax.set_yscale("log")
        ax.set_xlabel("f evaluations per estimate")
        ax.set_ylabel("variance of d/d eta estimate")
        g = float(ex["truth"].iloc[0])
        ax.set_title(f"eta = {eta:g} (exact gradient {g:.4g})")
        ax.set_xticks(range(1, MAX_EVALS + 1))
        if zero_notes:
            axes_note(ax, "\n".join(zero_notes), 0.98, 0.98, ha="right", va="top")
        ax.grid(alpha=0.3, which="both")
    legend_below(fig, axes[0], ncol=2)
    n_reps, scale = run_size(summary)
    fig.suptitle(
        f"Liu/Kool Bernoulli toy (3 Bernoullis, shared logit): {n_reps} replicates, {scale} scale",
        fontsize=11,
    )
    return save_figure(fig, Path(out_dir) / "variance_vs_evals")


def figures(summary: pd.DataFrame, extra: Any, out_dir: Any) -> list[Any]:
    """Harness hook (``vartools plot``): the figures from summary.csv and the extra tables."""
    return _figures(summary, extra.get("exact"), out_dir, extra.get("tie_spread"))
