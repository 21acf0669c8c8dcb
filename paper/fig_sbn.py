"""Figure: sigmoid belief net on the 8x8 digits, encoder-gradient variance against cost.

Reads results/sbn_digits/{summary,exact}.csv; writes figures/sbn.pdf.
"""

from vartools.plots.helpers import legend_below, log_axes, variance_bars
from vartools.plots.paper import read, save_paper_figure
from vartools.plots.style import estimator_color, paper_figure

STYLE = {
    "sf+rloo": ("SF + RLOO ($n$ samples)", estimator_color("sf+rloo"), "o"),
    "arm": ("ARM ($n$ pairs)", estimator_color("arm"), "^"),
    "disarm": ("DisARM ($n$ pairs)", estimator_color("disarm"), "D"),
    "local_expectation": (
        "local expectation ($n$ samples)",
        estimator_color("local_expectation"),
        "*",
    ),
}
SNAPSHOTS = (300, 3000)


def main() -> None:
    """Left: the exact ELBO of the RLOO-trained model; then variance against f evaluations."""
    s = read("sbn_digits")
    s = s[s["kind"] == "mean"]
    elbo = read("sbn_digits", "exact")
    fig, axes = paper_figure(2.8, ncols=1 + len(SNAPSHOTS))
    ax_e = axes[0, 0]
    ax_e.plot(elbo["step"], elbo["elbo"], color="k")
    for step in SNAPSHOTS:
        ax_e.axvline(step, color="0.5", lw=0.8, ls=":")
    ax_e.set_xlabel("training step (RLOO, Adam)")
    ax_e.set_ylabel("ELBO per digit (nats)")
    ax_e.set_title("training")
    for ax, step in zip(axes[0, 1:], SNAPSHOTS, strict=True):
        for name, (label, color, marker) in STYLE.items():
            m = s[(s["at_step"] == step) & (s["estimator"] == name)].sort_values("n_evals")
            variance_bars(
                ax,
                m,
                "n_evals",
                color=color,
                marker=marker,
                ls="-",
                label=label,
            )
        log_axes(ax, x=True)
        ax.set_xlabel("$f$ evaluations (log scale)")
        ax.set_title(f"variance at step {step}")
    axes[0, 1].set_ylabel("mean variance over weights (log)")
    legend_below(fig, axes[0, 1], ncol=2, fontsize=7.5)
    save_paper_figure(fig, "sbn")


if __name__ == "__main__":
    main()
