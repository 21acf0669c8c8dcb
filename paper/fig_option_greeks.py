"""Figure: single-sample variance of Black-Scholes Greeks against moneyness.

Reads results/option_greeks/{exact,summary,digital}.csv; writes figures/option_greeks.pdf.
"""

import pandas as pd

from vartools.plots.helpers import legend_below, log_axes, variance_bars
from vartools.plots.paper import read, save_paper_figure
from vartools.plots.style import estimator_color, paper_figure

STYLE = {
    "lr": ("likelihood ratio (score function)", estimator_color("lr"), "o"),
    "lr+cv* (oracle)": (
        "likelihood ratio + control variate, $\\beta^\\star$ (oracle)",
        estimator_color("lr+cv"),
        "s",
    ),
    "pathwise": ("pathwise", estimator_color("pathwise"), "^"),
    "pathwise+cv* (oracle)": (
        "pathwise + control variate, $\\beta^\\star$ (oracle)",
        estimator_color("pathwise+cv"),
        "x",
    ),
}
PANELS = (
    ("call", "s0", "European call: delta"),
    ("call", "sigma", "European call: vega"),
    ("digital", "s0", "digital call: delta"),
)


def main() -> None:
    """Exact lines (quadrature) and Monte Carlo markers (n = 1) for three Greeks."""
    exact = read("option_greeks", "exact")
    mc = pd.concat([read("option_greeks"), read("option_greeks", "digital")], ignore_index=True)
    mc = mc[(mc["kind"] == "coordinate") & (mc["n"] == 1)]
    fig, axes = paper_figure(2.6, ncols=3)
    for ax, (kind, coord, title) in zip(axes[0], PANELS, strict=True):
        for name, (label, color, marker) in STYLE.items():
            if kind == "digital" and name.startswith("pathwise"):
                continue  # identically zero: biased (see the bias table)
            e = exact[(exact["kind"] == kind) & (exact["coordinate"] == coord)]
            e = e[e["estimator"] == name].sort_values("moneyness")
            ax.plot(e["moneyness"], e["exact_variance"], color=color, label=label)
            m = mc[(mc["at_kind"] == kind) & (mc["coordinate"] == coord)]
            m = m[m["estimator"] == name]
            variance_bars(
                ax,
                m,
                "at_moneyness",
                color=color,
                marker=marker,
            )
        log_axes(ax)
        ax.set_title(title)
        ax.set_xlabel("moneyness $S_0/K$")
    axes[0, 0].set_ylabel("single-sample variance (log scale)")
    legend_below(fig, axes[0, 0], ncol=2, fontsize=7.5)
    save_paper_figure(fig, "option_greeks")


if __name__ == "__main__":
    main()
