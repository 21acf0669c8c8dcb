"""Figure: Bayesian logistic regression, gradient variance and ELBO along training.

Reads results/blr_vi/trajectories_summary.csv (the mean over the training seeds and the
Student t 95% interval over them); writes figures/blr_vi.pdf.
"""

from vartools.plots.helpers import legend_below, log_axes
from vartools.plots.paper import read, save_paper_figure
from vartools.plots.style import estimator_color, paper_figure

STYLE = {
    "sf": ("score function", estimator_color("sf"), "o"),
    "sf+ema": ("SF + moving-average baseline", estimator_color("sf+ema"), "v"),
    "sf+delta": ("SF + delta method", estimator_color("sf+delta"), "s"),
    "pathwise": ("pathwise", estimator_color("pathwise"), "^"),
    "pathwise+delta": ("pathwise + delta method", estimator_color("pathwise+delta"), "x"),
    "mvd": ("measure-valued", estimator_color("mvd"), "D"),
    "mvd+delta": ("measure-valued + delta method", estimator_color("mvd+delta"), "+"),
}

#: the ELBO panel starts here (at step 0 the negative ELBO is 15x larger)
ELBO_FROM = 500


def main() -> None:
    """Left: mean over the 31 mean parameters of the variance; right: the ELBO (seed bands)."""
    summ = read("blr_vi", "trajectories_summary")
    n_seeds = int(summ["n_seeds"].max())
    fig, axes = paper_figure(2.7, ncols=2)
    ax_v, ax_e = axes[0]
    for name, (label, color, marker) in STYLE.items():
        t = summ[(summ["estimator"] == name) & (summ["block"] == "loc")]
        t = t[t["reduce"] == "mean"].sort_values("step")
        ax_v.plot(
            t["step"],
            t["variance_mean"],
            color=color,
            marker=marker,
            ms=3,
            mfc="white",
            label=label,
        )
        ax_v.fill_between(
            t["step"], t["variance_lo"], t["variance_hi"], color=color, alpha=0.25, lw=0
        )
        e = t[t["step"] >= ELBO_FROM]
        ax_e.plot(e["step"], -e["elbo_mean"], color=color, marker=marker, ms=3, mfc="white")
        ax_e.fill_between(e["step"], -e["elbo_hi"], -e["elbo_lo"], color=color, alpha=0.2, lw=0)
    log_axes(ax_v)
    ax_v.set_xlabel("training step")
    ax_v.set_ylabel("variance, mean over $\\mu_d$ (log scale)")
    ax_v.set_title(f"gradient variance: geometric mean, {n_seeds} seeds", fontsize=8)
    ax_e.set_xlabel("training step")
    ax_e.set_ylabel("negative ELBO")
    ax_e.set_title(f"negative ELBO from step {ELBO_FROM}: mean, {n_seeds} seeds", fontsize=8)
    legend_below(fig, ax_v, ncol=3, fontsize=7.5)
    save_paper_figure(fig, "blr_vi")


if __name__ == "__main__":
    main()
