"""The Bernoulli toy of REBAR (Tucker et al. 2017, t = 0.45) and RELAX (Grathwohl et al. 2018).

Minimise E_{b ~ Bernoulli(sigmoid(phi))}[(b - t)^2] over the logit phi, from phi = 0, one
sample per step, Adam with learning rate 0.01 (REFERENCES.md, E5). The exact gradient is
sigmoid(phi) (1 - sigmoid(phi)) (1 - 2 t).

Compared estimators (f evaluations per estimate in brackets):
score function (1), + EMA baseline (decay 0.9; 1), + optimal baseline b* = E[f s^2] / E[s^2]
computed exactly at the current logit (an oracle coefficient; 1), RLOO with K = 2 (2), ARM
(Yin & Zhou 2019; 2), DisARM (Dong et al. 2020; 2) and the exact gradient, which is the
Rao-Blackwellization (local expectation) of a single Bernoulli: w (f(1) - f(0)) (2; variance 0).

One trajectory per t, trained with SF (REINFORCE, batch 1: the paper's baseline; RELAX
trains every estimator separately, the harness trains once and measures every estimator
at the same parameters, on common random numbers). At checkpoints: the loss E[f] (exact),
and for every estimator the replicate variance at the current logit (and warmed-up state,
for the EMA baseline) with a 95% CI, and its exact variance. The second figure plots the
same markers against theta = sigmoid(logit), over exact curves on a grid of logits
(``exact_table``; ARM and DisARM by the closed forms below). RELAX's toy script stores a
standard deviation under the name "variance"; we report a real variance.

Exact oracles for one Bernoulli (this module): the score-function family via
vartools.oracles.exact (enumeration) and ARM / DisARM by integrating the uniform u piecewise (the
estimators are piecewise constant, or piecewise linear, in u).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from vartools.catalogue.bandit import oracle_optimal_baseline
from vartools.catalogue.settings import make_problem
from vartools.control_variates.baselines import ema_baseline, loo_baseline
from vartools.core.optim import adam
from vartools.core.problem import Problem
from vartools.estimators.arm import arm, disarm
from vartools.estimators.base import score_function
from vartools.estimators.composed import Estimator, make_estimator
from vartools.estimators.rao_blackwell import local_expectation
from vartools.harness.experiment import Experiment, Scale, Trajectory
from vartools.oracles.exact import (
    baseline_variance,
    optimal_baseline_variance,
    rloo_variance,
    sf_moments,
)


def _pieces(phi: float) -> list[tuple[float, float, int, int]]:
    """Intervals of u in [0, 1] with constant (b1, b2) for the antithetic pair.

    b1 = 1[u > 1 - sigmoid(phi)], b2 = 1[u < sigmoid(phi)] (Yin & Zhou 2019).
    """
    theta = float(special.expit(phi))
    cuts = sorted({0.0, theta, 1.0 - theta, 1.0})
    out = []
    for a, c in zip(cuts[:-1], cuts[1:], strict=True):
        mid = 0.5 * (a + c)
        out.append((a, c, int(mid > 1.0 - theta), int(mid < theta)))
    return out


def arm_moments(phi: float, f0: float, f1: float) -> tuple[float, float]:
    """Exact mean and variance of the single-pair ARM estimate for one Bernoulli.

    g(u) = (f(b1) - f(b2)) (u - 1/2), u ~ U(0, 1) (Yin & Zhou 2019, eq. 5); the integrals
    of (u - 1/2) and (u - 1/2)^2 are taken in closed form on each piece.
    """
    fv = (f0, f1)
    m1 = m2 = 0.0
    for a, c, b1, b2 in _pieces(phi):
        delta = fv[b1] - fv[b2]
        m1 += delta * (((c - 0.5) ** 2 - (a - 0.5) ** 2) / 2.0)
        m2 += delta**2 * (((c - 0.5) ** 3 - (a - 0.5) ** 3) / 3.0)
    return m1, m2 - m1 * m1


def disarm_moments(phi: float, f0: float, f1: float) -> tuple[float, float]:
    """Exact mean and variance of the single-pair DisARM estimate for one Bernoulli.

    g(u) = (1/2) (f(b1) - f(b2)) 1[b1 != b2] (-1)^b2 sigmoid(|phi|) (Dong et al. 2020,
    eq. 7): piecewise constant in u.
    """
    fv = (f0, f1)
    w = float(special.expit(abs(phi)))
    m1 = m2 = 0.0
    for a, c, b1, b2 in _pieces(phi):
        g = 0.5 * (fv[b1] - fv[b2]) * float(b1 != b2) * (-1.0) ** b2 * w
        m1 += (c - a) * g
        m2 += (c - a) * g * g
    return m1, m2 - m1 * m1


T_VALUES = (0.45, 0.499)


def problem(t: float) -> Problem:
    """One Bernoulli at logit 0 with f = (b - t)^2."""
    return make_problem("rebar_toy", t=float(t))


def estimators() -> list[Estimator]:
    """The compared estimators (n = samples, or antithetic pairs for ARM / DisARM)."""
    sf = score_function
    return [
        make_estimator(sf, name="sf"),
        make_estimator(sf, ema_baseline(0.9), name="sf+ema"),
        make_estimator(sf, oracle_optimal_baseline(), name="sf+opt*"),
        make_estimator(sf, loo_baseline(), name="rloo"),
        make_estimator(arm, name="arm"),
        make_estimator(disarm, name="disarm"),
        make_estimator(local_expectation, name="exact (RB)"),
    ]


EXPERIMENT = Experiment(
    name="bernoulli_toy",
    description=(
        "REBAR / RELAX Bernoulli toy (Tucker et al. 2017, t = 0.45; Grathwohl et al. 2018, "
        "t = 0.499): minimise E[(b - t)^2] over the logit from 0 with Adam (lr 0.01), trained "
        "with SF (REINFORCE, batch 1); at checkpoints, the replicate variance (95% CI) and exact "
        "variance of SF, SF + EMA baseline, SF + optimal baseline, RLOO (K = 2), ARM, DisARM "
        "and the Rao-Blackwellised exact gradient."
    ),
    problem=problem,
    points=[{"t": t} for t in T_VALUES],
    estimators=estimators(),
    n_samples=[1, 2],
    n_reps=1000,
    seed=61,
    trajectory=Trajectory(
        estimator=make_estimator(score_function, name="sf"),
        n=1,
        optimizer=adam(0.01),
        steps=10_000,
        every=250,
    ),
    quick=Scale(n_reps=400, steps=2000, every=500),
)


#: Estimator label, samples (or pairs) n, and the figure's style.
CURVES = (
    ("sf", 1),
    ("sf+ema", 1),
    ("sf+opt*", 1),
    ("rloo", 2),
    ("arm", 1),
    ("disarm", 1),
    ("exact (RB)", 1),
)


def exact_variances(phi: float, t: float) -> dict[str, float]:
    """Exact variance of every compared estimator at logit ``phi`` (n of ``CURVES``).

    The EMA baseline is taken at its limit b = E[f] (the EMA of f at frozen parameters);
    the Monte Carlo markers use the warmed-up EMA state, whose exact variance is in the
    summary table's ``exact_variance`` column.
    """
    prob = problem(t).with_params(np.array([phi]))
    m = sf_moments(prob)
    f0, f1 = t * t, (1 - t) ** 2
    return {
        "sf": float(m.m2[0] - m.g[0] ** 2),
        "sf+ema": float(baseline_variance(m, m.ef)[0]),
        "sf+opt*": float(max(optimal_baseline_variance(m)[0], 0.0)),
        "rloo": float(rloo_variance(m, 2)[0]),
        "arm": arm_moments(phi, f0, f1)[1],
        "disarm": max(disarm_moments(phi, f0, f1)[1], 0.0),
        "exact (RB)": 0.0,
    }


def exact_table(scale: str = "full") -> pd.DataFrame:
    """Exact variance of every estimator on a grid of logits (the same at every scale)."""
    del scale
    rows = []
    for t in T_VALUES:
        for phi in np.linspace(-9.0, 3.0, 241):
            theta = float(special.expit(phi))
            for name, v in exact_variances(float(phi), t).items():
                rows.append(
                    {
                        "t": t,
                        "logit": float(phi),
                        "theta": theta,
                        "estimator": name,
                        "exact_variance": v,
                    }
                )
    return pd.DataFrame(rows)


STYLE = {
    "sf": ("SF (1 sample)", "o"),
    "sf+ema": ("SF + EMA baseline (1)", "v"),
    "sf+opt*": ("SF + optimal baseline (1)", "P"),
    "rloo": ("RLOO (K = 2)", "s"),
    "arm": ("ARM (1 pair = 2 evals)", "^"),
    "disarm": ("DisARM (1 pair = 2 evals)", "D"),
    "exact (RB)": ("exact gradient (RB, 2 evals)", "*"),
}

#: Values below this fraction of SF's variance at the same point are zero up to rounding.
ZERO = 1e-12
#: Markers need at least this many expected rare outcomes among the replicates.
MIN_RARE = 10.0


def markers(summary: pd.DataFrame, training: pd.DataFrame) -> pd.DataFrame:
    """Monte Carlo markers: the estimators at their n, with theta, zero and resolvability flags.

    A replicate variance cannot resolve an estimator whose randomness comes from an outcome
    that none of the replicates draws: markers are kept where n_reps * n * min(theta,
    1 - theta) >= MIN_RARE. Estimates with variance below ZERO x SF's exact variance are
    zero up to rounding (SF + optimal baseline and the exact gradient, for one Bernoulli).
    """
    s = summary[summary["kind"] == "coordinate"].copy()
    s = s[s["n"] == s["estimator"].map(dict(CURVES))]
    s["t"] = s["at_t"].astype(float)
    tr = training.assign(t=training["at_t"].astype(float))
    s = s.merge(tr[["t", "step", "theta.logits[0]"]], on=["t", "step"], how="left")
    s["theta"] = special.expit(s["theta.logits[0]"])
    sf = s[s["estimator"] == "sf"].set_index(["t", "step"])["exact_variance"]
    ref = pd.Series(list(zip(s["t"], s["step"], strict=True))).map(sf).to_numpy()
    s["zero"] = (s["exact_variance"].fillna(np.inf).to_numpy() <= ZERO * ref) | (
        s["variance"].to_numpy() <= ZERO * ref
    )
    s["resolved"] = s["n_reps"] * s["n"] * np.minimum(s["theta"], 1 - s["theta"]) >= MIN_RARE
    return s


def _figures(
    summary: pd.DataFrame, exact: pd.DataFrame, out_dir: Any, training: Any = None
) -> list[Any]:
    """Loss and log-variance against steps (RELAX Fig. 1), and variance against theta."""
    from pathlib import Path

    from matplotlib.figure import Figure

    from experiments._common import run_size
    from vartools.plots.figures import axes_note, errorbar_ci, legend_below, palette, save_figure

    if training is None:
        raise ValueError("the bernoulli_toy figures need the training table (training.csv)")
    colors = palette(STYLE)
    mk = markers(summary, training)
    n_reps, scale = run_size(summary)
    note = (
        "lines: exact; markers: replicate variance with 95% CI\n"
        "SF + optimal baseline and the exact gradient have variance 0 (one Bernoulli)"
    )
    files = []
    fig = Figure(figsize=(11, 7.5), layout="constrained")
    axes = fig.subplots(2, len(T_VALUES), sharex="col", height_ratios=[1, 2.2])
    for j, t in enumerate(T_VALUES):
        ax_l, ax_v = axes[0, j], axes[1, j]
        tr = training[np.isclose(training["at_t"].astype(float), t)]
        ax_l.plot(tr["step"], tr["loss"], "o-", color="k", ms=3, lw=1)
        ax_l.axhline(min(t * t, (1 - t) ** 2), color="0.5", ls=":", lw=1)
        ax_l.set_ylabel("loss E[(b - t)^2] (exact)")
        ax_l.set_title(f"t = {t:g}: trained with SF (1 sample), Adam lr 0.01")
        for name, (label, marker) in STYLE.items():
            m = mk[(mk["estimator"] == name) & (mk["t"] == t)].sort_values("step")
            e = m[~m["zero"] & m["exact_variance"].notna()]
            if len(e):
                ax_v.plot(e["step"], e["exact_variance"], "-", color=colors[name], lw=1.2)
            m = m[~m["zero"] & m["resolved"]]
            if len(m):
                style = {"fmt": marker, "color": colors[name], "mfc": "none", "label": label}
                errorbar_ci(ax_v, m, "step", **style)
        ax_v.set_yscale("log")
        ax_v.set_xlabel("training step")
        ax_v.set_ylabel("variance of d/d logit estimate")
        ax_v.grid(alpha=0.3)
        axes_note(ax_v, note + "\nARM / DisARM exact curves: see variance_vs_theta", fontsize=7.5)
    legend_below(fig, axes[1, 0], ncol=4)
    fig.suptitle(f"REBAR/RELAX Bernoulli toy: {n_reps} replicates per checkpoint ({scale} scale)")
    files += save_figure(fig, Path(out_dir) / "training")
    fig = Figure(figsize=(11, 4.8), layout="constrained")
    axes = fig.subplots(1, len(T_VALUES))
    for ax, t in zip(axes, T_VALUES, strict=True):
        ex = exact[np.isclose(exact["t"], t)]
        sf = ex[ex["estimator"] == "sf"].set_index("logit")["exact_variance"]
        for name, (label, marker) in STYLE.items():
            e = ex[ex["estimator"] == name]
            e = e[e["exact_variance"].to_numpy() > ZERO * sf.loc[e["logit"]].to_numpy()]
            if len(e):
                ax.plot(e["theta"], e["exact_variance"], "-", color=colors[name], lw=1.2)
            m = mk[(mk["estimator"] == name) & (mk["t"] == t) & ~mk["zero"] & mk["resolved"]]
            if len(m):
                errorbar_ci(ax, m, "theta", fmt=marker, color=colors[name], mfc="none", label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("theta = sigmoid(logit)")
        ax.set_ylabel("variance of d/d logit estimate")
        ax.set_title(f"t = {t:g}: markers at the training checkpoints")
        ax.grid(alpha=0.3)
        axes_note(ax, note, fontsize=7.5)
    legend_below(fig, axes[0], ncol=4)
    fig.suptitle(f"Bernoulli toy: variance against theta ({n_reps} replicates, {scale} scale)")
    files += save_figure(fig, Path(out_dir) / "variance_vs_theta")
    return files


def figures(summary: pd.DataFrame, extra: Any, out_dir: Any) -> list[Any]:
    """Harness hook (``vartools plot``): the figures from summary.csv and the extra tables."""
    return _figures(summary, extra.get("exact"), out_dir, training=extra.get("training"))
