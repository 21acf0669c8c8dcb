"""The sampling_bias figure: a pure function of summary.csv, batch_bias.csv and relaxation.csv.

Imported only by ``vartools plot`` (``figures``, the experiment's figures hook).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from vartools.plots.helpers import fixed_log_x, run_size
from vartools.plots.style import estimator_colors, save_figure

from .models import BATCH, SAMPLERS, SETTINGS

__all__ = ["figures"]

Z95 = 1.96
SETTING_STYLE = {"gauss_cos": ("-", "o"), "liu_toy": ("--", "s")}


def _samplers(ax: Any, summary: pd.DataFrame, colors: Mapping[str, str]) -> None:
    s = summary[summary["kind"] == "mean"]
    for setting, (ls, mk) in SETTING_STYLE.items():
        for name in SAMPLERS[1:]:
            r = s[(s["at_setting"] == setting) & (s["estimator"] == name)].sort_values("n")
            ax.errorbar(
                r["n"],
                r["ratio"],
                yerr=[r["ratio"] - r["ratio_lo"], r["ratio_hi"] - r["ratio"]],
                ls=ls,
                marker=mk,
                ms=4,
                capsize=2,
                lw=1.0,
                mfc="white",
                color=colors[name],
                label=f"{name.split('@')[1]}, {SETTINGS[setting][2]}",
            )
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_yscale("log")
    fixed_log_x(ax, sorted(s["n"].unique()), base=2)
    ax.set_xlabel("samples = f evaluations per estimate $n$")
    ax.set_ylabel("Var / Var(iid SF), mean over coordinates")
    ax.set_title("(a) better sampling vs iid SF at equal evaluations (paired 95% CI)", fontsize=9)
    ax.legend(fontsize=6.5, ncol=1)
    ax.grid(True, which="major", alpha=0.3)


def _batch_bias(
    ax: Any, summary: pd.DataFrame, exact: pd.DataFrame | None, colors: Mapping[str, str]
) -> None:
    s = summary[(summary["kind"] == "coordinate") & (summary["at_setting"] == "liu_toy")]
    # the coordinate with the largest gradient (the others' relative bias divides by ~0)
    coord = s.loc[s["truth"].abs().idxmax(), "coordinate"]
    s = s[s["coordinate"] == coord]
    offsets = dict(zip(BATCH, (0.94, 1.0, 1.06), strict=True))
    for name in BATCH:
        r = s[s["estimator"] == name].sort_values("n")
        t = r["truth"].abs()
        ax.errorbar(
            r["n"] * offsets[name],
            r["bias"] / t,
            yerr=Z95 * r["bias_se"] / t,
            fmt="o",
            ms=4,
            capsize=2,
            mfc="white",
            color=colors[name],
            label=f"{name}: Monte Carlo (95% CI)",
        )
        if exact is not None:
            e = exact[(exact["estimator"] == name) & (exact["coordinate"] == coord)]
            ax.plot(
                e["n"], e["relative_bias"], "-", color=colors[name], lw=1.4, label=f"{name}: exact"
            )
    ax.axhline(0.0, color="k", lw=0.8)
    fixed_log_x(ax, sorted(s["n"].unique()), base=2)
    ax.set_xlabel("samples per estimate $n$")
    ax.set_ylabel(f"bias / |gradient| of {coord}")
    ax.set_title("(b) b fitted on the same batch vs LOO / cross-fitted: Bernoullis", fontsize=9)
    ax.legend(fontsize=6.5)
    ax.grid(True, which="major", alpha=0.3)


def _batch_bias_gauss(ax: Any, summary: pd.DataFrame, colors: Mapping[str, str]) -> None:
    s = summary[(summary["kind"] == "coordinate") & (summary["at_setting"] == "gauss_cos")]
    offsets = dict(zip(BATCH, (0.94, 1.0, 1.06), strict=True))
    for coord, mk in (("loc[0]", "o"), ("scale[0]", "D")):
        for name in BATCH:
            r = s[(s["estimator"] == name) & (s["coordinate"] == coord)].sort_values("n")
            t = r["truth"].abs()
            ax.errorbar(
                r["n"] * offsets[name],
                r["bias"] / t,
                yerr=Z95 * r["bias_se"] / t,
                fmt=mk,
                ms=4,
                capsize=2,
                mfc="white",
                color=colors[name],
                label=f"{name}, {coord}",
            )
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_yscale("symlog", linthresh=0.05)
    fixed_log_x(ax, sorted(s["n"].unique()), base=2)
    ax.set_xlabel("samples per estimate $n$")
    ax.set_ylabel("bias / |gradient| (95% CI)")
    ax.set_title("(c) b fitted on the same batch vs LOO / cross-fitted: cos(2x)", fontsize=9)
    ax.legend(fontsize=6.5, ncol=2)
    ax.grid(True, which="major", alpha=0.3)


def _relaxations(ax: Any, relax: pd.DataFrame | None) -> None:
    if relax is None:
        ax.set_axis_off()
        return
    coords = sorted(relax["coordinate"].unique())
    colors = estimator_colors(coords)
    g = relax[relax["estimator"].str.startswith("gumbel(")]
    for c in coords:
        r = g[g["coordinate"] == c].sort_values("temperature")
        ax.errorbar(
            r["temperature"],
            r["bias"],
            yerr=Z95 * r["bias_se"],
            fmt="o-",
            ms=4,
            capsize=2,
            lw=1.0,
            mfc="white",
            color=colors[c],
            label=f"Gumbel-softmax, {c}",
        )
        st = relax[(relax["estimator"] == "st") & (relax["coordinate"] == c)]
        if len(st):
            ax.axhline(
                float(st["exact_mean"].iloc[0] - st["truth"].iloc[0]),
                color=colors[c],
                ls=":",
                lw=1.2,
                label=f"straight-through (exact), {c}",
            )
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_xticks(sorted(g["temperature"].unique()))
    ax.set_xticklabels([f"{t:g}" for t in sorted(g["temperature"].unique())])
    ax.set_xlabel("Gumbel-softmax temperature")
    ax.set_ylabel("bias of the gradient estimate (95% CI)")
    ax.set_title("(d) relaxation bias (Bernoullis, n = 1; SF is unbiased)", fontsize=9)
    ax.legend(fontsize=6.5, ncol=2)
    ax.grid(True, which="major", alpha=0.3)


def figures(
    summary: pd.DataFrame, extra: Mapping[str, pd.DataFrame | None], out_dir: str | Path
) -> list[Path]:
    """One 2 x 2 figure: samplers, same-batch bias (two settings), relaxation bias."""
    colors = estimator_colors([*SAMPLERS, *BATCH])
    fig = Figure(figsize=(11.0, 8.6), layout="constrained")
    axes = fig.subplots(2, 2)
    _samplers(axes[0, 0], summary, colors)
    _batch_bias(axes[0, 1], summary, extra.get("batch_bias"), colors)
    _batch_bias_gauss(axes[1, 0], summary, colors)
    _relaxations(axes[1, 1], extra.get("relaxation"))
    n_reps, scale = run_size(summary)
    fig.suptitle(
        f"Sampling, same-batch coefficients and relaxations at frozen parameters "
        f"({n_reps} replicates, {scale} scale)\ncontinuous: {SETTINGS['gauss_cos'][2]}; "
        f"Bernoullis: {SETTINGS['liu_toy'][2]}",
        fontsize=11,
    )
    return save_figure(fig, Path(out_dir) / "sampling_bias")
