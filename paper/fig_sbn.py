"""Figure: sigmoid belief net on the 8x8 digits, encoder-gradient variance against cost.

Reads results/sbn_digits/{variance_summary,elbo_summary}.csv (geometric mean of the variance
and mean ELBO over the training seeds, Student t 95% bands); writes figures/sbn.pdf.
"""

from vartools.plots.helpers import legend_below, log_axes
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
    """Left: the ELBO of the RLOO-trained models; then variance against f evaluations."""
    s = read("sbn_digits", "variance_summary")
    elbo = read("sbn_digits", "elbo_summary")
    n_seeds = int(elbo["n_seeds"].max())
    fig, axes = paper_figure(2.8, ncols=1 + len(SNAPSHOTS))
    ax_e = axes[0, 0]
    ax_e.plot(elbo["step"], elbo["elbo_mean"], color="k")
    ax_e.fill_between(elbo["step"], elbo["elbo_lo"], elbo["elbo_hi"], color="k", alpha=0.25, lw=0)
    for step in SNAPSHOTS:
        ax_e.axvline(step, color="0.5", lw=0.8, ls=":")
    ax_e.set_xlabel("training step (RLOO, Adam)")
    ax_e.set_ylabel("ELBO per digit (nats)")
    ax_e.set_title(f"training, {n_seeds} seeds")
    for ax, step in zip(axes[0, 1:], SNAPSHOTS, strict=True):
        for name, (label, color, marker) in STYLE.items():
            m = s[(s["at_step"] == step) & (s["estimator"] == name)].sort_values("n_evals")
            ax.plot(m["n_evals"], m["variance_mean"], color=color, marker=marker, ms=3, label=label)
            ax.fill_between(
                m["n_evals"], m["variance_lo"], m["variance_hi"], color=color, alpha=0.2, lw=0
            )
        log_axes(ax, x=True)
        ax.set_xlabel("$f$ evaluations (log scale)")
        ax.set_title(f"variance at step {step}")
    axes[0, 1].set_ylabel("mean variance over weights (log)")
    legend_below(fig, axes[0, 1], ncol=2, fontsize=7.5)
    save_paper_figure(fig, "sbn")


if __name__ == "__main__":
    main()
