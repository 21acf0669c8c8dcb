"""The Gaussian-cost figures: pure functions of ``summary.csv`` and ``exact.csv``.

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
from vartools.plots.style import PALETTE, estimator_color, save_figure

from .estimators import ESTIMATOR_NS, FITTED
from .models import N_PANEL, RLOO_K

__all__ = ["COST_STYLE", "STYLE", "figures"]

#: How each cost is drawn: its formula and the x axis.
COST_STYLE: dict[str, dict[str, Any]] = {
    "square": {"label": "$f(x) = (x - k)^2$", "log_x": False},
    "bump": {"label": "$f(x) = \\exp(-k x^2)$", "log_x": True, "ticks": (0.1, 0.3, 1.0, 3.0, 10.0)},
    "cos": {"label": "$f(x) = \\cos(k x)$", "log_x": True, "ticks": (0.5, 1.0, 2.0, 3.0, 5.0)},
}
STYLE: dict[str, dict[str, Any]] = {
    "sf": {"label": "score function", "color": estimator_color("sf"), "marker": "o"},
    "sf+b* (oracle)": {
        "label": "score function + optimal baseline b* (oracle)",
        "color": estimator_color("sf+b*"),
        "marker": "s",
    },
    "sf+b (loo)": {
        "label": "score function + b fitted leave-one-out (n = 8, x 8)",
        "color": PALETTE[4],
        "marker": "<",
    },
    "sf+b (xfit)": {
        "label": "score function + b cross-fitted (n = 8, x 8)",
        "color": PALETTE[5],
        "marker": ">",
    },
    "pathwise": {"label": "pathwise", "color": estimator_color("pathwise"), "marker": "^"},
    "mvd": {"label": "measure-valued (coupled)", "color": estimator_color("mvd"), "marker": "D"},
    "sf+loo": {
        "label": f"RLOO, K = {RLOO_K} (x {RLOO_K})",
        "color": estimator_color("sf+loo"),
        "marker": "v",
    },
    "sf+delta* (oracle)": {
        "label": "score function + delta method, beta* (oracle)",
        "color": estimator_color("sf+delta*"),
        "marker": "P",
    },
    "sf+delta (loo)": {
        "label": "score function + delta method, beta fitted LOO (n = 8, x 8)",
        "color": PALETTE[11],
        "marker": "p",
    },
    "pathwise+delta* (oracle)": {
        "label": "pathwise + delta method, beta* (oracle)",
        "color": estimator_color("pathwise+delta*"),
        "marker": "X",
    },
    "pathwise+delta (loo)": {
        "label": "pathwise + delta method, beta fitted LOO (n = 8, x 8)",
        "color": PALETTE[7],
        "marker": "x",
    },
}
PAPER = ("sf", "sf+b* (oracle)", "sf+b (loo)", "sf+b (xfit)", "pathwise", "mvd")
BEYOND = (
    "sf",
    "sf+loo",
    "sf+delta* (oracle)",
    "sf+delta (loo)",
    "pathwise",
    "pathwise+delta* (oracle)",
    "pathwise+delta (loo)",
)
COORDS = (("loc[0]", "mean $\\mu$"), ("scale[0]", "standard deviation $\\sigma$"))
#: exact variances below this fraction of the panel's largest are zero up to rounding
ZERO = 1e-12


def _markers(summary: pd.DataFrame, name: str, cost: str, coord: str) -> pd.DataFrame:
    n = ESTIMATOR_NS[name]
    m = summary[
        (summary["estimator"] == name)
        & (summary["at_cost"] == cost)
        & (summary["coordinate"] == coord)
        & (summary["n"] == n)
    ].sort_values("at_k")
    return m.assign(
        y=m["variance"] * n, lo=m["variance_lo"] * n, hi=m["variance_hi"] * n, x=m["at_k"]
    )


def _panel(
    ax: Any,
    summary: pd.DataFrame,
    exact: pd.DataFrame,
    names: tuple[str, ...],
    cost: str,
    coord: str,
) -> None:
    top = 0.0
    for name in names:
        e = exact[
            (exact["estimator"] == name) & (exact["cost"] == cost) & (exact["coordinate"] == coord)
        ].sort_values("k")
        top = max(top, float((e["exact_variance"] * e["n"]).max()) if len(e) else 0.0)
    for name in names:
        st = STYLE[name]
        e = exact[
            (exact["estimator"] == name) & (exact["cost"] == cost) & (exact["coordinate"] == coord)
        ].sort_values("k")
        y = (e["exact_variance"] * e["n"]).to_numpy()
        y = np.where(y > ZERO * top, y, np.nan)
        if len(e):  # the fitted estimators have no exact line: markers only
            ax.plot(e["k"], y, color=st["color"], lw=1.6, label=st["label"])
        m = _markers(summary, name, cost, coord)
        m = m[m["y"] > ZERO * top]
        if len(m):
            errorbar_ci(
                ax,
                m,
                "x",
                y="y",
                lo="lo",
                hi="hi",
                fmt=st["marker"],
                color=st["color"],
                ms=4,
                capsize=2,
                lw=0.9,
                mfc="white" if len(e) else st["color"],
                label=None if len(e) else st["label"],
            )
    ax.set_yscale("log")
    if COST_STYLE[cost]["log_x"]:
        fixed_log_x(ax, COST_STYLE[cost]["ticks"])
    ax.grid(True, which="major", alpha=0.3)


def _grid_figure(
    summary: pd.DataFrame, exact: pd.DataFrame, names: tuple[str, ...], title: str
) -> Any:
    fig = Figure(figsize=(9.0, 10.0), layout="constrained")
    axes = fig.subplots(len(COST_STYLE), 2)
    for i, cost in enumerate(COST_STYLE):
        for j, (coord, label) in enumerate(COORDS):
            ax = axes[i, j]
            _panel(ax, summary, exact, names, cost, coord)
            ax.set_title(f"{COST_STYLE[cost]['label']}: gradient w.r.t. {label}", fontsize=10)
            ax.set_xlabel("$k$")
            ax.set_ylabel("variance of one sample")
    legend_below(fig, axes[1, 0], ncol=2, fontsize=9)  # every estimator has points there
    fig.suptitle(title, fontsize=11)
    return fig


def _n_figure(summary: pd.DataFrame, exact: pd.DataFrame) -> Any:
    cost, k = N_PANEL["cost"], float(N_PANEL["k"])
    fig = Figure(figsize=(10.0, 5.2), layout="constrained")
    axes = fig.subplots(1, 2)
    sub = summary[(summary["at_cost"] == cost) & np.isclose(summary["at_k"], k)]
    for ax, (coord, label) in zip(axes, COORDS, strict=True):
        ref_y = None
        for name, st in STYLE.items():
            m = sub[(sub["estimator"] == name) & (sub["coordinate"] == coord)].sort_values("n")
            if not len(m):
                continue
            errorbar_ci(
                ax,
                m,
                "n",
                fmt=st["marker"] + ("--" if name in FITTED else "-"),
                color=st["color"],
                ms=4,
                capsize=2,
                lw=1.0,
                mfc="white",
                label="RLOO (K = n)" if name == "sf+loo" else st["label"].split(" (n = 8")[0],
            )
            if name == "sf":
                e = exact[
                    (exact["estimator"] == "sf")
                    & (exact["cost"] == cost)
                    & np.isclose(exact["k"], k)
                    & (exact["coordinate"] == coord)
                ]
                ref_y = float(e["exact_variance"].iloc[0]) if len(e) else None
                ns = np.array(sorted(m["n"].unique()), dtype=float)
        if ref_y is not None:
            ax.plot(ns, ref_y / ns, "k--", lw=1.0, label="exact SF variance / n")
        fixed_log_x(ax, sorted(sub["n"].unique()), base=2)
        ax.set_yscale("log")
        ax.set_xlabel("samples per estimate $n$")
        ax.set_ylabel("variance of the estimate")
        ax.set_title(f"{COST_STYLE[cost]['label']}, $k = {k:g}$: w.r.t. {label}", fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
    legend_below(fig, axes[0], ncol=3, fontsize=7.5)
    return fig


def figures(
    summary: pd.DataFrame, extra: Mapping[str, pd.DataFrame], out_dir: str | Path
) -> list[Path]:
    """The three figures, pure functions of ``summary.csv`` and ``exact.csv`` (``extra["exact"]``).

    - ``gaussian_costs_paper``: Mohamed et al. (2020) Figs. 2-3 (SF, SF + optimal
      baseline, pathwise, coupled MVD): exact lines, Monte Carlo markers with 95% CIs;
    - ``gaussian_costs_beyond``: the same panels for RLOO (K = 4, shown as 4 x its
      variance: variance per sample spent) and the delta-method control variate;
    - ``gaussian_costs_n``: variance against n at one k with the 1/n reference.
    """
    exact = extra.get("exact")
    if exact is None:
        raise FileNotFoundError("gaussian_costs figures need exact.csv: rerun the experiment")
    out_dir = Path(out_dir)
    summary = summary[summary["kind"] == "coordinate"]
    files: list[Path] = []
    scale = str(summary["scale"].iloc[0]) if "scale" in summary.columns else ""
    fig = _grid_figure(
        summary,
        exact,
        PAPER,
        f"Single-sample gradient variance, $x \\sim N(1, 1)$ (lines: exact; open markers: "
        f"Monte Carlo, 95% CI; {scale} scale)\nb* (oracle) is computed from the true "
        "distribution; filled markers: b fitted from the samples (n = 8, 8 x variance)",
    )
    files += save_figure(fig, out_dir / "gaussian_costs_paper")
    fig = _grid_figure(
        summary,
        exact,
        BEYOND,
        "Beyond the paper: RLOO (K = 4) and the delta-method control variate\n(beta* oracle "
        "from the true distribution; filled: beta fitted LOO, n = 8, 8 x variance)\nlines: "
        "exact; markers: Monte Carlo, 95% CI; the delta method is exact for $(x-k)^2$ "
        "(variance 0, not drawn)",
    )
    files += save_figure(fig, out_dir / "gaussian_costs_beyond")
    files += save_figure(_n_figure(summary, exact), out_dir / "gaussian_costs_n")
    return files
