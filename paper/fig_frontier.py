"""Figure: REBAR / RELAX toy with every estimator trained separately, and ARM's p0 grid.

Reads results/rebar_relax_toy/{runs,summary}.csv and results/arm_toy/p0_grid.csv; writes
figures/frontier.pdf. Colours: the results figures' (``estimator_colors`` of the same names).
"""

import numpy as np
from scipy import special

from vartools.plots.helpers import legend_below, log_axes
from vartools.plots.paper import read, save_paper_figure
from vartools.plots.style import estimator_colors, paper_figure

TRAINERS = ("reinforce", "rloo", "arm", "disarm", "rebar", "relax")
LABELS = {"reinforce": "REINFORCE", "rloo": "RLOO, $K = 2$", "arm": "ARM", "disarm": "DisARM",
          "rebar": "REBAR (tuned)", "relax": "RELAX (MLP surrogate)"}  # fmt: skip
MARKERS = dict(zip(TRAINERS, "os^Dv*", strict=True))


def main() -> None:
    """(a) loss at t = 0.499, (b) variance along each run, (c) sigma(phi) on the p0 grid."""
    runs = read("rebar_relax_toy", "runs")
    summary = read("rebar_relax_toy")
    evals = summary[summary["n"] == 1].groupby("estimator")["n_evals"].first().to_dict()
    evals["rloo"] = 2
    colors = estimator_colors(TRAINERS)
    fig, axes = paper_figure(2.9, ncols=3)
    ax_l, ax_v, ax_g = axes[0]
    r = runs[np.isclose(runs["at_t"].astype(float), 0.499)]
    for name in TRAINERS:
        g = r[r["trainer"] == name].groupby("step")
        label = f"{LABELS[name]} ({int(evals[name])} eval{'s' if evals[name] > 1 else ''})"
        loss = g["loss"]
        ax_l.plot(loss.mean().index, loss.mean(), color=colors[name], label=label)
        ax_l.ticklabel_format(axis="y", useOffset=False)
        ax_l.fill_between(loss.min().index, loss.min(), loss.max(), color=colors[name],
                          alpha=0.15, lw=0)  # fmt: skip
        var = g["variance"].mean()
        var = var[var > 1e-20]  # DisARM is exact at theta = 1/2
        ax_v.plot(var.index, var, color=colors[name], marker=MARKERS[name], ms=2, lw=0.8)
    ax_l.axhline(0.499**2, color="0.4", ls=":", lw=1)
    ax_l.set_title("REBAR/RELAX toy, $t = 0.499$")
    ax_l.set_xlabel("training step")
    ax_l.set_ylabel("exact loss (band: min-max over runs)")
    ax_v.set_title("variance along its own runs")
    ax_v.set_xlabel("training step")
    ax_v.set_ylabel("variance of $\\partial/\\partial\\phi$")
    log_axes(ax_v)
    grid = read("arm_toy", "p0_grid")
    grid = grid.assign(theta=special.expit(grid["theta[0]"]))
    for p0, ls in ((0.499, "-"), (0.501, "--")):
        gp = grid[np.isclose(grid["at_p0"], p0)]
        for name in TRAINERS:
            th = gp[gp["trainer"] == name].groupby("step")["theta"].mean()
            ax_g.plot(th.index, th, color=colors[name], ls=ls, lw=1)
    ax_g.set_title("ARM toy: $p_0 = 0.499$ (solid),\n$p_0 = 0.501$ (dashed)")
    ax_g.set_xlabel("iteration (maximising)")
    ax_g.set_ylabel("$\\sigma(\\phi)$, mean over runs")
    legend_below(fig, ax_l, ncol=3, fontsize=7.5)
    save_paper_figure(fig, "frontier")


if __name__ == "__main__":
    main()
