"""Reinforcement learning with time: the reference tabular MDP, exact against measured.

Setting (``vartools.catalogue.rl``; REFERENCES.md, "Reinforcement learning with time"):
3 states, 2 actions, start in state 0, undiscounted return over a horizon of T steps,
tabular softmax policy with logits theta[s, a], at theta = 0 and at
theta = [[0.5, -0.5], [-1, 1], [2, 0]]. The exact gradient comes from the policy-gradient
theorem (forward recursion over t; the tests check it against enumeration and against a
finite difference of the exact J). Estimators of the gradient from one episode (n = 1) and
two episodes (n = 2, where the leave-one-out baseline applies):

- ``reinforce``: G_0 sum_t g_t; ``rtg``: reward-to-go sum_t G_t g_t;
- reward-to-go minus a baseline: a constant 1, a per-time moving average of G_t over
  earlier batches (decay 0.9, warmed up 50 batches), leave-one-out across the two
  episodes, the exact V_t(s_t), and the optimal state baseline b*_i(t, s) (Greensmith et
  al. 2004).

Exact one-episode variances come from the dynamic-programming recursions over (t, s) of
``vartools.catalogue.rl.moments`` (equal to enumeration of the trajectories, tested), so
the horizon sweep T in {2, 4, 8, 16} is exact up to T = 16 (6^16 trajectories cannot be
enumerated); the moving-average and leave-one-out variances are exact by enumeration where
it fits (T <= 8 for n = 1, T <= 4 for the two-episode joint) and measured only beyond.
Measured: replicate variance with fourth-moment 95% CIs (common random numbers).
``exact.csv`` holds the exact gradient and variances per point; ``table.csv`` the issue's
results table (theta, coordinate, exact gradient, exact and measured one-episode variance
of the total-return, reward-to-go and reward-to-go minus V_t estimators).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vartools.catalogue.rl.named import rl_estimator
from vartools.catalogue.rl.problems import mdp_expected_return, mdp_gradient, mdp_problem
from vartools.harness.experiment import Experiment, Scale
from vartools.harness.plot_spec import Plot
from vartools.oracles.exact import exact_moments

__all__ = ["EXPERIMENT", "figures", "tables"]

THETAS = ("zero", "ref")
HORIZONS = (2, 4, 8, 16)
NAMES = ["reinforce", "rtg", "rtg+const(1)", "rtg+ema(t)", "rtg+loo(t)", "rtg+V(s)", "rtg+b*(s)"]
#: estimators with a dynamic-programming oracle (exact at every horizon)
DP_NAMES = ["reinforce", "rtg", "rtg+const(1)", "rtg+V(s)", "rtg+b*(s)"]

EXPERIMENT = Experiment(
    name="rl_tabular",
    description=(
        "Tabular MDP (3 states, 2 actions, horizon T in {2, 4, 8, 16}, theta = 0 and a "
        "reference theta): exact policy gradient, exact and measured one-episode variance "
        "of REINFORCE, reward-to-go and reward-to-go with constant, moving-average, "
        "leave-one-out, state-value and optimal state baselines"
    ),
    problem="rl_mdp",
    points=[{"theta": th, "horizon": t} for th in THETAS for t in HORIZONS],
    estimators=NAMES,
    n_samples=[1, 2],
    n_reps=20_000,
    seed=16,
    quick=Scale(n_reps=1000, points=[{"theta": th, "horizon": 4} for th in THETAS]),
    plot=Plot(x="horizon", log_x=True),
)


def tables(exp: Experiment, summary: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """``exact.csv`` (exact gradient, J and DP variances per point) and ``table.csv``."""
    rows = []
    for point in exp.points:
        prob = mdp_problem(**point)
        grad = mdp_gradient(prob).ravel()
        var = {name: exact_moments(prob, rl_estimator(name), 1)[1] for name in DP_NAMES}
        for j, coord in enumerate(prob.dist.param_names):
            rows.append(
                {
                    "theta": point["theta"],
                    "horizon": point["horizon"],
                    "coordinate": coord,
                    "J": mdp_expected_return(prob),
                    "gradient": grad[j],
                    **{f"var[{name}]": var[name][j] for name in DP_NAMES},
                }
            )
    exact = pd.DataFrame(rows)
    out = {"exact": exact}
    if summary is not None:
        out["table"] = _results_table(summary, exact)
    return out


def _results_table(summary: pd.DataFrame, exact: pd.DataFrame) -> pd.DataFrame:
    """One row per (theta, T = 4, coordinate): exact gradient, exact and measured variances."""
    s = summary[(summary["kind"] == "coordinate") & (summary["n"] == 1)]
    s = s[s["at_horizon"] == 4]
    out = exact[exact["horizon"] == 4][["theta", "coordinate", "gradient"]].copy()
    for name in ("reinforce", "rtg", "rtg+V(s)"):
        part = s[s["estimator"] == name].set_index(["at_theta", "coordinate"])
        key = list(zip(out["theta"], out["coordinate"], strict=True))
        out[f"exact[{name}]"] = exact[exact["horizon"] == 4][f"var[{name}]"].to_numpy()
        for col in ("variance", "variance_lo", "variance_hi"):
            out[f"{col}[{name}]"] = part.loc[key, col].to_numpy()
        z = (part.loc[key, "variance"] - part.loc[key, "exact_variance"]) / part.loc[
            key, "variance_se"
        ]
        out[f"z[{name}]"] = z.to_numpy()
    return out


# ------------------------------------------------------------------------------ figures

MARKS = dict(zip(NAMES, "osDv^Px", strict=True))


def _horizon_figure(summary: pd.DataFrame, exact: pd.DataFrame | None) -> Any:
    from matplotlib.figure import Figure

    from vartools.plots.helpers import errorbar_ci, run_size
    from vartools.plots.style import estimator_color

    fig = Figure(figsize=(10, 7.5), layout="constrained")
    axes = fig.subplots(2, 2, sharex=True)
    mean = summary[summary["kind"] == "mean"]
    for col, th in enumerate(THETAS):
        for row, n in enumerate((1, 2)):
            ax = axes[row, col]
            part = mean[(mean["at_theta"] == th) & (mean["n"] == n)]
            for name in NAMES:
                m = part[part["estimator"] == name].sort_values("at_horizon")
                if m.empty:
                    continue
                if exact is not None and name in DP_NAMES:
                    e = exact[exact["theta"] == th].groupby("horizon")[f"var[{name}]"].mean()
                    ax.plot(e.index, e.to_numpy() / n, "-", color=estimator_color(name), lw=1.1)
                else:
                    ok = m[m["exact_variance"].notna()]
                    ax.plot(
                        ok["at_horizon"],
                        ok["exact_variance"],
                        ":",
                        color=estimator_color(name),
                        lw=1.1,
                    )
                errorbar_ci(
                    ax,
                    m,
                    "at_horizon",
                    fmt=MARKS[name],
                    mfc="none",
                    color=estimator_color(name),
                    label=name,
                )
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xticks(HORIZONS, [str(t) for t in HORIZONS])
            ax.grid(alpha=0.3, which="both")
            ax.set_title(f"theta = {th}, n = {n} episode{'s' if n > 1 else ''}", fontsize=10)
            if row == 1:
                ax.set_xlabel("horizon T")
            if col == 0:
                ax.set_ylabel("variance, mean over the 6 logits")
    axes[1, 1].legend(fontsize=8, frameon=False, ncol=2)
    n_reps, scale = run_size(summary)
    fig.suptitle(
        "Tabular MDP: policy-gradient variance against the horizon\nlines: exact (dynamic "
        "programming; dotted: enumeration where it fits); markers: "
        f"{n_reps} replicates, 95% CI ({scale} scale)",
        fontsize=10,
    )
    return fig


def _exact_vs_measured(summary: pd.DataFrame) -> Any:
    from matplotlib.figure import Figure

    from vartools.plots.style import estimator_color

    s = summary[(summary["kind"] == "coordinate") & summary["exact_variance"].notna()]
    fig = Figure(figsize=(6, 5.5), layout="constrained")
    ax = fig.subplots()
    for name in NAMES:
        m = s[s["estimator"] == name]
        if m.empty:
            continue
        err = np.vstack([m["variance"] - m["variance_lo"], m["variance_hi"] - m["variance"]])
        ax.errorbar(
            m["exact_variance"],
            m["variance"],
            yerr=err,
            fmt=MARKS[name],
            ms=4,
            mfc="none",
            color=estimator_color(name),
            label=name,
            lw=0.8,
        )
    lo, hi = s["exact_variance"].min(), s["exact_variance"].max()
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("exact variance")
    ax.set_ylabel("measured variance (95% CI)")
    z = (s["variance"] - s["exact_variance"]) / s["variance_se"]
    ax.set_title(
        f"every (theta, T, n, estimator, coordinate): {len(s)} comparisons, max |z| = "
        f"{np.abs(z).max():.2f}",
        fontsize=9,
    )
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3, which="both")
    return fig


def figures(summary: pd.DataFrame, extra: Mapping[str, Any], out_dir: str | Path) -> list[Path]:
    """Variance against the horizon, and measured against exact variances."""
    from vartools.plots.style import save_figure

    out = Path(out_dir)
    files = save_figure(_horizon_figure(summary, extra.get("exact")), out / "horizon")
    files += save_figure(_exact_vs_measured(summary), out / "exact_vs_measured")
    return files
