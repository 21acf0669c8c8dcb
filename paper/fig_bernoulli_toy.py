"""Figure: the REBAR / RELAX Bernoulli toy, loss and gradient variance along training.

Reads results/bernoulli_toy/{summary,training,seeds_summary}.csv; writes
figures/bernoulli_toy.pdf.
"""

import importlib
import sys
from pathlib import Path

from vartools.plots.helpers import legend_below, log_axes, variance_bars
from vartools.plots.paper import read, save_paper_figure
from vartools.plots.style import estimator_color, paper_figure

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's experiments/
markers = importlib.import_module("experiments.bernoulli_toy.figures").markers


STYLE = {
    "sf": ("SF, 1 sample", estimator_color("sf"), "o"),
    "sf+ema": ("SF + moving average, 1 sample", estimator_color("sf+ema"), "v"),
    "rloo": ("RLOO, $K = 2$", estimator_color("rloo"), "s"),
    "arm": ("ARM, 1 pair (2 evals)", estimator_color("arm"), "^"),
    "disarm": ("DisARM, 1 pair (2 evals)", estimator_color("disarm"), "D"),
}


def main() -> None:
    """Top: exact loss of the SF-trained run; bottom: replicate variance (exact lines)."""
    training = read("bernoulli_toy", "training")
    seeds = read("bernoulli_toy", "seeds_summary")
    mk = markers(read("bernoulli_toy"), training)
    ts = sorted(mk["t"].unique())
    fig, axes = paper_figure(4.0, ncols=len(ts), nrows=2, height_ratios=[1, 2.4], sharex=True)
    for j, t in enumerate(ts):
        ax_l, ax_v = axes[0, j], axes[1, j]
        tr = training[training["at_t"].astype(float) == t]
        ax_l.plot(tr["step"], tr["loss"], color="k", lw=1, label="measured run")
        sd = seeds[seeds["at_t"].astype(float) == t].sort_values("step")
        color = estimator_color("sf")
        ax_l.plot(sd["step"], sd["loss_mean"], color=color, lw=1, ls="--")
        ax_l.fill_between(
            sd["step"],
            sd["loss_lo"],
            sd["loss_hi"],
            color=color,
            alpha=0.25,
            lw=0,
            label=f"{int(sd['n_seeds'].max())} more seeds (95% t band)",
        )
        if j == 0:  # one legend, where the loss has dropped
            ax_l.legend(fontsize=6.5, loc="upper right", frameon=False)
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
    legend_below(fig, axes[1, 0], ncol=3, fontsize=7.5)
    save_paper_figure(fig, "bernoulli_toy")


if __name__ == "__main__":
    main()
