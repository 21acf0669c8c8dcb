"""Figure: single-sample gradient variance on the Gaussian costs (Mohamed et al. 2020, Figs. 2-3).

Reads results/gaussian_costs/{summary,exact}.csv; writes figures/gaussian_costs.pdf.
"""

import numpy as np

from vartools.plots.helpers import log_axes, variance_bars
from vartools.plots.paper import read, save_paper_figure
from vartools.plots.style import estimator_color, paper_figure

COSTS = {
    "square": ("$f(x) = (x-k)^2$", None),
    "bump": ("$f(x) = \\exp(-kx^2)$", (0.1, 0.3, 1, 3, 10)),
    "cos": ("$f(x) = \\cos(kx)$", (0.5, 1, 2, 3, 5)),
}
COORDS = {"loc[0]": "mean $\\mu$", "scale[0]": "std. dev. $\\sigma$"}
STYLE = {
    "sf": ("score function", estimator_color("sf"), "o"),
    "sf+b* (oracle)": (
        "score function + optimal baseline $b^\\star$ (oracle)",
        estimator_color("sf+b*"),
        "s",
    ),
    "pathwise": ("pathwise", estimator_color("pathwise"), "^"),
    "mvd": ("measure-valued (coupled)", estimator_color("mvd"), "D"),
}


def main() -> None:
    """Three costs (rows) x two parameters (columns), exact lines and Monte Carlo markers."""
    summary = read("gaussian_costs")
    exact = read("gaussian_costs", "exact")
    mc = summary[(summary["kind"] == "coordinate") & (summary["n"] == 1)]
    fig, axes = paper_figure(6.4, ncols=2, nrows=3)
    for i, (cost, (label, ticks)) in enumerate(COSTS.items()):
        for j, (coord, clabel) in enumerate(COORDS.items()):
            ax = axes[i, j]
            ex = exact[(exact["cost"] == cost) & (exact["coordinate"] == coord)]
            top = ex["exact_variance"].max()
            low = np.inf
            for name, (lab, color, marker) in STYLE.items():
                e = ex[ex["estimator"] == name].sort_values("k")
                y = np.where(e["exact_variance"] > 1e-12 * top, e["exact_variance"], np.nan)
                ax.plot(e["k"], y, color=color, label=lab)
                m = mc[(mc["at_cost"] == cost) & (mc["coordinate"] == coord)]
                m = m[(m["estimator"] == name) & (m["variance"] > 1e-12 * top)]
                low = min(low, m["variance_lo"].min())
                variance_bars(
                    ax,
                    m,
                    "at_k",
                    color=color,
                    marker=marker,
                )
            log_axes(ax, x=ticks is not None, xticks=ticks)
            ax.set_ylim(bottom=low / 3)  # the MVD line dips towards 0 where its variance vanishes
            ax.set_title(f"{label}: gradient w.r.t. the {clabel}")
            ax.set_xlabel("$k$ (log scale)" if ticks else "$k$")
            ax.set_ylabel("variance (log scale)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, frameon=False)
    save_paper_figure(fig, "gaussian_costs")


if __name__ == "__main__":
    main()
