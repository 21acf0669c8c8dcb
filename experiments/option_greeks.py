"""Option Greeks by Monte Carlo: likelihood ratio (score function) against pathwise.

Sensitivity analysis in computational finance (Glasserman 2003, ch. 7; REFERENCES.md,
"Beyond the papers"): under Black-Scholes, S_T = S0 exp((r - sigma^2/2) T + sigma sqrt(T) Z),
and the Greeks of a European call (delta = d price / d S0, vega = d price / d sigma) and of a
digital call are gradients of E[discounted payoff(S_T)] with respect to theta = (S0, sigma)
(``vartools.catalogue.finance``). Parameters: K = 100, r = 0.05, sigma = 0.2, T = 1, S0 / K
from 0.8 to 1.2.

Estimators (one evaluation of the payoff, or of its derivative, per sample):

- ``lr``: likelihood ratio = score function;
- ``lr+cv``: with the discounted terminal price e^{-rT} S_T as control variate (its mean, S0,
  is known), optimal coefficient computed exactly (``price_control``);
- ``pathwise``: payoff'(S_T) dS_T/dtheta; biased for the digital call (its payoff's derivative
  is 0 almost everywhere, so the pathwise estimate is identically 0);
- ``pathwise+cv``: with the same control (for the digital it stays 0).

Exact values: Black-Scholes closed forms for the Greeks; exact single-sample variances by
quadrature over Z split at the strike (``exact_terms_moments``). Outputs: ``summary.csv``
(Monte Carlo), ``exact.csv`` (exact variances on a fine moneyness grid and the Greeks),
``bias.csv`` (mean of each estimator against the exact Greek with its standard error: the
pathwise digital delta is biased, the likelihood ratio is not).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vartools.catalogue.finance import (
    exact_greeks,
    exact_terms_moments,
    option_problem,
    price_control,
)
from vartools.core.problem import Problem
from vartools.estimators.base import pathwise, score_function
from vartools.estimators.composed import Estimator, make_estimator
from vartools.harness.experiment import Experiment, Scale

__all__ = ["EXPERIMENT", "build_estimators", "exact_table", "figures", "tables"]

STRIKE, RATE, SIGMA, MATURITY = 100.0, 0.05, 0.2, 1.0
KINDS = ("call", "digital")
GREEKS = {"s0": "delta", "sigma": "vega"}
MONEYNESS_FULL = tuple(np.round(np.linspace(0.8, 1.2, 9), 3))
MONEYNESS_QUICK = (0.8, 1.0, 1.2)
N_FULL = (1, 4, 16, 64, 256)
N_QUICK = (1, 16)
EXACT_GRID = 41


def greeks_problem(kind: str, moneyness: float) -> Problem:
    """The option problem at S0 = moneyness * K."""
    return option_problem(
        kind,
        s0=float(moneyness) * STRIKE,
        strike=STRIKE,
        rate=RATE,
        sigma=SIGMA,
        maturity=MATURITY,
    )


def build_estimators() -> list[Estimator]:
    """lr, lr+cv, pathwise, pathwise+cv."""
    return [
        make_estimator(score_function, name="lr"),
        make_estimator(score_function, price_control("sf"), name="lr+cv"),
        make_estimator(pathwise, name="pathwise"),
        make_estimator(pathwise, price_control("pathwise"), name="pathwise+cv"),
    ]


def _points(
    moneyness: tuple[float, ...], kinds: tuple[str, ...] = ("call",)
) -> list[dict[str, Any]]:
    return [{"kind": k, "moneyness": float(m)} for k in kinds for m in moneyness]


EXPERIMENT = Experiment(
    name="option_greeks",
    description=(
        "Black-Scholes Greeks (delta, vega of a call; delta of a digital): likelihood ratio vs "
        "pathwise, with and without the terminal-price control variate, against moneyness and n "
        "(the digital call's points are measured by tables() into digital.csv)"
    ),
    problem=greeks_problem,
    points=_points(MONEYNESS_FULL),
    estimators=build_estimators(),
    n_samples=N_FULL,
    n_reps=20_000,
    seed=2003,
    quick=Scale(n_reps=2_000, n_samples=N_QUICK, points=_points(MONEYNESS_QUICK)),
    x="moneyness",
    exact=False,
    warmup=0,
    blocks_per_cell=20,
)


def exact_table_at(moneyness: Any) -> pd.DataFrame:
    """Exact Greeks and single-sample variances of every estimator on a moneyness grid."""
    rows = []
    ests = build_estimators()
    for kind in KINDS:
        for m in moneyness:
            prob = greeks_problem(kind, m)
            truth = exact_greeks(prob)
            for est in ests:
                mean, var = exact_terms_moments(prob, est)
                for j, coord in enumerate(prob.dist.param_names):
                    rows.append(
                        {
                            "kind": kind,
                            "moneyness": float(m),
                            "estimator": est.name,
                            "coordinate": coord,
                            "greek": GREEKS[coord],
                            "truth": float(truth[j]),
                            "exact_mean": float(mean[j]),
                            "exact_variance": float(var[j]),
                        }
                    )
    return pd.DataFrame(rows)


def bias_table(summary: pd.DataFrame, exact: pd.DataFrame) -> pd.DataFrame:
    """Mean of each estimator (largest n, n = 1 rows excluded) against the exact Greek."""
    s = summary[(summary["kind"] == "coordinate")]
    s = s[s["n"] == s["n"].max()]
    ex = exact.set_index(["kind", "moneyness", "estimator", "coordinate"])
    rows = []
    for _, r in s.iterrows():
        key = (r["at_kind"], float(r["at_moneyness"]), r["estimator"], r["coordinate"])
        e = ex.loc[key]
        se = float(np.sqrt(r["variance"] / r["n_reps"]))
        bias = float(r["mean"] - e["truth"])
        rows.append(
            {
                "kind": r["at_kind"],
                "moneyness": float(r["at_moneyness"]),
                "estimator": r["estimator"],
                "greek": GREEKS[r["coordinate"]],
                "n": int(r["n"]),
                "n_reps": int(r["n_reps"]),
                "truth": float(e["truth"]),
                "mean": float(r["mean"]),
                "se": se,
                "bias": bias,
                "z": bias / se if se > 0 else (0.0 if bias == 0 else np.inf),
                "exact_bias": float(e["exact_mean"] - e["truth"]),
            }
        )
    return pd.DataFrame(rows)


def digital_sweep(exp: Experiment) -> pd.DataFrame:
    """The digital call's sweep, measured with ``measure_variance`` (same seeds and sizes).

    The pathwise estimate of a digital Greek is identically 0 (variance 0), which the
    harness's summary schema refuses (efficiency = 1 / 0), so the digital points are
    measured here and written to ``digital.csv`` with the columns of summary.csv.
    """
    from vartools.measure.variance import measure_variance

    parts = []
    for i, pt in enumerate(_points(tuple(p["moneyness"] for p in exp.points), ("digital",))):
        prob = greeks_problem("digital", pt["moneyness"])
        with np.errstate(divide="ignore", invalid="ignore"):
            t = measure_variance(
                prob,
                build_estimators(),
                n_samples=list(exp.n_samples),
                n_reps=exp.n_reps,
                seed=exp.seed,
                truth=exact_greeks(prob),
                exact=False,
                warmup=0,
                block_size=exp.block_size,
            )
        t.insert(0, "at_moneyness", float(pt["moneyness"]))
        t.insert(0, "at_kind", "digital")
        t.insert(0, "point", i)
        parts.append(t)
    return pd.concat(parts, ignore_index=True)


def exact_table(scale: str) -> pd.DataFrame:
    """The harness hook: exact Greeks and variances at a scale, saved as ``exact.csv``."""
    exp = EXPERIMENT.at_scale(scale)
    grid = np.linspace(0.8, 1.2, EXACT_GRID if exp.scale == "full" else 9)
    ms = sorted(set(np.round(grid, 6).tolist()) | {float(p["moneyness"]) for p in exp.points})
    return exact_table_at(ms)


def tables(exp: Experiment, summary: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """``exact.csv``, ``digital.csv`` and (when the call summary is given) ``bias.csv``."""
    grid = np.linspace(0.8, 1.2, EXACT_GRID if exp.scale == "full" else 9)
    ms = sorted(set(np.round(grid, 6).tolist()) | {float(p["moneyness"]) for p in exp.points})
    out = {"exact": exact_table_at(ms), "digital": digital_sweep(exp)}
    if summary is not None:
        both = pd.concat([summary, out["digital"]], ignore_index=True)
        out["bias"] = bias_table(both, out["exact"])
    return out


# ------------------------------------------------------------------------------ figures

STYLE = {
    "lr": {"label": "likelihood ratio (score function)", "color": "#0072B2", "marker": "o"},
    "lr+cv": {
        "label": "likelihood ratio + price control variate",
        "color": "#56B4E9",
        "marker": "s",
    },
    "pathwise": {"label": "pathwise", "color": "#D55E00", "marker": "^"},
    "pathwise+cv": {"label": "pathwise + price control variate", "color": "#E69F00", "marker": "v"},
}
#: Style of the Monte Carlo markers (95% CI error bars).
MARKER = {"ms": 4, "capsize": 2, "mfc": "white", "lw": 0.9}
PANELS = (
    ("call", "s0", "European call: delta"),
    ("call", "sigma", "European call: vega"),
    ("digital", "s0", "digital call: delta"),
)


def _moneyness_figure(summary: pd.DataFrame, exact: pd.DataFrame) -> Any:
    from matplotlib.figure import Figure

    from vartools.plots.figures import errorbar_ci, legend_below

    fig = Figure(figsize=(12.0, 4.3), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, (kind, coord, title) in zip(axes, PANELS, strict=True):
        for name, st in STYLE.items():
            e = exact[
                (exact["kind"] == kind)
                & (exact["coordinate"] == coord)
                & (exact["estimator"] == name)
            ].sort_values("moneyness")
            y = e["exact_variance"].to_numpy()
            if not np.any(y > 0):
                continue  # pathwise digital: identically 0 (and biased)
            ax.plot(
                e["moneyness"],
                np.where(y > 0, y, np.nan),
                color=st["color"],
                lw=1.6,
                label=st["label"],
            )
            m = summary[
                (summary["at_kind"] == kind)
                & (summary["coordinate"] == coord)
                & (summary["estimator"] == name)
                & (summary["n"] == 1)
            ]
            m = m.sort_values("at_moneyness")
            errorbar_ci(ax, m, "at_moneyness", fmt=st["marker"], color=st["color"], **MARKER)
        ax.set_yscale("log")
        ax.set_xlabel("moneyness $S_0 / K$")
        ax.set_ylabel("variance of one sample")
        ax.set_title(title + (" (pathwise: 0, biased)" if kind == "digital" else ""), fontsize=10)
        ax.grid(True, alpha=0.3)
    legend_below(fig, axes[0], ncol=4, fontsize=9)
    fig.suptitle(
        "Black-Scholes Greeks, K = 100, r = 0.05, sigma = 0.2, T = 1 (lines: exact; "
        "markers: Monte Carlo, 95% CI)",
        fontsize=11,
    )
    return fig


def _n_figure(summary: pd.DataFrame, exact: pd.DataFrame) -> Any:
    from matplotlib.figure import Figure

    from vartools.plots.figures import errorbar_ci, fixed_log_x, legend_below

    fig = Figure(figsize=(12.0, 4.3), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, (kind, coord, title) in zip(axes, PANELS, strict=True):
        ns = np.array(sorted(summary["n"].unique()), dtype=float)
        for name, st in STYLE.items():
            m = summary[
                (summary["at_kind"] == kind)
                & (summary["coordinate"] == coord)
                & (summary["estimator"] == name)
                & np.isclose(summary["at_moneyness"], 1.0)
            ].sort_values("n")
            e = exact[
                (exact["kind"] == kind)
                & (exact["coordinate"] == coord)
                & (exact["estimator"] == name)
                & np.isclose(exact["moneyness"], 1.0)
            ]
            v1 = float(e["exact_variance"].iloc[0])
            if v1 <= 0:
                continue
            ax.plot(ns, v1 / ns, color=st["color"], lw=1.2, ls="--")
            errorbar_ci(
                ax, m, "n", fmt=st["marker"], color=st["color"], label=st["label"], **MARKER
            )
        fixed_log_x(ax, ns, base=2)
        ax.set_yscale("log")
        ax.set_xlabel("samples per estimate $n$")
        ax.set_ylabel("variance of the estimate")
        ax.set_title(f"{title}, at the money ($S_0 = K$)", fontsize=10)
        ax.grid(True, alpha=0.3)
    legend_below(fig, axes[0], ncol=4, fontsize=9)
    fig.suptitle(
        "Variance against n (dashed: exact single-sample variance / n; markers: "
        "Monte Carlo, 95% CI)",
        fontsize=11,
    )
    return fig


def figures(
    summary: pd.DataFrame, extra: Mapping[str, pd.DataFrame], out_dir: str | Path
) -> list[Path]:
    """Variance against moneyness (n = 1) and against n (at the money).

    Args:
        summary: the harness's summary.csv (European call points).
        extra: the tables of ``tables``: "exact" (exact.csv) and "digital" (digital.csv,
            the digital call points, with the columns of summary.csv).
        out_dir: where the PNG and PDF files go.
    """
    from vartools.plots.figures import save_figure

    out_dir = Path(out_dir)
    exact, digital = extra.get("exact"), extra.get("digital")
    if exact is None:
        raise FileNotFoundError("option_greeks figures need exact.csv: rerun the experiment")
    if digital is None and (out_dir.parent / "digital.csv").exists():  # written by run()
        digital = pd.read_csv(out_dir.parent / "digital.csv")
    if digital is not None:
        summary = pd.concat([summary, digital], ignore_index=True)
    summary = summary[summary["kind"] == "coordinate"]
    files = save_figure(_moneyness_figure(summary, exact), out_dir / "option_greeks_moneyness")
    files += save_figure(_n_figure(summary, exact), out_dir / "option_greeks_n")
    return files
