"""Gaussian costs of Mohamed et al. (JMLR 2020), Figures 2 and 3: single-sample variance against k.

Setting (REFERENCES.md, E1-E3): x ~ N(mu, sigma^2) with mu = 1, sigma = 1; gradients with
respect to the mean and the standard deviation of E[f(x)] for

- f = (x - k)^2, k = linspace(-3, 3, 100)           (Figure 2, top; log y axis),
- f = exp(-k x^2), k log-spaced on [0.1, 10]        (Figure 2, middle; log-log),
- f = cos(k x), k log-spaced on [0.5, 5]            (Figure 3; log-log).

Estimators (f evaluations per sample in brackets):

- ``sf``: score function (1);
- ``sf+b*``: score function with the optimal constant baseline b*_d = E[f s_d^2] / E[s_d^2]
  per coordinate, computed exactly for each problem (an oracle coefficient, as in the
  paper's figures; 1);
- ``pathwise`` (1 evaluation of f' );
- ``mvd``: measure-valued derivative with coupling (Mohamed et al. 2020, sec. 6; 2 per
  parameter), when ``vartools.estimators.measure_valued`` provides it;
- beyond the paper: ``sf+loo`` (RLOO with K = 4 samples; 4 per estimate) and the
  second-order delta-method control variate (Paisley et al. 2012) with its optimal
  coefficient computed exactly (oracle) on the score function (``sf+delta*``) and on the
  pathwise estimator (``pathwise+delta*``).

The exact lines are computed by quadrature over the whole real line (``exact_curves``): one
adaptive cubature per (cost, k) integrates every needed moment at once; the Monte Carlo
markers come from the sweep (``EXPERIMENT``), at a subset of k, with 95% CIs. Figures show
n Var(n-sample estimate), i.e. the single-sample variance for the per-sample estimators
and 4 Var for RLOO with K = 4 (its variance per sample spent). A last panel shows the
variance against n for one k with the 1/n reference line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vartools.catalogue.settings import make_problem
from vartools.control_variates.baselines import loo_baseline
from vartools.control_variates.coefficients import optimal_baseline, optimal_cv
from vartools.control_variates.features import Features, delta_features
from vartools.core.control_variate import ControlVariate
from vartools.core.problem import Problem
from vartools.estimators.base import BaseEstimator, pathwise, score_function
from vartools.estimators.composed import Estimator, make_estimator
from vartools.harness.experiment import Experiment, Scale
from vartools.oracles.exact import quadrature, rloo_variance, sf_moments

__all__ = [
    "EXPERIMENT",
    "build_estimators",
    "exact_curves",
    "exact_curves_for",
    "exact_table",
    "figures",
    "marker_points",
    "tables",
]

COSTS: dict[str, dict[str, Any]] = {
    "square": {
        "grid": lambda m: np.linspace(-3.0, 3.0, m),
        "label": "$f(x) = (x - k)^2$",
        "log_x": False,
    },
    "bump": {
        "grid": lambda m: np.geomspace(0.1, 10.0, m),
        "label": "$f(x) = \\exp(-k x^2)$",
        "log_x": True,
        "ticks": (0.1, 0.3, 1.0, 3.0, 10.0),
    },
    "cos": {
        "grid": lambda m: np.geomspace(0.5, 5.0, m),
        "label": "$f(x) = \\cos(k x)$",
        "log_x": True,
        "ticks": (0.5, 1.0, 2.0, 3.0, 5.0),
    },
}
N_GRID_FULL = 100
N_GRID_QUICK = 25
RLOO_K = 4
#: the k of the variance-against-n panel
N_PANEL = {"cost": "cos", "k": 2.0}
N_SWEEP_FULL = (1, 2, 4, 8, 16, 32, 64)
GL_NODES = 128
N_SWEEP_QUICK = (1, 4, 16)


def marker_points(n_markers: int) -> list[dict[str, Any]]:
    """The (cost, k) points measured by Monte Carlo: ``n_markers`` per cost, plus N_PANEL."""
    pts: list[dict[str, Any]] = []
    for cost, spec in COSTS.items():
        ks = spec["grid"](N_GRID_FULL)
        idx = np.unique(np.round(np.linspace(0, len(ks) - 1, n_markers)).astype(int))
        pts.extend({"cost": cost, "k": float(ks[i])} for i in idx)
    if N_PANEL not in pts:
        pts.append(dict(N_PANEL))
    return pts


def gaussian_problem(cost: str, k: float) -> Problem:
    """x ~ N(1, 1), f the cost at k (``make_problem("gaussian_cost", ...)``)."""
    return make_problem("gaussian_cost", cost=cost, k=float(k))


# -------------------------------------------------------------------- oracle coefficients


def per_problem(make_cv: Callable[[Problem], ControlVariate], name: str) -> ControlVariate:
    """A control variate built for each problem by ``make_cv`` (e.g. with an oracle coefficient).

    The coefficient is fixed before any sample is drawn, so the control variate is
    unbiased and per-sample (quadrature oracles apply).
    """

    def init(problem: Problem) -> tuple[ControlVariate, Any]:
        cv = make_cv(problem)
        return cv, cv.init(problem)

    def apply(batch: Any, state: Any, problem: Problem) -> tuple[Any, Any]:
        cv, inner = state
        out, inner = cv.apply(batch, inner, problem)
        return out, (cv, inner)

    return ControlVariate(init, apply, name=name, per_sample=True)


def _oracle_baseline(problem: Problem) -> ControlVariate:
    m = sf_moments(problem)
    return optimal_baseline("fixed", coef=m.m1 / m.m0, name="b*")


DELTA = delta_features(2)


def _cv_moments(problem: Problem, base: BaseEstimator, feats: Features) -> np.ndarray:
    """E[g], E[g^2], E[g h], E[h], E[h^2] (each (p,)) for one-sample terms g and feature h."""

    def integrand(x: np.ndarray, e: np.ndarray) -> np.ndarray:
        b = base.from_noise(problem, e, True)
        g = b.terms[:, 0, :]
        h = feats(b, problem).h[:, 0, :, 0]
        return np.concatenate([g, g * g, g * h, h, h * h], axis=-1)

    p = problem.dist.n_params
    return quadrature(problem, integrand).reshape(5, p)


def oracle_delta_coef(problem: Problem, base: BaseEstimator) -> np.ndarray:
    """beta*_d = Cov(g_d, h_d) / Var(h_d) for the delta-method feature h, by quadrature."""
    eg, _, egh, eh, eh2 = _cv_moments(problem, base, DELTA)
    var_h = eh2 - eh**2
    return np.where(var_h > 0, (egh - eg * eh) / np.where(var_h > 0, var_h, 1.0), 0.0)


def _oracle_delta(base: BaseEstimator) -> Callable[[Problem], ControlVariate]:
    def make(problem: Problem) -> ControlVariate:
        coef = oracle_delta_coef(problem, base)
        return optimal_cv(DELTA, source="fixed", coef=coef[:, None], name="delta*")

    return make


def build_estimators() -> list[Estimator]:
    """The compared estimators (see the module docstring)."""
    ests = [
        make_estimator(score_function, name="sf"),
        make_estimator(score_function, per_problem(_oracle_baseline, "b*"), name="sf+b*"),
        make_estimator(pathwise, name="pathwise"),
    ]
    mvd = _mvd_estimator()
    if mvd is not None:
        ests.append(mvd)
    ests += [
        make_estimator(score_function, loo_baseline(), name="sf+loo"),
        make_estimator(
            score_function, per_problem(_oracle_delta(score_function), "delta*"), name="sf+delta*"
        ),
        make_estimator(
            pathwise, per_problem(_oracle_delta(pathwise), "delta*"), name="pathwise+delta*"
        ),
    ]
    return ests


def _mvd_estimator() -> Estimator | None:
    try:
        from vartools.estimators.measure_valued import measure_valued
    except ImportError:
        return None
    return make_estimator(measure_valued, name="mvd")


# -------------------------------------------------------------------------- exact curves

MU, SIGMA = 1.0, 1.0
ESTIMATOR_NS = {
    "sf": 1,
    "sf+b*": 1,
    "pathwise": 1,
    "mvd": 1,
    "sf+loo": RLOO_K,
    "sf+delta*": 1,
    "pathwise+delta*": 1,
}


def cost_derivatives(cost: str, x: np.ndarray, k: np.ndarray):
    """f, f' and f'' of a cost at x, broadcast over an array of k (closed forms)."""
    if cost == "square":
        return (x - k) ** 2, 2.0 * (x - k), np.full(np.broadcast_shapes(x.shape, k.shape), 2.0)
    if cost == "bump":
        f = np.exp(-k * x * x)
        return f, -2.0 * k * x * f, (4.0 * k * k * x * x - 2.0 * k) * f
    if cost == "cos":
        return np.cos(k * x), -k * np.sin(k * x), -k * k * np.cos(k * x)
    raise ValueError(f"cost must be one of {sorted(COSTS)}, got {cost!r}")


def cost_value(cost: str, x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """f of a cost at x, broadcast over k."""
    if cost == "square":
        return (x - k) ** 2
    if cost == "bump":
        return np.exp(-k * x * x)
    if cost == "cos":
        return np.cos(k * x)
    raise ValueError(f"cost must be one of {sorted(COSTS)}, got {cost!r}")


def _cubature(fn: Callable[[np.ndarray], np.ndarray], a: list[float], b: list[float]) -> np.ndarray:
    from scipy import integrate

    res = integrate.cubature(fn, a, b, rtol=1e-10, atol=1e-12, max_subdivisions=200_000)
    if res.status != "converged":
        raise RuntimeError(f"exact-curve quadrature did not converge (error {res.error.max()})")
    return np.asarray(res.estimate, dtype=np.float64)


def exact_curves_for(cost: str, ks: np.ndarray) -> pd.DataFrame:
    """Exact variances of every estimator at every k of one cost, vectorised over k.

    One adaptive cubature over the N(0, 1) noise integrates, for all k at once, the
    score-function moments (sf, sf+b*, RLOO: ``vartools.oracles.exact`` closed forms), the
    pathwise terms and the delta-method moments (the second-order Taylor expansion of f at
    mu, Var(g) - Cov(g, h)^2 / Var(h) at the optimal coefficient); two more give the
    coupled measure-valued derivative (Rayleigh W for the mean; double-sided Maxwell M and
    U M for the scale). Tests check every line against the library's per-problem oracles
    (``sf_moments``, ``exact_moments``, ``mvd_moments``) and closed forms.

    Returns:
        Rows (cost, k, estimator, coordinate, n, exact_variance, exact_mean) where
        exact_variance is the variance of the n-sample estimate.
    """
    from vartools.oracles.exact import SFMoments

    ks = np.asarray(ks, dtype=np.float64)
    nk = ks.size
    kk = ks[None, :]

    def main(e: np.ndarray) -> np.ndarray:
        z = e[:, :1]  # (m, 1)
        x = MU + SIGMA * z
        f, f1, _ = cost_derivatives(cost, x, kk)
        f0, a, h2 = cost_derivatives(cost, np.array([[MU]]), kk)
        dx = x - MU
        ftil = f0 + a * dx + 0.5 * h2 * dx * dx
        ftil1 = a + h2 * dx
        out = []
        for s, dxd in ((z / SIGMA, 1.0), ((z * z - 1.0) / SIGMA, z)):
            g = f * s
            hs = ftil * s
            t = f1 * dxd
            hp = ftil1 * dxd
            out += [g, g * g, f * s * s, g * hs, hs, hs * hs, t, t * t, t * hp, hp, hp * hp]
        out += [f, f * f]
        dens = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
        return (np.stack(np.broadcast_arrays(*out), axis=1) * dens[:, :, None]).reshape(len(e), -1)

    v = _cubature(main, [-np.inf], [np.inf]).reshape(-1, nk)
    per = 11
    coords = ["loc[0]", "scale[0]"]
    m0 = np.array([1.0 / SIGMA**2, 2.0 / SIGMA**2])  # E[s^2]
    res: dict[str, np.ndarray] = {}  # estimator -> (2, nk) variances
    blocks = [v[i * per : (i + 1) * per] for i in range(2)]
    ef, ef2 = v[2 * per], v[2 * per + 1]
    g = np.stack([b[0] for b in blocks])
    tmean = np.stack([b[6] for b in blocks])

    def cv_var(var_g: np.ndarray, cov: np.ndarray, var_h: np.ndarray) -> np.ndarray:
        safe = np.where(var_h > 1e-300, var_h, 1.0)
        return np.maximum(var_g - np.where(var_h > 1e-300, cov**2 / safe, 0.0), 0.0)

    sf_var, pw_var, sfd, pwd, opt, loo = [], [], [], [], [], []
    for j, b in enumerate(blocks):
        gj, g2, m1, ghs, hs, hs2, t, t2, thp, hp, hp2 = b
        sf_var.append(g2 - gj**2)
        pw_var.append(t2 - t**2)
        sfd.append(cv_var(g2 - gj**2, ghs - gj * hs, hs2 - hs**2))
        pwd.append(cv_var(t2 - t**2, thp - t * hp, hp2 - hp**2))
        opt.append(g2 - m1**2 / m0[j] - gj**2)
        mom = SFMoments(g=gj, m2=g2, m1=m1, m0=np.full(nk, m0[j]), ef=ef, ef2=ef2)  # type: ignore[arg-type]
        loo.append(rloo_variance(mom, RLOO_K))
    res = {
        "sf": np.array(sf_var),
        "sf+b*": np.array(opt),
        "pathwise": np.array(pw_var),
        "sf+loo": np.array(loo),
        "sf+delta*": np.array(sfd),
        "pathwise+delta*": np.array(pwd),
    }
    means = {name: g for name in res}
    means["pathwise"] = means["pathwise+delta*"] = tmean

    # measure-valued derivative, coupled (Mohamed et al. 2020, sec. 6)
    c_mu = 1.0 / (SIGMA * math.sqrt(2 * math.pi))

    def mvd_mean(w: np.ndarray) -> np.ndarray:
        w = w[:, :1]
        gm = c_mu * (cost_value(cost, MU + SIGMA * w, kk) - cost_value(cost, MU - SIGMA * w, kk))
        dens = w * np.exp(-0.5 * w * w)
        return np.concatenate([gm * dens, gm * gm * dens], axis=1)

    # U ~ U(0, 1) by fixed Gauss-Legendre nodes (the integrand is entire in u), M adaptively
    u_nodes, u_weights = np.polynomial.legendre.leggauss(GL_NODES)
    u_nodes, u_weights = 0.5 * (u_nodes + 1.0), 0.5 * u_weights

    def mvd_scale(m: np.ndarray) -> np.ndarray:
        m = m[:, :1, None]  # (q, 1, 1)
        pos = cost_value(cost, MU + SIGMA * m, kk[None])  # (q, 1, nk)
        neg = cost_value(cost, MU + SIGMA * u_nodes[None, :, None] * m, kk[None])
        gs = (pos - neg) / SIGMA  # (q, u, nk)
        m1 = np.einsum("qun,u->qn", gs, u_weights)
        m2 = np.einsum("qun,u->qn", gs * gs, u_weights)
        dens = (m * m * np.exp(-0.5 * m * m) / math.sqrt(2 * math.pi))[:, :, 0]
        return np.concatenate([m1 * dens, m2 * dens], axis=1)

    vm = _cubature(mvd_mean, [0.0], [np.inf]).reshape(2, nk)
    vs = _cubature(mvd_scale, [-np.inf], [np.inf]).reshape(2, nk)
    res["mvd"] = np.array([vm[1] - vm[0] ** 2, vs[1] - vs[0] ** 2])
    means["mvd"] = np.array([vm[0], vs[0]])

    rows = []
    for name, var in res.items():
        n = ESTIMATOR_NS[name]
        for j, coord in enumerate(coords):
            for i, k in enumerate(ks):
                rows.append(
                    {
                        "cost": cost,
                        "k": float(k),
                        "estimator": name,
                        "coordinate": coord,
                        "n": n,
                        "exact_variance": float(var[j, i]),
                        "exact_mean": float(means[name][j, i]),
                    }
                )
    return pd.DataFrame(rows)


def exact_curves(n_grid: int = N_GRID_FULL, markers: int = 10) -> pd.DataFrame:
    """The exact lines of every cost on its grid of ``n_grid`` k (plus the markers' k)."""
    parts = []
    pts = marker_points(markers)
    for cost, spec in COSTS.items():
        ks = set(spec["grid"](n_grid).tolist()) | {p["k"] for p in pts if p["cost"] == cost}
        parts.append(exact_curves_for(cost, np.array(sorted(ks))))
    return pd.concat(parts, ignore_index=True)


# ---------------------------------------------------------------------------- experiment

EXPERIMENT = Experiment(
    name="gaussian_costs",
    description=(
        "Mohamed et al. (2020), Figures 2-3: single-sample variance of gradient estimators "
        "for Gaussian costs (x - k)^2, exp(-k x^2), cos(k x) against k, with exact lines"
    ),
    problem=gaussian_problem,
    points=marker_points(10),
    estimators=build_estimators(),
    n_samples=N_SWEEP_FULL,
    n_reps=20_000,
    seed=2020,
    quick=Scale(n_reps=2_000, n_samples=N_SWEEP_QUICK, points=marker_points(3)),
    x="k",
    warmup=0,
    blocks_per_cell=20,
)


def tables(exp: Experiment, summary: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Extra tables the experiment writes next to summary.csv: ``exact.csv`` (the lines).

    Args:
        exp: the experiment at its scale (the quick scale uses a coarser k grid).
        summary: the harness's summary table (unused: the lines do not depend on it).
    """
    n_grid = N_GRID_FULL if exp.scale == "full" else N_GRID_QUICK
    parts = []
    for cost, spec in COSTS.items():
        ks = set(spec["grid"](n_grid).tolist())
        ks |= {float(p["k"]) for p in exp.points if p["cost"] == cost}
        parts.append(exact_curves_for(cost, np.array(sorted(ks))))
    return {"exact": pd.concat(parts, ignore_index=True)}


def exact_table(scale: str) -> pd.DataFrame:
    """The harness hook: the exact lines at a scale, saved by the runner as ``exact.csv``."""
    return tables(EXPERIMENT.at_scale(scale))["exact"]


# ------------------------------------------------------------------------------ figures

STYLE: dict[str, dict[str, Any]] = {
    "sf": {"label": "score function", "color": "#0072B2", "marker": "o"},
    "sf+b*": {"label": "score function + optimal baseline", "color": "#56B4E9", "marker": "s"},
    "pathwise": {"label": "pathwise", "color": "#D55E00", "marker": "^"},
    "mvd": {"label": "measure-valued (coupled)", "color": "#009E73", "marker": "D"},
    "sf+loo": {"label": f"RLOO, K = {RLOO_K} (x {RLOO_K})", "color": "#CC79A7", "marker": "v"},
    "sf+delta*": {"label": "score function + delta method", "color": "#E69F00", "marker": "P"},
    "pathwise+delta*": {"label": "pathwise + delta method", "color": "#000000", "marker": "X"},
}
PAPER = ("sf", "sf+b*", "pathwise", "mvd")
BEYOND = ("sf", "sf+loo", "sf+delta*", "pathwise", "pathwise+delta*")
COORDS = (("loc[0]", "mean $\\mu$"), ("scale[0]", "standard deviation $\\sigma$"))
#: exact variances below this fraction of the panel's largest are zero up to rounding
ZERO = 1e-12


def _markers(summary: pd.DataFrame, name: str, cost: str, coord: str) -> pd.DataFrame:
    n = ESTIMATOR_NS[name]
    m = summary[
        (summary["estimator"] == name)
        & (summary["at_cost"] == cost)
        & (summary["coordinate"] == coord)
        & (summary["n"] == n)
    ].sort_values("at_k")
    return m.assign(
        y=m["variance"] * n, lo=m["variance_lo"] * n, hi=m["variance_hi"] * n, x=m["at_k"]
    )


def _panel(
    ax: Any,
    summary: pd.DataFrame,
    exact: pd.DataFrame,
    names: tuple[str, ...],
    cost: str,
    coord: str,
) -> None:
    from vartools.plots.figures import errorbar_ci, fixed_log_x

    top = 0.0
    for name in names:
        e = exact[
            (exact["estimator"] == name) & (exact["cost"] == cost) & (exact["coordinate"] == coord)
        ].sort_values("k")
        top = max(top, float((e["exact_variance"] * e["n"]).max()) if len(e) else 0.0)
    for name in names:
        st = STYLE[name]
        e = exact[
            (exact["estimator"] == name) & (exact["cost"] == cost) & (exact["coordinate"] == coord)
        ].sort_values("k")
        y = (e["exact_variance"] * e["n"]).to_numpy()
        y = np.where(y > ZERO * top, y, np.nan)
        ax.plot(e["k"], y, color=st["color"], lw=1.6, label=st["label"])
        m = _markers(summary, name, cost, coord)
        m = m[m["y"] > ZERO * top]
        if len(m):
            errorbar_ci(
                ax,
                m,
                "x",
                y="y",
                lo="lo",
                hi="hi",
                fmt=st["marker"],
                color=st["color"],
                ms=4,
                capsize=2,
                lw=0.9,
                mfc="white",
            )
    ax.set_yscale("log")
    if COSTS[cost]["log_x"]:
        fixed_log_x(ax, COSTS[cost]["ticks"])
    ax.grid(True, which="major", alpha=0.3)


def _grid_figure(
    summary: pd.DataFrame, exact: pd.DataFrame, names: tuple[str, ...], title: str
) -> Any:
    from matplotlib.figure import Figure

    from vartools.plots.figures import legend_below

    fig = Figure(figsize=(9.0, 10.0), layout="constrained")
    axes = fig.subplots(len(COSTS), 2)
    for i, cost in enumerate(COSTS):
        for j, (coord, label) in enumerate(COORDS):
            ax = axes[i, j]
            _panel(ax, summary, exact, names, cost, coord)
            ax.set_title(f"{COSTS[cost]['label']}: gradient w.r.t. {label}", fontsize=10)
            ax.set_xlabel("$k$")
            ax.set_ylabel("variance of one sample")
    legend_below(fig, axes[0, 0], ncol=3, fontsize=9)
    fig.suptitle(title, fontsize=11)
    return fig


def _n_figure(summary: pd.DataFrame, exact: pd.DataFrame) -> Any:
    from matplotlib.figure import Figure

    from vartools.plots.figures import errorbar_ci, fixed_log_x, legend_below

    cost, k = N_PANEL["cost"], float(N_PANEL["k"])
    fig = Figure(figsize=(9.0, 4.2), layout="constrained")
    axes = fig.subplots(1, 2)
    sub = summary[(summary["at_cost"] == cost) & np.isclose(summary["at_k"], k)]
    for ax, (coord, label) in zip(axes, COORDS, strict=True):
        ref_y = None
        for name, st in STYLE.items():
            m = sub[(sub["estimator"] == name) & (sub["coordinate"] == coord)].sort_values("n")
            if not len(m):
                continue
            errorbar_ci(
                ax,
                m,
                "n",
                fmt=st["marker"] + "-",
                color=st["color"],
                ms=4,
                capsize=2,
                lw=1.0,
                mfc="white",
                label="RLOO (K = n)" if name == "sf+loo" else st["label"],
            )
            if name == "sf":
                e = exact[
                    (exact["estimator"] == "sf")
                    & (exact["cost"] == cost)
                    & np.isclose(exact["k"], k)
                    & (exact["coordinate"] == coord)
                ]
                ref_y = float(e["exact_variance"].iloc[0]) if len(e) else None
                ns = np.array(sorted(m["n"].unique()), dtype=float)
        if ref_y is not None:
            ax.plot(ns, ref_y / ns, "k--", lw=1.0, label="exact SF variance / n")
        fixed_log_x(ax, sorted(sub["n"].unique()), base=2)
        ax.set_yscale("log")
        ax.set_xlabel("samples per estimate $n$")
        ax.set_ylabel("variance of the estimate")
        ax.set_title(f"{COSTS[cost]['label']}, $k = {k:g}$: w.r.t. {label}", fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
    legend_below(fig, axes[0], ncol=3, fontsize=9)
    return fig


def figures(
    summary: pd.DataFrame, extra: Mapping[str, pd.DataFrame], out_dir: str | Path
) -> list[Path]:
    """The three figures, pure functions of ``summary.csv`` and ``exact.csv`` (``extra["exact"]``).

    - ``gaussian_costs_paper``: Mohamed et al. (2020) Figs. 2-3 (SF, SF + optimal
      baseline, pathwise, coupled MVD): exact lines, Monte Carlo markers with 95% CIs;
    - ``gaussian_costs_beyond``: the same panels for RLOO (K = 4, shown as 4 x its
      variance: variance per sample spent) and the delta-method control variate;
    - ``gaussian_costs_n``: variance against n at one k with the 1/n reference.
    """
    from vartools.plots.figures import save_figure

    exact = extra.get("exact")
    if exact is None:
        raise FileNotFoundError("gaussian_costs figures need exact.csv: rerun the experiment")
    out_dir = Path(out_dir)
    summary = summary[summary["kind"] == "coordinate"]
    files: list[Path] = []
    scale = str(summary["scale"].iloc[0]) if "scale" in summary.columns else ""
    fig = _grid_figure(
        summary,
        exact,
        PAPER,
        f"Single-sample gradient variance, $x \\sim N(1, 1)$ (lines: exact; "
        f"markers: Monte Carlo, 95% CI; {scale} scale)",
    )
    files += save_figure(fig, out_dir / "gaussian_costs_paper")
    fig = _grid_figure(
        summary,
        exact,
        BEYOND,
        "Beyond the paper: RLOO (K = 4) and the delta-method control variate (optimal "
        "coefficient)\nlines: exact; markers: Monte Carlo, 95% CI; the delta method is exact "
        "for $(x-k)^2$ (variance 0, not drawn)",
    )
    files += save_figure(fig, out_dir / "gaussian_costs_beyond")
    files += save_figure(_n_figure(summary, exact), out_dir / "gaussian_costs_n")
    return files
