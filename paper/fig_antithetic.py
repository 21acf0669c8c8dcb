"""Figure: ARM toy (variance against sigmoid(phi)) and Double-CV toy (variance along training).

Reads results/arm_toy/{summary,training,exact}.csv and results/quadratic_200/summary.csv;
writes figures/antithetic.pdf.
"""

from _common import COLORS, log_axes, new_figure, read, save, variance_bars

from experiments.arm_toy import markers

ARM = {
    ("sf", 2): ("SF", COLORS[0], "o"),
    ("rloo", 2): ("RLOO", COLORS[3], "s"),
    ("arm", 1): ("ARM", COLORS[4], "^"),
    ("disarm", 1): ("DisARM", COLORS[2], "D"),
}
QUAD = {
    "sf": ("SF", COLORS[0], "o"),
    "rloo": ("RLOO", COLORS[3], "s"),
    "disarm": ("DisARM", COLORS[2], "D"),
    "dependency_aware": ("dependency-aware RB", COLORS[1], "v"),
}


def _eval_label(label: str, n_evals: int) -> str:
    return f"{label} ({n_evals} evals)"


def main() -> None:
    """Left: ARM toy, exact lines and markers; right: mean per-dimension variance, D = 200."""
    summary = read("arm_toy")
    exact = read("arm_toy", "exact")
    mk = markers(summary, read("arm_toy", "training"))
    fig, axes = new_figure(2.8, ncols=2)
    ax_a, ax_q = axes[0]
    floor = 1e-12 * exact["exact_variance"].max()
    reach = mk["theta"].max()  # the exact lines stop where the trajectory stops
    for (name, n), (label, color, marker) in ARM.items():
        e = exact[(exact["estimator"] == name) & (exact["n"] == n)]
        e = e[(e["exact_variance"] > floor) & (e["theta"] <= reach)].sort_values("theta")
        m = mk[(mk["estimator"] == name) & (mk["n"] == n) & (mk["variance"] > floor)]
        ax_a.plot(e["theta"], e["exact_variance"], color=color)
        variance_bars(
            ax_a,
            m,
            "theta",
            color=color,
            marker=marker,
            ms=3,
            label=_eval_label(label, int(m["n_evals"].iloc[0])),
        )
    log_axes(ax_a)
    ax_a.set_xlabel("$\\sigma(\\phi)$ along gradient ascent")
    ax_a.set_ylabel("variance (log scale)")
    ax_a.set_title("ARM toy: one Bernoulli, $f = (z - 0.49)^2$")
    ax_a.legend(loc="center left", bbox_to_anchor=(0, 0.62), frameon=False)
    s = read("quadratic_200")
    s = s[s["kind"] == "mean"]
    for name, (label, color, marker) in QUAD.items():
        n = 1 if name == "disarm" else 2  # 2 f evaluations each: one pair, or K = 2
        m = s[(s["estimator"] == name) & (s["n"] == n)].sort_values("step")
        variance_bars(
            ax_q,
            m,
            "step",
            color=color,
            marker=marker,
            ms=3,
            ls="-",
            label=_eval_label(label, int(m["n_evals"].iloc[0])),
        )
    log_axes(ax_q)
    ax_q.set_xlabel("training step (RLOO, RMSprop)")
    ax_q.set_ylabel("mean per-dimension variance (log scale)")
    ax_q.set_title("Double-CV toy: $D = 200$ Bernoullis")
    ax_q.legend(loc="center right", bbox_to_anchor=(1, 0.7), frameon=False)
    save(fig, "antithetic")


if __name__ == "__main__":
    main()
