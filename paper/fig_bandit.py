"""Figure: contextual bandit, REINFORCE baselines along training.

Reads results/contextual_bandit/{summary,training}.csv; writes figures/bandit.pdf.
"""

from vartools.plots.helpers import legend_below, log_axes, variance_bars
from vartools.plots.paper import read, save_paper_figure
from vartools.plots.style import estimator_color, paper_figure

STYLE = {
    "no baseline": ("no baseline", estimator_color("no baseline"), "o"),
    "rloo per state": ("RLOO within each state", estimator_color("rloo per state"), "<"),
    "rloo": ("RLOO", estimator_color("rloo"), "s"),
    "constant J (oracle)": (
        "constant $b = J(\\theta)$ (oracle)",
        estimator_color("constant J"),
        "^",
    ),
    "state value V(s) (oracle)": (
        "state value $V(s)$ (oracle)",
        estimator_color("state value V(s)"),
        "D",
    ),
    "optimal b* per logit (oracle)": (
        "optimal $b^\\star$ per logit (oracle)",
        estimator_color("optimal b*(s,a)"),
        "v",
    ),
}


def main() -> None:
    """Left: mean variance over the logits (exact lines, markers); right: expected return."""
    s = read("contextual_bandit")
    s = s[s["kind"] == "mean"]
    training = read("contextual_bandit", "training")
    fig, axes = paper_figure(2.9, ncols=2, width_ratios=[1.6, 1])
    ax_v, ax_r = axes[0]
    for name, (label, color, marker) in STYLE.items():
        m = s[s["estimator"] == name].sort_values("step")
        ax_v.plot(m["step"], m["exact_variance"], color=color, lw=1)
        variance_bars(
            ax_v,
            m,
            "step",
            color=color,
            marker=marker,
            label=label,
        )
    log_axes(ax_v)
    ax_v.set_xlabel("training step (Adam)")
    ax_v.set_ylabel("mean variance over logits (log scale)")
    n = int(s["n"].iloc[0])
    ax_v.set_title(f"policy-gradient variance, {n} episodes per estimate")
    legend_below(fig, ax_v, ncol=3, fontsize=7.5)
    ax_r.plot(training["step"], training["loss"], color="k", marker="o", ms=3, mfc="white")
    ax_r.set_xlabel("training step (Adam)")
    ax_r.set_ylabel("expected return $J(\\theta)$ (exact)")
    ax_r.set_title("expected return")
    save_paper_figure(fig, "bandit")


if __name__ == "__main__":
    main()
