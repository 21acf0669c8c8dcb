"""The Bernoulli toy's figures: loss and variance along training, and variance against theta.

Imported only by ``vartools plot`` (``figures``) and the paper (``markers``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import special

from vartools.plots.helpers import axes_note, errorbar_ci, legend_below, run_size
from vartools.plots.style import estimator_colors, save_figure

from .models import T_VALUES

__all__ = ["CURVES", "STYLE", "figures", "markers"]

#: Estimator label, samples (or pairs) n, and the figure's style.
CURVES = (
    ("sf", 1),
    ("sf+ema", 1),
    ("sf+opt* (oracle)", 1),
    ("sf+opt (fitted)", 1),
    ("rloo", 2),
    ("arm", 1),
    ("disarm", 1),
    ("exact (RB)", 1),
)


STYLE = {
    "sf": ("SF (1 sample)", "o"),
    "sf+ema": ("SF + EMA baseline (1)", "v"),
    "sf+opt* (oracle)": ("SF + optimal baseline b* (oracle; 1)", "P"),
    "sf+opt (fitted)": ("SF + b fitted on earlier batches (1)", "X"),
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
    summary: pd.DataFrame,
    exact: pd.DataFrame,
    out_dir: Any,
    training: Any = None,
    seeds: Any = None,
) -> list[Any]:
    """Loss and log-variance against steps (RELAX Fig. 1), and variance against theta."""
    if training is None:
        raise ValueError("the bernoulli_toy figures need the training table (training.csv)")
    colors = estimator_colors(STYLE)
    mk = markers(summary, training)
    n_reps, scale = run_size(summary)
    note = (
        "lines: exact; markers: replicate variance with 95% CI\n"
        "SF + optimal baseline b* (oracle) and the exact gradient have variance 0 (one Bernoulli); "
        "so has b fitted on earlier batches, except where its warm-up batches drew one outcome only"
    )
    files = []
    fig = Figure(figsize=(11, 7.5), layout="constrained")
    axes = fig.subplots(2, len(T_VALUES), sharex="col", height_ratios=[1, 2.2])
    for j, t in enumerate(T_VALUES):
        ax_l, ax_v = axes[0, j], axes[1, j]
        tr = training[np.isclose(training["at_t"].astype(float), t)]
        ax_l.plot(tr["step"], tr["loss"], "o-", color="k", ms=3, lw=1, label="measured run")
        if seeds is not None:
            from experiments._training_grid import seed_band

            sd = seeds[np.isclose(seeds["at_t"].astype(float), t)]
            n_seeds = sd["seed"].nunique()
            seed_band(
                ax_l,
                sd,
                "step",
                "loss",
                color=colors["sf"],
                lw=1.2,
                label=f"{n_seeds} more seeds: mean, 95% t band",
            )
        ax_l.axhline(min(t * t, (1 - t) ** 2), color="0.5", ls=":", lw=1, label="optimum")
        if j == 0:  # one legend, where the loss has dropped (no curve in its corner)
            ax_l.legend(fontsize=7.5, loc="upper right")
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
    legend_below(fig, axes[1, 0], ncol=4)
    fig.suptitle(
        f"REBAR/RELAX Bernoulli toy: {n_reps} replicates per checkpoint ({scale} scale)\n"
        + note
        + "; ARM / DisARM exact curves: see variance_vs_theta",
        fontsize=10,
    )
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
    return _figures(
        summary,
        extra.get("exact"),
        out_dir,
        training=extra.get("training"),
        seeds=extra.get("seeds"),
    )
