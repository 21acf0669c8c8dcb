"""Figure: the binary VAE on 8x8 digits: encoder-gradient variance at about 8 f evaluations
along the reference run (every estimator of the ranking), and the ELBO of separately trained
runs over seeds, against training steps, f evaluations per digit and wall time.

Reads results/vae_digits/{ranking,training_curves}.csv; writes figures/vae.pdf.
"""

import importlib
import sys
from pathlib import Path

from vartools.plots.helpers import legend_below, log_axes, variance_bars
from vartools.plots.paper import read, save_paper_figure
from vartools.plots.style import estimator_color, paper_figure

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's experiments/
STYLE = importlib.import_module("experiments.vae_digits").STYLE  # name: (label, marker, group)


def main() -> None:
    """Variance (and MSE of the biased ones) per snapshot; ELBO per step, f evals, seconds."""
    rk = read("vae_digits", "ranking")
    curves = read("vae_digits", "training_curves")
    fig, axes = paper_figure(5.6, ncols=2, nrows=2)
    ax_v, ax_s = axes[0]
    ax_f, ax_t = axes[1]
    for name, (label, marker, _group) in STYLE.items():
        color = estimator_color(name)
        rows = rk[rk["estimator"] == name].sort_values("step")
        k = int(rows["f_evals"].iloc[0])
        variance_bars(ax_v, rows.rename(columns={"step": "at_step"}), "at_step", color=color,
                      marker=marker, ls="-", lw=0.8, label=f"{label}, {k} evals")  # fmt: skip
        if rows["biased"].any():
            ax_v.plot(rows["step"], rows["mse"], color=color, ls=":", lw=1)
        c = curves[curves["estimator"] == name].groupby("step")
        mean = c[["elbo", "f_evals", "seconds"]].mean()
        lo, hi = c["elbo"].min(), c["elbo"].max()
        for ax, x in ((ax_s, mean.index), (ax_f, mean["f_evals"]), (ax_t, mean["seconds"])):
            ax.plot(x, mean["elbo"], color=color, lw=1)
            ax.fill_between(x, lo, hi, color=color, alpha=0.15, lw=0)
    log_axes(ax_v)
    ax_v.set_xlabel("training step of the reference run (SF + RLOO)")
    ax_v.set_ylabel("variance, mean over weights")
    ax_v.set_title("encoder gradient (dotted: MSE of the biased ones)", fontsize=8)
    seeds = curves["seed"].nunique()
    for ax, xl in ((ax_s, "training step"), (ax_f, "f evaluations, cumulative (log)"),
                   (ax_t, "wall time per run (s)")):  # fmt: skip
        ax.set_ylim(bottom=-30)
        ax.set_xlabel(xl)
        ax.set_ylabel("ELBO per digit (nats)")
    ax_f.set_xscale("log")
    ax_s.set_title(f"training, each estimator its own runs ({seeds} seeds)", fontsize=8)
    ax_f.set_title("the same runs per f evaluation", fontsize=8)
    ax_t.set_title("the same runs per second", fontsize=8)
    legend_below(fig, ax_v, ncol=3, fontsize=7)
    save_paper_figure(fig, "vae")


if __name__ == "__main__":
    main()
