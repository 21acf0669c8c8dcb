"""Figure: Bayesian logistic regression, gradient variance and ELBO along training.

Reads results/blr_vi/trajectories.csv; writes figures/blr_vi.pdf.
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
    """Left: mean over the 31 mean parameters of the variance; right: the ELBO."""
    traj = read("blr_vi", "trajectories")
    fig, axes = paper_figure(2.7, ncols=2)
    ax_v, ax_e = axes[0]
    for name, (label, color, marker) in STYLE.items():
        t = traj[(traj["estimator"] == name) & (traj["block"] == "loc")]
        t = t[t["reduce"] == "mean"].sort_values("step")
        ax_v.plot(
            t["step"], t["variance"], color=color, marker=marker, ms=3, mfc="white", label=label
        )
        ax_v.fill_between(
            t["step"], t["variance_lo"], t["variance_hi"], color=color, alpha=0.25, lw=0
        )
        e = traj[(traj["estimator"] == name) & (traj["step"] >= ELBO_FROM)]
        e = e.drop_duplicates("step").sort_values("step")
        ax_e.plot(e["step"], -e["elbo"], color=color, marker=marker, ms=3, mfc="white")
    log_axes(ax_v)
    ax_v.set_xlabel("training step")
    ax_v.set_ylabel("variance, mean over $\\mu_d$ (log scale)")
    ax_v.set_title("single-sample gradient variance (95% CI band)")
    ax_e.set_xlabel("training step")
    ax_e.set_ylabel("negative ELBO")
    ax_e.set_title(f"negative ELBO on the full data (from step {ELBO_FROM})")
    legend_below(fig, ax_v, ncol=3, fontsize=7.5)
    save_paper_figure(fig, "blr_vi")


if __name__ == "__main__":
    main()
