"""Figure: the Liu / Kool Bernoulli toy, variance against f evaluations per estimate.

Reads results/liu_kool_toy/{summary,exact}.csv; writes figures/liu_kool.pdf.
"""

import importlib
import sys
from pathlib import Path

from vartools.plots.helpers import legend_below, log_axes, variance_bars
from vartools.plots.paper import read, save_paper_figure
from vartools.plots.style import estimator_color, paper_figure

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's experiments/
markers = importlib.import_module("experiments.liu_kool_toy.figures").markers


STYLE = {
    "reinforce": ("REINFORCE ($n$ samples)", estimator_color("reinforce"), "o"),
    "rloo": ("RLOO ($K$ samples)", estimator_color("rloo"), "s"),
    "sum_and_sample": (
        "sum-and-sample ($k$ summed + 1 sampled)",
        estimator_color("sum_and_sample"),
        "^",
    ),
}


def main() -> None:
    """One panel per eta: exact lines (enumeration), Monte Carlo markers with 95% CIs."""
    exact = read("liu_kool_toy", "exact")
    mk = markers(read("liu_kool_toy"))
    etas = sorted(exact["eta"].unique(), reverse=True)
    fig, axes = paper_figure(2.7, ncols=len(etas))
    for ax, eta in zip(axes[0], etas, strict=True):
        ex = exact[exact["eta"] == eta]
        floor = 1e-12 * ex["exact_variance"].max()
        for fam, (label, color, marker) in STYLE.items():
            e = ex[(ex["family"] == fam) & (ex["exact_variance"] > floor)]
            e = e.drop_duplicates("n_evals").sort_values("n_evals")
            ax.plot(e["n_evals"], e["exact_variance"], color=color, label=label)
            m = mk[(mk["eta"] == eta) & (mk["family"] == fam) & (mk["variance"] > floor)]
            variance_bars(
                ax,
                m,
                "n_evals",
                color=color,
                marker=marker,
            )
        log_axes(ax)
        ax.set_xticks(sorted(ex["n_evals"].unique()))
        ax.set_title(f"$\\eta = {eta:g}$, exact gradient ${float(ex['truth'].iloc[0]):.4g}$")
        ax.set_xlabel("$f$ evaluations per estimate")
    axes[0, 0].set_ylabel("variance of $\\partial/\\partial\\eta$ (log scale)")
    legend_below(fig, axes[0, 0], ncol=3, fontsize=7.5)
    save_paper_figure(fig, "liu_kool")


if __name__ == "__main__":
    main()
