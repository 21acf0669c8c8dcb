"""The option Greeks' figures: variance against moneyness (n = 1) and against n.

Imported only by ``vartools plot`` (``figures``, the experiment's figures hook).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from vartools.plots.helpers import errorbar_ci, fixed_log_x, legend_below
from vartools.plots.style import estimator_color, save_figure

__all__ = ["STYLE", "figures"]

STYLE = {
    "lr": {
        "label": "likelihood ratio (score function)",
        "color": estimator_color("lr"),
        "marker": "o",
    },
    "lr+cv* (oracle)": {
        "label": "likelihood ratio + price control variate, beta* (oracle)",
        "color": estimator_color("lr+cv"),
        "marker": "s",
    },
    "lr+cv (loo)": {
        "label": "likelihood ratio + price control variate, beta fitted LOO",
        "color": estimator_color("lr+cv"),
        "marker": "<",
    },
    "pathwise": {"label": "pathwise", "color": estimator_color("pathwise"), "marker": "^"},
    "pathwise+cv* (oracle)": {
        "label": "pathwise + price control variate, beta* (oracle)",
        "color": estimator_color("pathwise+cv"),
        "marker": "v",
    },
    "pathwise+cv (loo)": {
        "label": "pathwise + price control variate, beta fitted LOO",
        "color": estimator_color("pathwise+cv"),
        "marker": ">",
    },
}
#: Style of the Monte Carlo markers (95% CI error bars).
MARKER = {"ms": 4, "capsize": 2, "mfc": "white", "lw": 0.9}
PANELS = (
    ("call", "s0", "European call: delta"),
    ("call", "sigma", "European call: vega"),
    ("digital", "s0", "digital call: delta"),
)


def _moneyness_figure(summary: pd.DataFrame, exact: pd.DataFrame) -> Any:
    fig = Figure(figsize=(12.0, 4.3), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, (kind, coord, title) in zip(axes, PANELS, strict=True):
        for name, st in STYLE.items():
            e = exact[
                (exact["kind"] == kind)
                & (exact["coordinate"] == coord)
                & (exact["estimator"] == name)
            ].sort_values("moneyness")
            y = e["exact_variance"].to_numpy()
            if not np.any(y > 0):  # also the fitted ones: no n = 1 (see the n figure)
                continue  # pathwise digital: identically 0 (and biased)
            ax.plot(
                e["moneyness"],
                np.where(y > 0, y, np.nan),
                color=st["color"],
                lw=1.6,
                label=st["label"],
            )
            m = summary[
                (summary["at_kind"] == kind)
                & (summary["coordinate"] == coord)
                & (summary["estimator"] == name)
                & (summary["n"] == 1)
            ]
            m = m.sort_values("at_moneyness")
            errorbar_ci(ax, m, "at_moneyness", fmt=st["marker"], color=st["color"], **MARKER)
        ax.set_yscale("log")
        ax.set_xlabel("moneyness $S_0 / K$")
        ax.set_ylabel("variance of one sample")
        ax.set_title(title + (" (pathwise: 0, biased)" if kind == "digital" else ""), fontsize=10)
        ax.grid(True, alpha=0.3)
    legend_below(fig, axes[0], ncol=4, fontsize=9)
    fig.suptitle(
        "Black-Scholes Greeks, K = 100, r = 0.05, sigma = 0.2, T = 1 (lines: exact; "
        "markers: Monte Carlo, 95% CI)",
        fontsize=11,
    )
    return fig


def _n_figure(summary: pd.DataFrame, exact: pd.DataFrame) -> Any:
    fig = Figure(figsize=(12.0, 4.3), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, (kind, coord, title) in zip(axes, PANELS, strict=True):
        ns = np.array(sorted(summary["n"].unique()), dtype=float)
        for name, st in STYLE.items():
            m = summary[
                (summary["at_kind"] == kind)
                & (summary["coordinate"] == coord)
                & (summary["estimator"] == name)
                & np.isclose(summary["at_moneyness"], 1.0)
            ].sort_values("n")
            e = exact[
                (exact["kind"] == kind)
                & (exact["coordinate"] == coord)
                & (exact["estimator"] == name)
                & np.isclose(exact["moneyness"], 1.0)
            ]
            v1 = float(e["exact_variance"].iloc[0]) if len(e) else np.nan
            if v1 <= 0 or not len(m):
                continue
            if np.isfinite(v1):  # the fitted ones have no exact single-sample variance
                ax.plot(ns, v1 / ns, color=st["color"], lw=1.2, ls="--")
            errorbar_ci(
                ax, m, "n", fmt=st["marker"], color=st["color"], label=st["label"], **MARKER
            )
        fixed_log_x(ax, ns, base=2)
        ax.set_yscale("log")
        ax.set_xlabel("samples per estimate $n$")
        ax.set_ylabel("variance of the estimate")
        ax.set_title(f"{title}, at the money ($S_0 = K$)", fontsize=10)
        ax.grid(True, alpha=0.3)
    legend_below(fig, axes[0], ncol=3, fontsize=9)
    fig.suptitle(
        "Variance against n (dashed: exact single-sample variance / n; markers: "
        "Monte Carlo, 95% CI)\nbeta* (oracle): from the true distribution; beta fitted LOO: "
        "from the other samples of the batch (n >= 4)",
        fontsize=11,
    )
    return fig


def figures(
    summary: pd.DataFrame, extra: Mapping[str, pd.DataFrame], out_dir: str | Path
) -> list[Path]:
    """Variance against moneyness (n = 1) and against n (at the money).

    Args:
        summary: the harness's summary.csv (European call points).
        extra: the tables of ``tables``: "exact" (exact.csv) and "digital" (digital.csv,
            the digital call points, with the columns of summary.csv).
        out_dir: where the PNG and PDF files go.
    """
    out_dir = Path(out_dir)
    exact, digital = extra.get("exact"), extra.get("digital")
    if exact is None:
        raise FileNotFoundError("option_greeks figures need exact.csv: rerun the experiment")
    if digital is None and (out_dir.parent / "digital.csv").exists():  # written by run()
        digital = pd.read_csv(out_dir.parent / "digital.csv")
    if digital is not None:
        summary = pd.concat([summary, digital], ignore_index=True)
    summary = summary[summary["kind"] == "coordinate"]
    files = save_figure(_moneyness_figure(summary, exact), out_dir / "option_greeks_moneyness")
    files += save_figure(_n_figure(summary, exact), out_dir / "option_greeks_n")
    return files
