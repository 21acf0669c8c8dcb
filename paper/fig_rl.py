"""Figure: policy-gradient variance against the horizon (rl_tabular) and GAE's bias-variance
trade-off (rl_gae).

Reads results/rl_tabular/{summary,exact}.csv and results/rl_gae/{summary,exact}.csv; writes
figures/rl.pdf.
"""

import numpy as np

from vartools.plots.helpers import legend_below, log_axes, variance_bars
from vartools.plots.paper import read, save_paper_figure
from vartools.plots.style import estimator_color, paper_figure

HORIZON = {
    "reinforce": ("REINFORCE", "o"),
    "rtg": ("reward-to-go", "s"),
    "rtg+const(1)": ("rtg + constant", "D"),
    "rtg+ema(t)": ("rtg + moving average", "v"),
    "rtg+V(s)": ("rtg + oracle $V(s)$", "^"),
    "rtg+b*(s)": ("rtg + oracle $b^\\star(s)$", "x"),
}
GAE = ("GAE, critic Vbar", "GAE, critic V*")
GAE_LABEL = {"GAE, critic Vbar": "critic $\\bar V$ (approx.)",
             "GAE, critic V*": "oracle critic $V^\\star$"}  # fmt: skip


def main() -> None:
    """(a) variance vs horizon at the reference policy, (b) GAE variance and (c) MSE vs lambda."""
    s = read("rl_tabular")
    ex = read("rl_tabular", "exact")
    m = s[(s["kind"] == "mean") & (s["n"] == 1) & (s["at_theta"] == "ref")]
    e = ex[ex["theta"] == "ref"].groupby("horizon").mean(numeric_only=True)
    fig, axes = paper_figure(2.75, ncols=3)
    ax_h, ax_v, ax_m = axes[0]
    for name, (label, marker) in HORIZON.items():
        color = estimator_color(name)
        col = f"var[{name}]"
        if col in e:
            ax_h.plot(e.index, e[col], color=color, lw=1)
        rows = m[m["estimator"] == name].sort_values("at_horizon")
        variance_bars(ax_h, rows, "at_horizon", color=color, marker=marker, label=label)
    log_axes(ax_h, x=True, xticks=sorted(m["at_horizon"].unique()))
    ax_h.set_xlabel("horizon $T$ (1 episode per estimate)")
    ax_h.set_ylabel("variance, mean over logits")
    ax_h.set_title("tabular MDP, reference policy")
    g = read("rl_gae", "exact")
    g = (
        g[g["family"].isin(GAE) & (g["coordinate"] == "(sum)")]
        .groupby(["family", "x"])[["variance", "mse[n=32]"]]
        .sum()
    )
    gs = read("rl_gae")
    gs = gs[(gs["kind"] == "trace")]
    for fam in GAE:
        color = estimator_color(fam)
        d = g.loc[fam]
        ax_v.plot(d.index, d["variance"], color=color, label=GAE_LABEL[fam])
        crit = "Vbar" if "Vbar" in fam else "V*"
        rows = gs[
            gs["estimator"].str.startswith("gae(") & gs["estimator"].str.endswith(f",{crit})")
        ]
        lam = rows["estimator"].str.extract(r"gae\(([\d.]+),")[0].astype(float)
        variance_bars(ax_v, rows.assign(lam=lam), "lam", color=color, marker="o", ms=2.5)
        ax_m.plot(d.index, d["mse[n=32]"], color=color)
    for ax in (ax_v, ax_m):
        log_axes(ax)
        ax.set_xlabel("$\\lambda$ ($T = 8$, $\\gamma = 1$)")
    ax_v.set_ylabel("one-episode variance (trace)")
    ax_v.set_title("GAE: variance")
    ax_m.set_ylabel("bias$^2$ + variance / 32")
    ax_m.set_title("GAE: MSE, 32 episodes")
    ax_v.legend(frameon=False, loc="upper left")
    legend_below(fig, ax_h, ncol=3, fontsize=7.5)
    assert np.isfinite(g.to_numpy()).all()
    save_paper_figure(fig, "rl")


if __name__ == "__main__":
    main()
