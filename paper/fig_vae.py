"""Figure: the binary VAE on 8x8 digits: encoder-gradient variance at about 8 f evaluations
along the reference run, and the ELBO of separately trained runs over seeds.

Reads results/vae_digits/{summary,training_curves}.csv; writes figures/vae.pdf.
"""

from vartools.plots.helpers import legend_below, log_axes, variance_bars
from vartools.plots.paper import read, save_paper_figure
from vartools.plots.style import estimator_color, paper_figure

BUDGET = 8
STYLE = {
    "sf": ("SF", "o"),
    "sf+rloo": ("SF + RLOO", "s"),
    "arm": ("ARM", "^"),
    "disarm": ("DisARM", "D"),
    "local_expectation": ("local expectation", "*"),
    "gumbel_softmax": ("Gumbel-softmax (biased)", "v"),
    "straight_through": ("straight-through (biased)", "x"),
}


def main() -> None:
    """Left: variance (and MSE of the biased ones) per step; right: ELBO mean and range."""
    s = read("vae_digits")
    m = s[s["kind"] == "mean"]
    curves = read("vae_digits", "training_curves")
    fig, axes = paper_figure(3.1, ncols=2)
    ax_v, ax_e = axes[0]
    for name, (label, marker) in STYLE.items():
        color = estimator_color(name)
        rows = m[m["estimator"] == name]
        n = rows.iloc[(rows["n_evals"] - BUDGET).abs().argsort().iloc[0]]["n"]
        rows = rows[rows["n"] == n].sort_values("at_step")
        k = int(rows["n_evals"].iloc[0])
        variance_bars(ax_v, rows, "at_step", color=color, marker=marker, ls="-", lw=0.8,
                      label=f"{label}, {k} evals")  # fmt: skip
        if rows["biased"].any():
            ax_v.plot(rows["at_step"], rows["mse"], color=color, ls=":", lw=1)
        c = curves[curves["estimator"] == name].groupby("step")["elbo"]
        ax_e.plot(c.mean().index, c.mean(), color=color)
        ax_e.fill_between(c.min().index, c.min(), c.max(), color=color, alpha=0.2, lw=0)
    log_axes(ax_v)
    ax_v.set_xlabel("training step of the reference run (SF + RLOO)")
    ax_v.set_ylabel("variance, mean over weights")
    ax_v.set_title("encoder gradient (dotted: MSE of the biased ones)")
    ax_e.set_ylim(bottom=-30)
    ax_e.set_xlabel("training step (each estimator its own runs)")
    ax_e.set_ylabel("ELBO per digit (nats)")
    ax_e.set_title(f"training: mean and range over {curves['seed'].nunique()} seeds")
    legend_below(fig, ax_v, ncol=3, fontsize=7.5)
    save_paper_figure(fig, "vae")


if __name__ == "__main__":
    main()
