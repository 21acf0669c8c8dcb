"""Figure: the REBAR / RELAX Bernoulli toy, loss and gradient variance along training.

Reads results/bernoulli_toy/{summary,training}.csv; writes figures/bernoulli_toy.pdf.
"""

from _common import COLORS, legend_below, log_axes, new_figure, read, save, variance_bars

from experiments.bernoulli_toy import markers

STYLE = {
    "sf": ("SF, 1 sample", COLORS[0], "o"),
    "sf+ema": ("SF + moving average, 1 sample", COLORS[1], "v"),
    "rloo": ("RLOO, $K = 2$", COLORS[3], "s"),
    "arm": ("ARM, 1 pair (2 evals)", COLORS[4], "^"),
    "disarm": ("DisARM, 1 pair (2 evals)", COLORS[2], "D"),
}


def main() -> None:
    """Top: exact loss of the SF-trained run; bottom: replicate variance (exact lines)."""
    training = read("bernoulli_toy", "training")
    mk = markers(read("bernoulli_toy"), training)
    ts = sorted(mk["t"].unique())
    fig, axes = new_figure(4.0, ncols=len(ts), nrows=2, height_ratios=[1, 2.4], sharex=True)
    for j, t in enumerate(ts):
        ax_l, ax_v = axes[0, j], axes[1, j]
        tr = training[training["at_t"].astype(float) == t]
        ax_l.plot(tr["step"], tr["loss"], color="k", lw=1)
        ax_l.set_title(f"$t = {t:g}$: trained with SF (batch 1), Adam")
        ax_l.set_ylabel("loss $E[(b-t)^2]$")
        for name, (label, color, marker) in STYLE.items():
            m = mk[(mk["t"] == t) & (mk["estimator"] == name) & ~mk["zero"]].sort_values("step")
            e = m[m["exact_variance"].notna()]
            ax_v.plot(e["step"], e["exact_variance"], color=color, lw=1)
            m = m[m["resolved"]]
            variance_bars(
                ax_v,
                m,
                "step",
                color=color,
                marker=marker,
                label=label,
                ms=3,
            )
        log_axes(ax_v)
        ax_v.set_xlabel("training step")
    axes[1, 0].set_ylabel("variance of $\\partial/\\partial\\phi$ (log scale)")
    legend_below(fig, axes[1, 0], 3)
    save(fig, "bernoulli_toy")


if __name__ == "__main__":
    main()
