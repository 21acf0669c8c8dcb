"""GAE(lambda) and discounting on the reference tabular MDP: bias, variance and MSE, exactly.

Setting: the reference MDP of ``rl_tabular`` (3 states, 2 actions, undiscounted return) at
horizon T = 8 and the reference theta = [[0.5, -0.5], [-1, 1], [2, 0]]. The target is the
exact undiscounted policy gradient. Compared one-episode estimators:

- GAE(lambda) advantages (Schulman et al. 2016), lambda in {0, 0.25, 0.5, 0.75, 0.9,
  0.95, 1}, with the approximate critic Vbar(s), the best time-independent tabular critic
  (the visitation-weighted average of V_t(s) over t: what a critic without a time input
  fits), which is biased for lambda < 1; and with the exact critic V_t(s), unbiased for
  every lambda;
- the discounted reward-to-go sum_t G_t^gamma g_t, gamma in {0.5, 0.8, 0.9, 0.95, 0.99,
  1}, biased against the undiscounted objective for gamma < 1.

Exact mean and variance of every estimator by the dynamic-programming recursions of
``vartools.catalogue.rl.moments`` (equal to enumeration, tested), hence the exact squared
bias, variance and MSE = bias^2 + variance / n (``exact.csv``, per coordinate and summed
over the 6 coordinates), for n = 1 and n = 32 episodes; measured means (bias with its
standard error) and replicate variances with 95% CIs in ``summary.csv``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vartools.catalogue.rl.estimators import exact_critic, gae, reward_to_go, time_agnostic_critic
from vartools.catalogue.rl.problems import mdp_gradient, mdp_problem
from vartools.estimators.composed import Estimator, make_estimator
from vartools.harness.experiment import Experiment, Scale
from vartools.harness.plot_spec import Plot
from vartools.oracles.exact import exact_moments

__all__ = ["EXPERIMENT", "LAMBDAS", "GAMMAS", "build_estimators", "figures", "tables"]

LAMBDAS = (0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 1.0)
GAMMAS = (0.5, 0.8, 0.9, 0.95, 0.99, 1.0)
MSE_N = (1, 32)


def build_estimators() -> list[Estimator]:
    """GAE with the approximate and the exact critic, and discounted reward-to-go."""
    out = []
    for lam in LAMBDAS:
        out.append(make_estimator(gae(lam, time_agnostic_critic()), name=f"gae({lam:g},Vbar)"))
        out.append(make_estimator(gae(lam, exact_critic()), name=f"gae({lam:g},V*)"))
    for gamma in GAMMAS:
        out.append(make_estimator(reward_to_go(gamma), name=f"rtg(gamma={gamma:g})"))
    return out


def _family(name: str) -> tuple[str, float]:
    if name.startswith("gae("):
        lam, critic = name[4:-1].split(",")
        return f"GAE, critic {critic}", float(lam)
    return "discounted reward-to-go", float(name.split("=")[1].rstrip(")"))


EXPERIMENT = Experiment(
    name="rl_gae",
    description=(
        "GAE(lambda) with an approximate (time-agnostic) and the exact critic, and discounted "
        "reward-to-go, on the tabular MDP (T = 8, reference theta): exact and measured bias, "
        "variance and MSE against the exact undiscounted policy gradient"
    ),
    problem="rl_mdp",
    points=[{"theta": "ref", "horizon": 8}],
    estimators=build_estimators(),
    n_samples=[1],
    n_reps=20_000,
    seed=2016,
    quick=Scale(n_reps=1000),
    plot=Plot(x="n"),
)


def tables(exp: Experiment, summary: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """``exact.csv``: exact bias, variance and MSE per estimator and coordinate (and summed)."""
    rows = []
    for point in exp.points:
        prob = mdp_problem(**point)
        truth = mdp_gradient(prob).ravel()
        for est in build_estimators():
            mean, var = exact_moments(prob, est, 1)
            family, x = _family(est.name)
            coords = list(prob.dist.param_names) + ["(sum)"]
            bias = np.append(mean - truth, np.nan)
            b2 = np.append((mean - truth) ** 2, ((mean - truth) ** 2).sum())
            v = np.append(var, var.sum())
            for j, coord in enumerate(coords):
                row = {
                    "theta": point["theta"],
                    "horizon": point["horizon"],
                    "estimator": est.name,
                    "family": family,
                    "x": x,
                    "coordinate": coord,
                    "truth": truth[j] if j < truth.size else np.nan,
                    "bias": bias[j],
                    "bias2": b2[j],
                    "variance": v[j],
                }
                for n in MSE_N:
                    row[f"mse[n={n}]"] = b2[j] + v[j] / n
                rows.append(row)
    return {"exact": pd.DataFrame(rows)}


# ------------------------------------------------------------------------------ figures

FAMILIES = ("GAE, critic Vbar", "GAE, critic V*", "discounted reward-to-go")


def _measured_sum(summary: pd.DataFrame) -> pd.DataFrame:
    """Per estimator: measured variance summed over coordinates (trace) with its CI."""
    tr = summary[summary["kind"] == "trace"].copy()
    fam = tr["estimator"].map(_family)
    tr["family"] = [f for f, _ in fam]
    tr["x"] = [x for _, x in fam]
    return tr


def figures(summary: pd.DataFrame, extra: Mapping[str, Any], out_dir: str | Path) -> list[Path]:
    """Squared bias, variance and MSE against lambda (GAE) and gamma (discounting)."""
    from matplotlib.figure import Figure

    from vartools.plots.helpers import errorbar_ci, run_size
    from vartools.plots.style import estimator_color, save_figure

    exact = extra.get("exact")
    measured = _measured_sum(summary)
    fig = Figure(figsize=(11, 7), layout="constrained")
    axes = fig.subplots(2, 3)
    panels = [
        ("GAE, critic Vbar", "GAE, critic V*"),
        ("discounted reward-to-go",),
    ]
    for row, families in enumerate(panels):
        for col, (what, label) in enumerate(
            [
                ("bias2", "squared bias (sum over coordinates)"),
                ("variance", "one-episode variance (trace)"),
                ("mse", "MSE = bias^2 + variance / n"),
            ]
        ):
            ax = axes[row, col]
            for fam in families:
                color = estimator_color(fam)
                if exact is not None:
                    e = exact[(exact["family"] == fam) & (exact["coordinate"] == "(sum)")]
                    e = e.sort_values("x")
                    if what == "mse":
                        for n, ls in zip(MSE_N, ("-", "--"), strict=True):
                            ax.plot(
                                e["x"], e[f"mse[n={n}]"], ls, color=color, label=f"{fam}, n={n}"
                            )
                    else:
                        ax.plot(e["x"], e[what], "-", color=color, label=fam)
                if what == "variance":
                    m = measured[measured["family"] == fam].sort_values("x")
                    errorbar_ci(ax, m, "x", fmt="o", mfc="none", color=color, ms=4)
            ax.set_yscale("log") if what != "bias2" else ax.set_yscale("symlog", linthresh=1e-4)
            ax.set_xlabel("lambda" if row == 0 else "gamma")
            ax.set_title(label, fontsize=9)
            ax.grid(alpha=0.3, which="both")
            if col == 2:
                ax.legend(fontsize=7, frameon=False)
    n_reps, scale = run_size(summary)
    fig.suptitle(
        "Tabular MDP (T = 8, reference theta): bias against the exact undiscounted gradient\n"
        f"lines: exact (dynamic programming); markers: {n_reps} replicates, 95% CI ({scale} "
        "scale)",
        fontsize=10,
    )
    return save_figure(fig, Path(out_dir) / "gae_discount")
