"""Write generated/numbers.tex: one LaTeX macro for every number the report quotes.

Reads results/*/{summary,exact,training,...}.csv and meta.json only (never recomputes an
estimate; the tie-break spread of sum-and-sample is an exact enumeration) and
vartools.__version__. Macro names are ``\\Vt`` + letters. Also writes

- ``generated/comparisons.json``: every macro that compares two table rows, with the rows,
  their f evaluations and whether the costs are equal; a comparison at unequal cost gets a
  companion macro ``\\Vt<name>Cost`` (the two costs) that the text must quote next to it
  (checked by tests/test_paper_equal_cost.py);
- ``generated/hyperparameters.tex``: the appendix table of settings per experiment, from
  each experiment's meta.json (and its ``hyperparameters`` dict where one exists).

Usage: ``python make_numbers.py [OUT_DIR]`` (default paper/generated).
"""

from __future__ import annotations

import dataclasses
import importlib
import itertools
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fig_blr_vi import ELBO_FROM

import vartools
from vartools.plots.paper import meta, out_dir, read, results_dir

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's experiments/
markers = importlib.import_module("experiments.bernoulli_toy.figures").markers

MACROS: dict[str, str] = {}
TEXT_MACROS: set[str] = {"Version"}  # written without \ensuremath
COMPARISONS: list[dict[str, Any]] = []


def num(x: float, sig: int = 2) -> str:
    """``x`` to ``sig`` significant digits: plain in [0.01, 10^4), else a power of ten."""
    x = float(x)
    if x == 0:
        return "0"
    if not math.isfinite(x):
        raise ValueError(f"cannot quote a non-finite number ({x}): check the results tables")
    e = math.floor(math.log10(abs(x)))
    if -2 <= e < 4:
        decimals = max(sig - 1 - e, 0)
        s = f"{x:.{decimals}f}"
        if abs(x) < 1000:
            return s
        return f"{round(x, sig - 1 - e):,.0f}".replace(",", "{,}")
    m = round(x / 10**e, sig - 1)
    if abs(m) >= 10:
        m, e = m / 10, e + 1
    return f"{m:.{sig - 1}f}\\times10^{{{e}}}"


def num3(x: float) -> str:
    """Three significant digits."""
    return num(x, 3)


def integer(x: float) -> str:
    """An integer with a thin-space thousands separator."""
    return f"{int(round(float(x))):,}".replace(",", "{,}")


def pct(x: float) -> str:
    """A fraction as a whole percentage (the ``\\%`` is in the macro)."""
    return f"{100 * float(x):.0f}\\%"


def put(name: str, value: Any, fmt: Callable[[Any], str] = num, text: bool = False) -> None:
    """Define ``\\Vt<name>``; refuses a bad or duplicate name."""
    if not name.isalpha() or name in MACROS:
        raise ValueError(f"macro name {name!r} must be letters only and unique")
    MACROS[name] = fmt(value) if not isinstance(value, str) else value
    if text:
        TEXT_MACROS.add(name)


def one(df: pd.DataFrame, col: str, **where: Any) -> float:
    """The single value of ``col`` in the rows matching ``where`` (floats compared closely)."""
    mask = np.ones(len(df), dtype=bool)
    for key, val in where.items():
        if isinstance(val, float):
            mask &= np.isclose(df[key].astype(float), val)
        else:
            mask &= (df[key] == val).to_numpy()
    rows = df[mask]
    if len(rows) != 1:
        raise ValueError(f"expected one row for {where}, found {len(rows)}")
    return float(rows[col].iloc[0])


# ----------------------------------------------------------------------------------------
# comparisons: every quoted comparison of two rows, with its cost on each side


def side(experiment: str, estimator: str, n_evals: float, **where: Any) -> dict[str, Any]:
    """One side of a comparison: a table row (experiment, estimator, where) and its cost."""
    return {
        "experiment": experiment,
        "estimator": estimator,
        "where": {k: (v if isinstance(v, (int, float, str)) else str(v)) for k, v in where.items()},
        "n_evals": int(round(float(n_evals))),
    }


def compare(
    name: str,
    value: Any,
    left: dict[str, Any],
    right: dict[str, Any],
    fmt: Callable[[Any], str] = num,
    basis: str = "variance",
    label: str | None = None,
) -> None:
    """Define ``\\Vt<name>``, a comparison of ``left`` with ``right``, and register it.

    ``basis`` says what is compared: ``variance`` (or any other per-estimate quantity), or
    ``efficiency`` (1 / (variance x f evaluations): normalised per evaluation, yet the two
    sides still ran at different costs, which the label says). When the two sides use
    different numbers of f evaluations, ``\\Vt<name>Cost`` is defined too ("at 64 vs 1
    f evaluations") and the text must quote it next to the comparison; ``label`` names an
    earlier comparison with the same two costs whose ``Cost`` macro serves for this one too.
    """
    put(name, value, fmt)
    equal = left["n_evals"] == right["n_evals"]
    entry: dict[str, Any] = {
        "macro": f"Vt{name}",
        "left": left,
        "right": right,
        "basis": basis,
        "equal_cost": equal,
        "labelled": not equal,
        "label_macro": None if equal else f"Vt{label or name}Cost",
    }
    if not equal and label:
        entry["label"] = MACROS[f"{label}Cost"]
    elif not equal:
        costs = f"{left['n_evals']:,} vs {right['n_evals']:,}".replace(",", "{,}")
        if basis == "efficiency":
            label = f"per $f$ evaluation, from {costs} evaluations per estimate"
        else:
            label = f"at {costs} $f$ evaluations per estimate"
        put(f"{name}Cost", label, text=True)
        entry["label"] = label
    COMPARISONS.append(entry)


def pair(
    name: str,
    a: float,
    b: float,
    left: dict[str, Any],
    right: dict[str, Any],
    fmt: Callable[[Any], str] = num,
) -> None:
    """``\\Vt<name>`` = "a vs b": two quoted values side by side, registered as a comparison."""
    compare(name, f"{fmt(a)}\\text{{ vs }}{fmt(b)}", left, right, fmt)


# ----------------------------------------------------------------------------------------


def n_coordinates(s: pd.DataFrame) -> int:
    """How many parameter coordinates a summary aggregates: (trace) / (mean) of one cell.

    Works when the summary keeps only the aggregate rows (``summary_rows="aggregates"``).
    """
    row = s.iloc[0]
    keys = ["point", "step", "n", "estimator"]
    cell = s[(s[keys] == row[keys]).all(axis=1)].set_index("kind")["variance"]
    return round(float(cell["trace"] / cell["mean"]))


def coverage(rows: pd.DataFrame) -> tuple[int, int]:
    """How many 95% CIs of the replicate variance contain the exact variance, of how many.

    Exact variances that are zero up to rounding (below 1e-10 of the largest at the same
    point, step, n and coordinate: e.g. the delta method on a quadratic) are left out.
    """
    keys = [k for k in ("point", "step", "n", "coordinate") if k in rows.columns]
    top = rows.groupby(keys)["exact_variance"].transform("max") if keys else rows["exact_variance"]
    rows = rows[rows["exact_variance"].notna() & (rows["exact_variance"] > 1e-10 * top)]
    inside = (rows["variance_lo"] <= rows["exact_variance"]) & (
        rows["exact_variance"] <= rows["variance_hi"]
    )
    return int(inside.sum()), len(rows)


def setting(name: str, *keys: str) -> Any:
    """A field of an experiment's definition in meta.json."""
    node: Any = meta(name)["experiment"]["definition"]
    for key in keys:
        node = node[key]
    return node


def have(experiment: str, table: str = "summary") -> bool:
    """Whether ``results/<experiment>/<table>.csv`` exists (tables other helpers add)."""
    return (results_dir() / experiment / f"{table}.csv").exists()


def flag(name: str, on: bool) -> None:
    """``\\Vt<name>`` = 1 or 0, for ``\\ifnum`` around text that needs a newer table."""
    put(name, "1" if on else "0", text=True)


def placeholders(*names: str) -> None:
    """Macros of text that is switched off (its table does not exist yet): a dash.

    Comparison macros among them are recorded as ``pending`` in comparisons.json: the text
    that quotes them is not typeset until the table exists.
    """
    for n in names:
        put(n, "\\text{--}")
        COMPARISONS.append({"macro": f"Vt{n}", "pending": True})


def gaussian_costs() -> None:
    """Mohamed et al. (2020) Figs. 2-3."""
    s = read("gaussian_costs")
    exact = read("gaussian_costs", "exact")
    c = s[s["kind"] == "coordinate"]
    gc = "gaussian_costs"
    put("GcReps", setting("gaussian_costs", "n_reps"), integer)
    put("GcGrid", exact[exact["cost"] == "square"]["k"].nunique(), integer)
    put("GcMarkers", c[(c["at_cost"] == "square")]["at_k"].nunique(), integer)
    inside, total = coverage(c)
    put("GcCoverIn", inside, integer)
    put("GcCoverOf", total, integer)
    put("GcCoverPct", inside / total, pct)
    evals = s.groupby(["estimator", "n"])["n_evals"].first()
    put("GcMvdEvals", evals[("mvd", 1)], integer)
    put("GcDeltaEvals", evals[("sf+delta* (oracle)", 1)], integer)
    one_n = exact[exact["n"] == 1].pivot_table(
        index=["cost", "coordinate", "k"], columns="estimator", values="exact_variance"
    )
    put("GcGridPoints", len(one_n), integer)
    # a check of the oracle (b* minimises the variance over constant baselines, b = 0
    # included), not evidence about baselines in practice
    compare(
        "GcBstarNeverWorse",
        int((one_n["sf+b* (oracle)"] <= one_n["sf"] * (1 + 1e-12)).sum()),
        side(gc, "sf+b* (oracle)", 1, n=1),
        side(gc, "sf", 1, n=1),
        integer,
    )
    loo = exact[exact["estimator"] == "sf+loo"].set_index(["cost", "coordinate", "k"])
    k_loo = int(loo["n"].iloc[0])
    put("GcRlooK", k_loo, integer)
    # RLOO with K samples against the score function / oracle b* with K samples: equal cost
    # (K i.i.d. single-sample estimates have 1/K of the single-sample variance)
    sf_k = one_n["sf"].reindex(loo.index) / k_loo
    worse = (loo["exact_variance"] > sf_k).groupby(level=[0, 1]).mean()
    rl = side(gc, "sf+loo", k_loo, n=k_loo)
    sfk = side(gc, "sf", k_loo, n=k_loo)
    compare("GcRlooWorseCosMu", worse[("cos", "loc[0]")], rl, sfk, pct)
    compare("GcRlooWorseCosSigma", worse[("cos", "scale[0]")], rl, sfk, pct)
    compare("GcRlooWorseBumpSigma", worse[("bump", "scale[0]")], rl, sfk, pct)
    bk = one_n["sf+b* (oracle)"].reindex(loo.index) / k_loo
    compare(
        "GcRlooWorseThanBstar",
        (loo["exact_variance"] > bk).mean(),
        rl,
        side(gc, "sf+b* (oracle)", k_loo, n=k_loo),
        pct,
    )
    # variance against n at cos(2x): the paired ratio of RLOO(K = n) to SF at the largest n
    sub = c[(c["at_cost"] == "cos") & np.isclose(c["at_k"], 2.0) & (c["coordinate"] == "loc[0]")]
    nmax = int(sub["n"].max())
    put("GcNmax", nmax, integer)
    sf_n = one(sub, "variance", estimator="sf", n=nmax)
    sf_side = side(gc, "sf", nmax, cost="cos", k=2.0, n=nmax)
    compare(
        "GcCosRlooOverSf",
        one(sub, "variance", estimator="sf+loo", n=nmax) / sf_n,
        side(gc, "sf+loo", nmax, cost="cos", k=2.0, n=nmax),
        sf_side,
    )
    compare(
        "GcCosBstarOverSf",
        one(sub, "variance", estimator="sf+b* (oracle)", n=nmax) / sf_n,
        side(gc, "sf+b* (oracle)", nmax, cost="cos", k=2.0, n=nmax),
        sf_side,
    )
    # the delta method with its oracle coefficient: one sample costs d = 4 evaluations
    d = int(evals[("sf+delta* (oracle)", 1)])
    per_sample = (one_n["sf+delta* (oracle)"] / one_n["sf"]).groupby(level=[0, 1]).median()
    equal_cost = (one_n["sf+delta* (oracle)"] / (one_n["sf"] / d)).groupby(level=[0, 1]).median()
    dl = side(gc, "sf+delta* (oracle)", d, n=1)
    compare("GcDeltaOverSfCosMu", per_sample[("cos", "loc[0]")], dl, side(gc, "sf", 1, n=1))
    compare("GcDeltaOverSfBumpMu", per_sample[("bump", "loc[0]")], dl, side(gc, "sf", 1, n=1))
    compare("GcDeltaEqOverSfCosMu", equal_cost[("cos", "loc[0]")], dl, side(gc, "sf", d, n=d))
    compare("GcDeltaEqOverSfBumpMu", equal_cost[("bump", "loc[0]")], dl, side(gc, "sf", d, n=d))
    # the coupled measure-valued derivative (4 evaluations) against pathwise (1)
    m = int(evals[("mvd", 1)])
    sel = one_n.loc[["bump", "cos"]]
    mv = side(gc, "mvd", m, n=1)
    compare(
        "GcMvdBelowPathwiseShare",
        (sel["mvd"] < sel["pathwise"]).mean(),
        mv,
        side(gc, "pathwise", 1, n=1),
        pct,
    )
    compare(
        "GcMvdEqBelowPathwiseShare",
        (sel["mvd"] < sel["pathwise"] / m).mean(),
        mv,
        side(gc, "pathwise", m, n=m),
        pct,
    )
    fitted_gaussian()


def fitted_beside_oracles() -> None:
    """The fitted versions next to each oracle (issue 17): Gaussian grid counts, option
    Greeks' LOO coefficient, the bandit's fitted b, the Bernoulli toy's fitted b."""
    # gaussian_costs/fitted.csv: grid points (of 62 Monte Carlo points) where the paired 95%
    # interval of Var / Var(SF) at equal evaluations lies below 1 (better) or above (worse)
    f = read("gaussian_costs", "fitted")
    f = f[f["test"].str.startswith("Monte Carlo")]
    put("GcPanelPoints", int(f["points"].iloc[0]), integer)
    for est, w in (("sf+b (loo)", "Loo"), ("sf+b (xfit)", "Xfit"), ("sf+b* (oracle)", "Oracle")):
        for n, nw in ((4, "Four"), (64, "Big")):
            r = f[(f["estimator"] == est) & (f["n"] == n)].iloc[0]
            for col, cw in (("better", "Better"), ("worse", "Worse")):
                compare(
                    f"Gc{w}{cw}{nw}",
                    int(r[col]),
                    side("gaussian_costs", est, n, n=n, grid="62 points"),
                    side("gaussian_costs", "sf", n, n=n, grid="62 points"),
                    fmt=integer,
                    basis="count of grid points",
                )
    put("GcPanelNbig", 64, integer)
    # option Greeks at the money: the control variate's coefficient fitted leave-one-out
    s = read("option_greeks")
    c = s[
        (s["kind"] == "coordinate") & np.isclose(s["at_moneyness"], 1.0) & (s["at_kind"] == "call")
    ]
    for coord, gw in (("s0", "Delta"), ("sigma", "Vega")):
        for n, nw in ((4, "Four"), (256, "Big")):
            var = {
                est: one(c, "variance", estimator=est, n=n, coordinate=coord)
                for est in ("lr", "lr+cv (loo)", "lr+cv* (oracle)")
            }
            sd = {
                est: side(
                    "option_greeks", est, n, kind="call", coordinate=coord, moneyness=1.0, n=n
                )
                for est in ("lr", "lr+cv (loo)")
            }
            pair(
                f"OgLoo{gw}{nw}VsLr",
                var["lr+cv (loo)"],
                var["lr"],
                sd["lr+cv (loo)"],
                sd["lr"],
            )
            put(f"OgOracle{gw}{nw}", var["lr+cv* (oracle)"])
    put("OgLooNbig", 256, integer)
    # contextual bandit: b per logit fitted leave-one-out / cross-fitted beside the oracle b*
    m = read("contextual_bandit")
    m = m[m["kind"] == "mean"]
    first, n = int(m["step"].min()), int(m["n"].iloc[0])
    none = one(m, "exact_variance", estimator="no baseline", step=first)
    for est, w in (("b per logit, fitted LOO", "Loo"), ("b per logit, cross-fitted", "Xfit")):
        compare(
            f"CbNoneOver{w}",
            none / one(m, "exact_variance", estimator=est, step=first),
            side("contextual_bandit", "no baseline", n, n=n, step=first),
            side("contextual_bandit", est, n, n=n, step=first),
        )
    # Bernoulli toy: the fitted optimal baseline (running moments of earlier batches)
    b = read("bernoulli_toy")
    fb = b[(b["kind"] == "coordinate") & (b["estimator"] == "sf+opt (fitted)")]
    nz = fb[fb["variance"] > 1e-20]
    put("BtFittedCells", len(fb), integer)
    put("BtFittedNonzero", len(nz), integer)
    put("BtFittedMax", float(nz["variance"].max()) if len(nz) else 0.0)
    put("BtFittedWarmup", setting("bernoulli_toy", "warmup"), integer)


def seed_intervals() -> None:
    """Final loss / return of the extra training seeds, mean and Student-t 95% interval."""

    def last(df: pd.DataFrame) -> pd.Series:
        return df[df["step"] == df["step"].max()].iloc[0]

    bt = read("bernoulli_toy", "seeds_summary")
    r = last(bt[np.isclose(bt["at_t"].astype(float), 0.45)])
    put("BtSeedN", int(r["n_seeds"]), integer)
    for k, w in (("loss_mean", ""), ("loss_lo", "Lo"), ("loss_hi", "Hi")):
        put(f"BtSeedLossA{w}", float(r[k]), lambda x: num(x, 4))
    for exp, pre, fmt in (
        ("arm_toy", "Arm", lambda x: num(x, 4)),
        ("quadratic_200", "Qd", lambda x: num(x, 5)),
    ):
        r = last(read(exp, "seeds_summary"))
        put(f"{pre}SeedN", int(r["n_seeds"]), integer)
        for k, w in (("loss_mean", ""), ("loss_lo", "Lo"), ("loss_hi", "Hi")):
            put(f"{pre}SeedLoss{w}", float(r[k]), fmt)
    cp = read("rl_cartpole", "seeds_summary")
    r = last(cp[cp["env"] == "CartPole-v1"])
    put("CpSeedN", int(r["n_seeds"]), integer)
    for k, w in (("return_mean_mean", ""), ("return_mean_lo", "Lo"), ("return_mean_hi", "Hi")):
        put(f"CpSeedReturn{w}", float(r[k]), num3)


def fitted_gaussian() -> None:
    """The fitted b (from samples) beside the oracle b*, when the table has it.

    Written against the "fitted" helper's rows: any estimator in gaussian_costs/summary.csv
    whose name starts with ``sf+b`` but is not the oracle ``sf+b*`` (e.g. ``sf+b``,
    ``sf+b(fitted)``), quoted for cos(k x) at k = 1 (else the smallest k it has) and
    n = 32 (else its largest n), against the plain score function at the same n.
    """
    s = read("gaussian_costs")
    ests = sorted(set(s["estimator"]))
    names = [e for e in ests if e.startswith("sf+b") and not e.startswith("sf+b* (oracle)")]
    c = s[(s["kind"] == "coordinate") & (s["at_cost"] == "cos")]
    fit = c[c["estimator"].isin(names[:1])]
    flag("HaveFittedGc", not fit.empty)
    if fit.empty:
        placeholders("GcFittedOverSfCosMu", "GcFittedOverSfCosSigma", "GcFittedN", "GcFittedK")
        return
    n = 32 if 32 in set(fit["n"]) else int(fit["n"].max())
    ks = sorted(fit["at_k"].astype(float).unique())
    k = 1.0 if any(np.isclose(ks, 1.0)) else ks[0]
    put("GcFittedN", n, integer)
    put("GcFittedK", k)
    for coord, macro in (("loc[0]", "Mu"), ("scale[0]", "Sigma")):
        rows = c[(c["coordinate"] == coord) & (c["n"] == n)]
        a = one(rows, "variance", estimator=names[0], at_k=k)
        b = one(rows, "variance", estimator="sf", at_k=k)
        compare(
            f"GcFittedOverSfCos{macro}",
            a / b,
            side(
                "gaussian_costs",
                names[0],
                one(rows, "n_evals", estimator=names[0], at_k=k),
                n=n,
                k=k,
            ),
            side("gaussian_costs", "sf", one(rows, "n_evals", estimator="sf", at_k=k), n=n, k=k),
        )


def blr() -> None:
    """Bayesian logistic regression (Mohamed et al. 2020, sec. 8.3)."""
    t = read("blr_vi", "trajectories")
    s = read("blr_vi")
    ev = s.groupby("estimator")["n_evals"].first()
    last = int(t["step"].max())
    put("BlrSteps", last, integer)
    put("BlrEvery", int(np.diff(np.sort(t["step"].unique()))[0]), integer)
    put("BlrReps", int(t["n_reps"].iloc[0]), integer)
    put("BlrElboFrom", ELBO_FROM, integer)
    put("BlrWarmup", setting("blr_vi", "warmup"), integer)
    coords = s["coordinate"]
    put("BlrMeans", int(coords.str.startswith("loc[").sum() / s["estimator"].nunique()), integer)
    seed_col = next((c for c in ("seed", "run") if c in t.columns), None)
    n_seeds = int(t[seed_col].nunique()) if seed_col else 1
    put("BlrSeeds", n_seeds, integer)
    loc = t[(t["block"] == "loc") & (t["reduce"] == "mean")]
    keys = ["step", "estimator"] + ([seed_col] if seed_col else [])
    per_seed = loc.groupby(keys)[["variance", "elbo"]].mean()
    v = per_seed.groupby(level=["step", "estimator"]).mean().loc[last]
    names = {
        "pathwise": "Pathwise",
        "pathwise+delta": "PathwiseDelta",
        "mvd": "Mvd",
        "mvd+delta": "MvdDelta",
        "sf": "Sf",
        "sf+delta": "SfDelta",
        "sf+ema": "SfEma",
    }
    for est, macro in names.items():
        put(f"BlrVar{macro}", v.loc[est, "variance"])
        put(f"BlrElbo{macro}", v.loc[est, "elbo"], num3)
        put(f"Blr{macro}Evals", ev[est], integer)

    def sd(est: str, n: int | None = None) -> dict[str, Any]:
        k = int(ev[est]) if n is None else n
        return side("blr_vi", est, k, step=last, n=1 if n is None else n)

    var = v["variance"]
    # per sample (costs labelled) and at equal cost (the cheaper one averaged over more
    # i.i.d. samples: its variance divided by the cost ratio)
    compare("BlrSfOverPathwise", var["sf"] / var["pathwise"], sd("sf"), sd("pathwise"))
    compare("BlrSfOverSfDelta", var["sf"] / var["sf+delta"], sd("sf"), sd("sf+delta"))
    k = int(ev["sf+delta"])
    compare(
        "BlrSfOverSfDeltaEq",
        var["sf"] / k / var["sf+delta"],
        sd("sf", k),
        sd("sf+delta"),
    )
    compare(
        "BlrPathwiseDeltaGain",
        1 - var["pathwise+delta"] / var["pathwise"],
        sd("pathwise+delta"),
        sd("pathwise"),
        pct,
    )
    k = int(ev["pathwise+delta"])
    compare(
        "BlrPathwiseDeltaEqOverPathwise",
        var["pathwise+delta"] / (var["pathwise"] / k),
        sd("pathwise+delta"),
        sd("pathwise", k),
    )
    compare("BlrMvdOverPathwise", var["mvd"] / var["pathwise"], sd("mvd"), sd("pathwise"))
    k = int(ev["mvd"])
    compare(
        "BlrMvdEqOverPathwise", var["mvd"] / (var["pathwise"] / k), sd("mvd"), sd("pathwise", k)
    )
    compare("BlrSfOverSfEma", var["sf"] / var["sf+ema"], sd("sf"), sd("sf+ema"))
    # the same ratios over the checkpoints of the second half of training
    piv = per_seed.groupby(level=["step", "estimator"]).mean()["variance"].unstack()
    late = piv[piv.index >= last / 2]
    r1 = late["sf"] / late["pathwise"]
    r2 = late["sf"] / late["sf+delta"]
    put("BlrLateFrom", int(late.index.min()), integer)
    compare("BlrSfOverPathwiseLo", r1.min(), sd("sf"), sd("pathwise"))
    compare("BlrSfOverPathwiseHi", r1.max(), sd("sf"), sd("pathwise"))
    compare("BlrSfOverSfDeltaLo", r2.min(), sd("sf"), sd("sf+delta"), label="BlrSfOverSfDelta")
    compare("BlrSfOverSfDeltaHi", r2.max(), sd("sf"), sd("sf+delta"), label="BlrSfOverSfDelta")
    # seed-to-seed spread of the final ELBO and ratio (when the seeds helper's runs exist)
    flag("HaveBlrSeeds", n_seeds >= 2)
    if n_seeds >= 2:
        fin = per_seed.xs(last, level="step")
        el = fin["elbo"].unstack("estimator")
        rr = fin["variance"].unstack("estimator")
        ratio = rr["sf"] / rr["pathwise"]
        compare("BlrSfOverPathwiseSeedLo", ratio.min(), sd("sf"), sd("pathwise"))
        compare("BlrSfOverPathwiseSeedHi", ratio.max(), sd("sf"), sd("pathwise"))
        put("BlrElboSfSeedLo", el["sf"].min(), num3)
        put("BlrElboSfSeedHi", el["sf"].max(), num3)
        put("BlrElboPathwiseSeedLo", el["pathwise"].min(), num3)
        put("BlrElboPathwiseSeedHi", el["pathwise"].max(), num3)
    else:
        placeholders(
            "BlrSfOverPathwiseSeedLo",
            "BlrSfOverPathwiseSeedHi",
            "BlrElboSfSeedLo",
            "BlrElboSfSeedHi",
            "BlrElboPathwiseSeedLo",
            "BlrElboPathwiseSeedHi",
        )


def option_greeks() -> None:
    """Black-Scholes delta and vega (Glasserman 2003, ch. 7)."""
    from scipy import stats

    e = read("option_greeks", "exact")
    atm = e[np.isclose(e["moneyness"], 1.0)]
    og = "option_greeks"

    def v(kind: str, coord: str, est: str) -> float:
        return one(atm, "exact_variance", kind=kind, coordinate=coord, estimator=est)

    def sd(kind: str, coord: str, est: str) -> dict[str, Any]:
        return side(og, est, 1, kind=kind, coordinate=coord, moneyness=1.0, n=1)

    for kind, coord, a, b, macro in [
        ("call", "s0", "lr", "lr+cv* (oracle)", "CallDeltaLrVsCv"),
        ("call", "s0", "pathwise", "pathwise+cv* (oracle)", "CallDeltaPwVsCv"),
        ("call", "sigma", "lr", "pathwise", "CallVegaLrVsPw"),
        ("digital", "s0", "lr", "lr+cv* (oracle)", "DigDeltaLrVsCv"),
    ]:
        pair(
            f"Og{macro}",
            v(kind, coord, a),
            v(kind, coord, b),
            sd(kind, coord, a),
            sd(kind, coord, b),
        )
    put("OgCallDeltaLr", v("call", "s0", "lr"))
    put("OgCallDeltaPw", v("call", "s0", "pathwise"))
    put("OgMinMoneyness", e["moneyness"].min())
    put("OgMaxMoneyness", e["moneyness"].max())
    b = read("option_greeks", "bias")
    put("OgBiasN", int(b["n"].iloc[0]), integer)
    put("OgReps", int(b["n_reps"].iloc[0]), integer)
    dig = b[(b["kind"] == "digital") & np.isclose(b["moneyness"], 1.0) & (b["greek"] == "delta")]
    put("OgDigTruth", one(dig, "truth", estimator="lr"), lambda x: num(x, 4))
    put("OgDigPathwiseMean", one(dig, "mean", estimator="pathwise"))
    ok = b[~((b["kind"] == "digital") & b["estimator"].str.startswith("pathwise"))]
    put("OgBiasRows", len(ok), integer)
    put("OgMaxAbsZ", ok["z"].abs().max())
    # a family-wise test of "no bias": Bonferroni over the cells (valid under any
    # dependence between them, e.g. common random numbers)
    put("OgBonferroniZ", stats.norm.isf(0.05 / 2 / len(ok)))
    put("OgBiasRejected", int((ok["z"].abs() > stats.norm.isf(0.05 / 2 / len(ok))).sum()), integer)


def sas_tie_choices(eta: float, k: int) -> list[float]:
    """Exact variance of sum-and-sample (one sample) over every tie-consistent summed set.

    The k most probable of the 8 joint states are summed; when probabilities tie at the
    boundary, every choice among the tied states is a valid "k most probable" set. Exact,
    by enumeration of the states (no sampling). Returns the variance of each choice.
    """
    oracles = importlib.import_module("experiments.liu_kool_toy.oracles")
    models = importlib.import_module("experiments.liu_kool_toy.models")
    t = oracles.joint_table(models.problem(eta))
    q, fs = t["q"], t["fs"]
    qr = np.round(q, 12)
    kth = np.sort(qr)[::-1][k - 1]
    sure = np.flatnonzero(qr > kth)
    tied = np.flatnonzero(qr == kth)
    out = []
    for extra in itertools.combinations(tied, k - len(sure)):
        summed = set(sure) | set(extra)
        rest = np.array([i for i in range(len(q)) if i not in summed])
        if len(rest) <= 1:
            out.append(0.0)
            continue
        mass = q[rest].sum()
        r = q[rest] / mass
        out.append(float(mass**2 * (r @ (fs[rest] - r @ fs[rest]) ** 2)))
    return out


def sas_tie_spread(eta: float, k: int) -> tuple[float, float, int]:
    """(min, max, number) of the exact variances over the tie choices (``sas_tie_choices``)."""
    out = sas_tie_choices(eta, k)
    return min(out), max(out), len(out)


def liu_kool() -> None:
    """Liu et al. (2019) / Kool et al. (2020) toy."""
    e = read("liu_kool_toy", "exact")
    s = read("liu_kool_toy")
    lk = "liu_kool_toy"
    put("LkReps", setting("liu_kool_toy", "n_reps"), integer)
    put("LkTruthZero", one(e, "truth", eta=0.0, family="reinforce", size=1), lambda x: num(x, 2))
    put(
        "LkTruthMinusFour",
        one(e, "truth", eta=-4.0, family="reinforce", size=1),
        lambda x: num(x, 4),
    )
    put(
        "LkReinforce",
        one(e, "exact_variance", eta=0.0, family="reinforce", size=1),
        num3,
    )
    rl2 = one(e, "exact_variance", eta=0.0, family="rloo", size=2)
    sf2 = one(e, "exact_variance", eta=0.0, family="reinforce", size=2)
    pair(
        "LkRlooVsReinforceTwo",
        rl2,
        sf2,
        side(lk, "rloo", 2, eta=0.0, size=2),
        side(lk, "reinforce", 2, eta=0.0, size=2),
    )
    sas = e[(e["family"] == "sum_and_sample")].drop_duplicates(["eta", "size"])
    for k, word in [(1, "One"), (3, "Three"), (6, "Six")]:
        put(f"LkSas{word}", one(sas, "exact_variance", eta=0.0, size=k))
        put(f"LkSas{word}Evals", one(sas, "n_evals", eta=0.0, size=k), integer)
    put("LkSasOneMinusFour", one(sas, "exact_variance", eta=-4.0, size=1))
    zero = sas[(sas["eta"] == 0.0) & (sas["exact_variance"] <= 1e-12 * sas["exact_variance"].max())]
    put("LkSasZeroFrom", int(zero["size"].min()), integer)
    # the tie-break: at eta = 0 all eight states are equiprobable
    for eta, k, macro in [(0.0, 1, "ZeroOne"), (0.0, 6, "ZeroSix"), (-4.0, 2, "MinusFourTwo")]:
        lo, hi, n = sas_tie_spread(eta, k)
        put(f"LkTie{macro}Lo", lo)
        put(f"LkTie{macro}Hi", hi)
        put(f"LkTie{macro}Choices", n, integer)
    tied_m4 = [k for k in range(1, 8) if sas_tie_spread(-4.0, k)[2] > 1]
    # which rule the table follows: support order (the first choice) or a uniformly random
    # choice, whose variance is the mean over choices (every choice is unbiased)
    choices = sas_tie_choices(0.0, 1)
    table = one(sas, "exact_variance", eta=0.0, size=1)
    random_ties = bool(np.isclose(table, np.mean(choices), rtol=1e-6)) and not bool(
        np.isclose(table, choices[0], rtol=1e-6)
    )
    flag("LkTieRandom", random_ties)
    put("LkTieMinusFourKs", ", ".join(str(k) for k in tied_m4), text=True)
    c = s[s["kind"] == "coordinate"].copy()
    fam = c["estimator"].str.replace(r"\(.*", "", regex=True)
    c = c.assign(family=fam.replace({"sas": "sum_and_sample"}))
    c = c.merge(
        e.rename(columns={"eta": "eta_", "exact_variance": "ev"})[
            ["eta_", "family", "n_evals", "ev"]
        ].drop_duplicates(["eta_", "family", "n_evals"]),
        left_on=[c["at_eta"].astype(float), "family", "n_evals"],
        right_on=["eta_", "family", "n_evals"],
        how="inner",
    )
    c = c[c["estimator"].isin(["reinforce", "rloo"])].assign(exact_variance=lambda d: d["ev"])
    inside, total = coverage(c)
    put("LkCoverIn", inside, integer)
    put("LkCoverOf", total, integer)


def bernoulli_toy() -> None:
    """REBAR / RELAX toy."""
    s = read("bernoulli_toy")
    tr = read("bernoulli_toy", "training")
    bt = "bernoulli_toy"
    put("BtReps", setting("bernoulli_toy", "n_reps"), integer)
    put("BtSteps", setting("bernoulli_toy", "trajectory", "steps"), integer)
    put("BtEvery", setting("bernoulli_toy", "trajectory", "every"), integer)
    t45 = tr[np.isclose(tr["at_t"].astype(float), 0.45)]
    t499 = tr[np.isclose(tr["at_t"].astype(float), 0.499)]
    put("BtFinalLossA", t45["loss"].iloc[-1], lambda x: num(x, 4))
    put("BtOptLossA", 0.45**2, lambda x: num(x, 4))  # theta -> 0: loss -> t^2
    put("BtLossMinB", t499["loss"].min(), lambda x: num(x, 4))
    put("BtLossMaxB", t499["loss"].max(), lambda x: num(x, 4))
    c = s[
        (s["kind"] == "coordinate") & (s["step"] == 0) & np.isclose(s["at_t"].astype(float), 0.45)
    ]
    sf1 = one(c, "variance", estimator="sf", n=1)
    sf2 = one(c, "variance", estimator="sf", n=2)
    rl2 = one(c, "variance", estimator="rloo", n=2)
    arm1 = one(c, "variance", estimator="arm", n=1)
    put("BtSfZero", sf1)
    put("BtSfTwoZero", sf2)
    put("BtRlooZero", rl2)
    put("BtArmZero", arm1)
    put("BtRbEvals", one(c, "n_evals", estimator="exact (RB)", n=1), integer)
    at = {"t": 0.45, "step": 0}
    compare(
        "BtSfOverRloo",
        sf2 / rl2,
        side(bt, "sf", 2, n=2, **at),
        side(bt, "rloo", 2, n=2, **at),
    )
    compare(
        "BtSfOverArm",
        sf2 / arm1,
        side(bt, "sf", 2, n=2, **at),
        side(bt, "arm", 2, n=1, **at),
    )
    mk = markers(s, tr)  # markers the replicates can resolve (enough rare outcomes)
    inside, total = coverage(mk[mk["resolved"]])
    put("BtCoverIn", inside, integer)
    put("BtCoverOf", total, integer)


def arm_toy() -> None:
    """ARM toy (Yin & Zhou 2019) and its p0 grid."""
    s = read("arm_toy")
    tr = read("arm_toy", "training")
    c = s[s["kind"] == "coordinate"]
    put("ArmReps", setting("arm_toy", "n_reps"), integer)
    put("ArmSteps", int(tr["step"].max()), integer)
    theta = 1 / (1 + np.exp(-tr["theta.logits[0]"].iloc[-1]))
    put("ArmFinalTheta", theta, num3)
    first, last = 0, int(c["step"].max())
    put("ArmSfStart", one(c, "variance", estimator="sf", n=2, step=first))
    put("ArmRlooStart", one(c, "variance", estimator="rloo", n=2, step=first))
    put("ArmArmStart", one(c, "variance", estimator="arm", n=1, step=first))
    put("ArmArmEnd", one(c, "exact_variance", estimator="arm", n=1, step=last), num3)
    put("ArmDisarmEnd", one(c, "exact_variance", estimator="disarm", n=1, step=last), num3)
    put("ArmRlooEnd", one(c, "exact_variance", estimator="rloo", n=2, step=last))
    # the p0 grid: each estimator trained separately, several runs
    g = read("arm_toy", "p0_grid")
    put("ArmGridRuns", g["seed"].nunique(), integer)
    put("ArmGridSteps", int(g["step"].max()), integer)
    put("ArmGridReps", int(g["n_reps"].iloc[0]), integer)
    fin = g[g["step"] == g["step"].max()].assign(theta=lambda d: 1 / (1 + np.exp(-d["theta[0]"])))
    for p0, pm in [(0.499, "B"), (0.501, "C")]:
        f = fin[np.isclose(fin["at_p0"], p0)]
        for tr_name, tm in [("reinforce", "Sf"), ("disarm", "Disarm"), ("relax", "Relax")]:
            th = f[f["trainer"] == tr_name]["theta"]
            put(f"ArmGrid{tm}Theta{pm}", th.mean(), num3)
            put(f"ArmGrid{tm}Theta{pm}Lo", th.min(), num3)
            put(f"ArmGrid{tm}Theta{pm}Hi", th.max(), num3)


def quadratic_200() -> None:
    """Double control variates toy (Titsias & Shi 2022)."""
    s = read("quadratic_200")
    tr = read("quadratic_200", "training")
    m = s[(s["kind"] == "mean") & (s["step"] == 0)]
    qd = "quadratic_200"
    put("QdReps", setting("quadratic_200", "n_reps"), integer)
    put("QdEvery", int(np.diff(np.sort(s["step"].unique()))[0]), integer)
    put("QdSteps", int(s["step"].max()), integer)
    put("QdDim", n_coordinates(s), integer)
    rows = [
        ("sf", "Sf", 2),
        ("rloo", "Rloo", 2),
        ("disarm", "Disarm", 1),  # one antithetic pair: 2 evaluations, like K = 2
        ("dependency_aware", "Dep", 2),
    ]
    ests = set(m["estimator"])
    rows += [(e, w, 2) for e, w in (("double_cv", "DoubleCv"), ("rodeo", "Rodeo")) if e in ests]
    flag("HaveQdDoubleCv", "double_cv" in ests)
    for est, macro, n in rows:
        put(f"Qd{macro}", one(m, "variance", estimator=est, n=n))
        put(f"Qd{macro}Evals", one(m, "n_evals", estimator=est, n=n), integer)
    for macro in ("DoubleCv", "Rodeo"):
        if f"Qd{macro}" not in MACROS:
            placeholders(f"Qd{macro}", f"Qd{macro}Evals")

    def sd(est: str, n: int) -> dict[str, Any]:
        return side(qd, est, one(m, "n_evals", estimator=est, n=n), n=n, step=0)

    compare(
        "QdDepOverRloo",
        one(m, "variance", estimator="dependency_aware", n=2)
        / one(m, "variance", estimator="rloo", n=2),
        sd("dependency_aware", 2),
        sd("rloo", 2),
    )
    compare(
        "QdSfOverDep",
        one(m, "variance", estimator="sf", n=2)
        / one(m, "variance", estimator="dependency_aware", n=2),
        sd("sf", 2),
        sd("dependency_aware", 2),
    )
    if "double_cv" in ests:
        end = s[(s["kind"] == "mean") & (s["step"] == s["step"].max())]
        last = int(end["step"].iloc[0])
        for est, w in (("double_cv", "DoubleCv"), ("rodeo", "Rodeo")):
            compare(
                f"Qd{w}OverRlooEnd",
                one(end, "variance", estimator=est, n=2)
                / one(end, "variance", estimator="rloo", n=2),
                side(qd, est, one(end, "n_evals", estimator=est, n=2), n=2, step=last),
                side(qd, "rloo", one(end, "n_evals", estimator="rloo", n=2), n=2, step=last),
            )
    else:
        placeholders("QdDoubleCvOverRlooEnd", "QdRodeoOverRlooEnd")
    put("QdLeEvals", one(m, "n_evals", estimator="local_expectation", n=2), integer)
    put("QdLossStart", tr["loss"].iloc[0], lambda x: num(x, 5))
    put("QdLossEnd", tr["loss"].iloc[-1], lambda x: num(x, 5))


def bandit() -> None:
    """Contextual bandit (ours)."""
    s = read("contextual_bandit")
    tr = read("contextual_bandit", "training")
    m = s[s["kind"] == "mean"]
    first, last = int(m["step"].min()), int(m["step"].max())
    put("CbSteps", last, integer)
    put("CbEpisodes", int(m["n"].iloc[0]), integer)
    put("CbReps", setting("contextual_bandit", "n_reps"), integer)
    names = {
        "no baseline": "None",
        "constant J (oracle)": "Const",
        "state value V(s) (oracle)": "Value",
        "optimal b* per logit (oracle)": "Opt",
        "rloo": "Rloo",
        "rloo per state": "RlooState",
    }
    for est, macro in names.items():
        put(f"Cb{macro}Start", one(m, "exact_variance", estimator=est, step=first), num3)
        put(f"Cb{macro}End", one(m, "exact_variance", estimator=est, step=last))
    n = int(m["n"].iloc[0])
    compare(
        "CbNoneOverOpt",
        one(m, "exact_variance", estimator="no baseline", step=first)
        / one(m, "exact_variance", estimator="optimal b* per logit (oracle)", step=first),
        side("contextual_bandit", "no baseline", n, n=n, step=first),
        side("contextual_bandit", "optimal b* per logit (oracle)", n, n=n, step=first),
    )
    put("CbReturnStart", tr["loss"].iloc[0], lambda x: num(x, 4))
    put("CbReturnEnd", tr["loss"].iloc[-1], lambda x: num(x, 4))
    shrink = one(m, "exact_variance", estimator="no baseline", step=first) / one(
        m, "exact_variance", estimator="no baseline", step=last
    )
    put("CbShrink", shrink)
    inside, total = coverage(s[s["kind"] == "coordinate"])
    put("CbCoverIn", inside, integer)
    put("CbCoverOf", total, integer)


def sbn() -> None:
    """Sigmoid belief net on the 8x8 digits."""
    s = read("sbn_digits")
    # the mean encoder-weight variance: geometric mean over the training seeds (t 95%)
    m = read("sbn_digits", "variance_summary").rename(columns={"variance_mean": "variance"})
    elbo = read("sbn_digits", "elbo_summary").sort_values("step")  # mean over the seeds
    sb = "sbn_digits"
    put("SbSeeds", int(elbo["n_seeds"].min()), integer)
    put("SbReps", setting("sbn_digits", "n_reps"), integer)
    put("SbElboStart", elbo["elbo_mean"].iloc[0], num3)
    put("SbElboEnd", elbo["elbo_mean"].iloc[-1], num3)
    put("SbSteps", int(elbo["step"].max()), integer)
    weights = n_coordinates(s)
    put("SbWeights", weights, integer)
    put("SbLatents", weights // (8 * 8 + 1), integer)  # one weight per pixel and a bias
    last = m[m["at_step"] == m["at_step"].max()]
    step = int(last["at_step"].iloc[0])

    def v(est: str, n: int) -> float:
        return one(last, "variance", estimator=est, n=n)

    def sd(est: str, n: int) -> dict[str, Any]:
        return side(sb, est, one(last, "n_evals", estimator=est, n=n), n=n, step=step)

    put("SbRlooTwo", v("sf+rloo", 2))
    put("SbArmOne", v("arm", 1))
    put("SbDisarmOne", v("disarm", 1))
    compare(
        "SbRlooTwoOverDisarmOne",
        v("sf+rloo", 2) / v("disarm", 1),
        sd("sf+rloo", 2),
        sd("disarm", 1),
    )
    compare("SbArmOneOverRlooTwo", v("arm", 1) / v("sf+rloo", 2), sd("arm", 1), sd("sf+rloo", 2))
    big = int(m[m["estimator"] == "sf+rloo"]["n"].max())
    put("SbBigN", big, integer)
    put("SbRlooBig", v("sf+rloo", big))
    put("SbRlooBigEvals", one(last, "n_evals", estimator="sf+rloo", n=big), integer)
    put("SbArmBig", v("arm", big))
    put("SbDisarmBig", v("disarm", big))
    put("SbDisarmBigEvals", one(last, "n_evals", estimator="disarm", n=big), integer)
    put("SbLeOne", v("local_expectation", 1))
    put("SbLeOneEvals", one(last, "n_evals", estimator="local_expectation", n=1), integer)
    eff = last.assign(e=1 / (last["variance"] * last["n_evals"])).set_index(["estimator", "n"])["e"]
    compare(
        "SbEffRlooBigOverDisarmBig",
        eff[("sf+rloo", big)] / eff[("disarm", big)],
        sd("sf+rloo", big),
        sd("disarm", big),
        basis="efficiency",
    )
    for est, w in (("sf+rloo", "Rloo"), ("disarm", "Disarm")):
        compare(
            f"SbEff{w}Big",
            eff[(est, big)],
            sd("sf+rloo", big),
            sd("disarm", big),
            basis="efficiency",
            label="SbEffRlooBigOverDisarmBig",
        )
    compare(
        "SbEffRlooOverLe",
        eff[("sf+rloo", big)] / eff[("local_expectation", 1)],
        sd("sf+rloo", big),
        sd("local_expectation", 1),
        basis="efficiency",
    )


def vae() -> None:
    """Binary VAE on the 8x8 digits (vae_digits): ranking, training, VIMCO."""
    vd = "vae_digits"
    mod = importlib.import_module("experiments.vae_digits")
    rk = read(vd, "ranking")
    step = int(rk["step"].max())
    last = rk[rk["step"] == step].sort_values("rank")
    put("VaeReps", setting(vd, "n_reps"), integer)
    put("VaeStep", step, integer)
    put("VaeBudget", int(mod.BUDGET), integer)
    put("VaeWarmup", int(mod.WARMUP), integer)
    put("VaeEstimators", len(last), integer)
    put("VaeSnapshots", rk["step"].nunique(), integer)
    row = {str(r["estimator"]): r for _, r in last.iterrows()}
    words = {
        "sf": "Sf",
        "sf+rloo": "Rloo",
        "arm": "Arm",
        "disarm": "Disarm",
        "local_expectation": "Le",
        "gumbel_softmax": "Gumbel",
        "straight_through": "St",
        "relax": "Relax",
        "rebar": "Rebar",
        "rodeo": "Rodeo",
        "double_cv": "Dcv",
        "unordered_set4": "Uset",
    }
    for est, w in words.items():
        r = row[est]
        put(f"Vae{w}", float(r["variance"]))
        put(f"Vae{w}Evals", int(r["f_evals"]), integer)
        put(f"Vae{w}N", int(r["n"]), integer)
    for est, w in (("gumbel_softmax", "Gumbel"), ("straight_through", "St")):
        put(f"Vae{w}Mse", float(row[est]["mse"]))
    # the best unbiased estimator at the final snapshot, and its interval against RLOO's
    unb = last[~last["biased"].astype(bool)]
    best = unb.iloc[0]
    put("VaeBestUnbiased", str(best["label"]), text=True)

    def sd(est: str) -> dict[str, Any]:
        r = row[est]
        return side(vd, est, int(r["f_evals"]), n=int(r["n"]), step=step)

    def ratio(a: str, b: str) -> float:
        return float(row[a]["variance"]) / float(row[b]["variance"])

    compare("VaeSfOverRloo", ratio("sf", "sf+rloo"), sd("sf"), sd("sf+rloo"))
    compare("VaeDisarmOverRloo", ratio("disarm", "sf+rloo"), sd("disarm"), sd("sf+rloo"))
    compare("VaeArmOverDisarm", ratio("arm", "disarm"), sd("arm"), sd("disarm"))
    compare("VaeRlooOverLe", ratio("sf+rloo", "local_expectation"), sd("sf+rloo"),
            sd("local_expectation"))  # fmt: skip
    compare("VaeRlooOverRelax", ratio("sf+rloo", "relax"), sd("sf+rloo"), sd("relax"))
    compare("VaeRebarOverRloo", ratio("rebar", "sf+rloo"), sd("rebar"), sd("sf+rloo"))
    # at the first snapshot the best unbiased estimator is another one
    first = rk[rk["step"] == rk["step"].min()]
    put("VaeFirstStep", int(first["step"].iloc[0]), integer)
    best0 = first[~first["biased"].astype(bool)].sort_values("rank")["label"].iloc[0]
    put("VaeFirstBestUnbiased", str(best0), text=True)

    def ci(x: float, lo: float, hi: float, fmt: Callable[[Any], str] = num) -> str:
        return f"${fmt(x)}$ \\scriptsize[${fmt(lo)}$, ${fmt(hi)}$]"

    # the ranking table: variance with its 95% interval at the first and last snapshot
    fin = read(vd, "training_final").set_index("estimator")
    lines = []
    for _, r in last.iterrows():
        est = str(r["estimator"])
        r0 = first[first["estimator"] == est].iloc[0]
        f = fin.loc[est]
        cells = [
            str(int(r["rank"])),
            _tex(str(r["label"])),
            f"{int(r['n'])}",
            f"{int(r['f_evals'])}" + ("$^\\dagger$" if isinstance(r["extra_cost"], str) else ""),
            f"${num(r0['variance'])}$",
            ci(r["variance"], r["variance_lo"], r["variance_hi"]),
            f"${num(r['ratio_to_rloo'])}$",
            f"{int(f['n'])}",
            f"{f['f_evals_per_step']:g}",
            ci(f["elbo_mean"], f["elbo_lo"], f["elbo_hi"], num3),
            f"${num(f['seconds_mean'])}$",
        ]
        lines.append(" & ".join(cells) + " \\\\")
    out_dir("generated").joinpath("vae_ranking.tex").write_text(
        "% Generated by paper/make_numbers.py from results/vae_digits: do not edit by hand.\n"
        + "\n".join(lines)
        + "\n\\bottomrule\n"  # here: \input followed by a rule breaks the tabular
    )
    # training: final ELBO over seeds (Student-t intervals in training_final.csv)
    put("VaeSeeds", int(fin["seeds"].iloc[0]), integer)
    put("VaeTrainSteps", int(fin["steps"].iloc[0]), integer)
    for est, w in words.items():
        put(f"VaeElbo{w}", float(fin.loc[est, "elbo_mean"]), num3)
        put(f"VaeElbo{w}Lo", float(fin.loc[est, "elbo_lo"]), num3)
        put(f"VaeElbo{w}Hi", float(fin.loc[est, "elbo_hi"]), num3)
        put(f"VaeTrainN{w}", int(fin.loc[est, "n"]), integer)
        put(f"VaeTrainEvals{w}", float(fin.loc[est, "f_evals_per_step"]), integer)
        put(f"VaeTrainSec{w}", float(fin.loc[est, "seconds_mean"]), lambda x: num(x, 2))
    # VIMCO against K-sample REINFORCE on the IWAE bound, same K samples (equal cost)
    vm = read(vd, "vimco")
    vl = vm[vm["step"] == vm["step"].max()]
    put("VaeVimcoK", int(vl["K"].iloc[0]), integer)
    put("VaeVimcoStep", int(vl["step"].iloc[0]), integer)
    vv = one(vl, "variance", estimator="vimco")
    vs = one(vl, "variance", estimator="sf")
    put("VaeVimco", vv)
    put("VaeVimcoSf", vs)
    kk = int(one(vl, "n_evals", estimator="vimco"))
    compare(
        "VaeSfOverVimco",
        vs / vv,
        side(
            vd, "sf (IWAE)", int(one(vl, "n_evals", estimator="sf")), step=int(vl["step"].iloc[0])
        ),
        side(vd, "vimco", kk, step=int(vl["step"].iloc[0])),
    )
    vr = vm.pivot_table(index="step", columns="estimator", values="variance")
    r = vr["sf"] / vr["vimco"]
    for w, at in (("Min", r.idxmin()), ("Max", r.idxmax())):
        compare(
            f"VaeSfOverVimco{w}",
            float(r.loc[at]),
            side(vd, "sf (IWAE)", kk, step=int(at)),
            side(vd, "vimco", kk, step=int(at)),
        )


def rebar_relax() -> None:
    """REBAR / RELAX toy with every estimator trained separately (rebar_relax_toy)."""
    s = read("rebar_relax_toy")
    runs = read("rebar_relax_toy", "runs")
    rr = "rebar_relax_toy"
    put("RrRuns", runs["seed"].nunique(), integer)
    put("RrSteps", int(runs["step"].max()), integer)
    put("RrReps", int(runs["n_reps"].iloc[0]), integer)
    fin = runs[runs["step"] == runs["step"].max()]
    for t, tw in [(0.499, "B"), (0.45, "A")]:
        f = fin[np.isclose(fin["at_t"], t)]
        for trainer, w in [
            ("reinforce", "Sf"),
            ("rloo", "Rloo"),
            ("disarm", "Disarm"),
            ("rebar", "Rebar"),
            ("relax", "Relax"),
        ]:
            loss = f[f["trainer"] == trainer]["loss"]
            put(f"Rr{w}Loss{tw}", loss.mean(), lambda x: num(x, 5))
            put(f"Rr{w}Loss{tw}Lo", loss.min(), lambda x: num(x, 5))
            put(f"Rr{w}Loss{tw}Hi", loss.max(), lambda x: num(x, 5))
    put("RrOptLossB", 0.499**2, lambda x: num(x, 5))
    m = s[(s["kind"] == "mean") & (s["step"] == 0)]
    c = m[np.isclose(m["at_t"], 0.499)]

    def sd(est: str, n: int) -> dict[str, Any]:
        return side(rr, est, one(c, "n_evals", estimator=est, n=n), n=n, t=0.499, step=0)

    for est, w in [("reinforce", "Sf"), ("rebar", "Rebar"), ("relax", "Relax")]:
        put(f"Rr{w}Var", one(c, "variance", estimator=est, n=1))
        put(f"Rr{w}Evals", one(c, "n_evals", estimator=est, n=1), integer)
    compare(
        "RrSfOverRelax",
        one(c, "variance", estimator="reinforce", n=1) / one(c, "variance", estimator="relax", n=1),
        sd("reinforce", 1),
        sd("relax", 1),
    )
    compare(
        "RrRebarOverSf",
        one(c, "variance", estimator="rebar", n=1) / one(c, "variance", estimator="reinforce", n=1),
        sd("rebar", 1),
        sd("reinforce", 1),
    )


def rl() -> None:
    """Tabular MDP horizons (rl_tabular), GAE (rl_gae), CartPole / Acrobot (rl_cartpole)."""
    s = read("rl_tabular")
    m = s[(s["kind"] == "mean") & (s["n"] == 1)]
    put("RlReps", setting("rl_tabular", "n_reps"), integer)
    hmax, hmin = int(m["at_horizon"].max()), int(m["at_horizon"].min())
    put("RlHmax", hmax, integer)
    put("RlHmin", hmin, integer)
    ref = m[m["at_theta"] == "ref"]

    def v(est: str, h: int) -> float:
        return one(ref, "exact_variance", estimator=est, at_horizon=h)

    def sd(est: str) -> dict[str, Any]:
        return side("rl_tabular", est, 1, theta="ref", horizon=hmax, n=1)

    put("RlReinforceHmin", v("reinforce", hmin))
    put("RlReinforceHmax", v("reinforce", hmax))
    put("RlGrowth", v("reinforce", hmax) / v("reinforce", hmin))
    for est, w in [
        ("rtg", "Rtg"),
        ("rtg+V(s)", "Value"),
        ("rtg+b*(s)", "Opt"),
        ("rtg+const(1)", "Const"),
    ]:
        compare(
            f"Rl{w}OverReinforce", v(est, hmax) / v("reinforce", hmax), sd(est), sd("reinforce")
        )
    ema = one(ref, "variance", estimator="rtg+ema(t)", at_horizon=hmax)
    compare("RlEmaOverReinforce", ema / v("reinforce", hmax), sd("rtg+ema(t)"), sd("reinforce"))
    # GAE and discounting: exact bias, variance and MSE (sums over coordinates)
    g = read("rl_gae", "exact")
    g = (
        g[g["coordinate"] == "(sum)"]
        .groupby(["family", "x"])[["bias2", "variance", "mse[n=32]"]]
        .sum()
    )
    put("GaeReps", setting("rl_gae", "n_reps"), integer)
    vb = g.loc["GAE, critic Vbar"]
    put("GaeBiasZero", vb.loc[0.0, "bias2"])
    put("GaeVarZero", vb.loc[0.0, "variance"])
    put("GaeVarOne", vb.loc[1.0, "variance"])
    best = vb["mse[n=32]"].idxmin()
    put("GaeBestLambda", best)
    put("GaeMseBest", vb.loc[best, "mse[n=32]"])
    put("GaeMseOne", vb.loc[1.0, "mse[n=32]"])
    dr = g.loc["discounted reward-to-go"]
    bg = dr["mse[n=32]"].idxmin()
    put("GaeBestGamma", bg)
    put("GaeMseBestGamma", dr.loc[bg, "mse[n=32]"])
    put("GaeMseGammaOne", dr.loc[1.0, "mse[n=32]"])
    # CartPole / Acrobot at the initial policy: paired ratios to REINFORCE, 8 episodes each
    c = read("rl_cartpole")
    cm = c[c["kind"] == "mean"]
    put("CpEpisodes", int(cm["n"].iloc[0]), integer)
    put("CpReps", setting("rl_cartpole", "n_reps"), integer)
    for env, w in [("CartPole-v1", "Cart"), ("Acrobot-v1", "Acro")]:
        e = cm[cm["problem"] == env]
        n = int(e["n"].iloc[0])
        for est, ew in [("rtg", "Rtg"), ("rtg+critic", "Critic")]:
            compare(
                f"Cp{w}{ew}Ratio",
                one(e, "ratio", estimator=est),
                side("rl_cartpole", est, n, env=env, n=n),
                side("rl_cartpole", "reinforce", n, env=env, n=n),
            )
    tr = read("rl_cartpole", "trajectories")
    tm = tr[(tr["kind"] == "mean") & (tr["env"] == "CartPole-v1")]
    put("CpReturnStart", tm[tm["step"] == tm["step"].min()]["return_mean"].iloc[0], num3)
    put("CpReturnEnd", tm[tm["step"] == tm["step"].max()]["return_mean"].iloc[0], num3)
    put("CpTrainSteps", int(tm["step"].max()), integer)


def sampling_bias() -> None:
    """Antithetic / stratified / Sobol, same-batch coefficients, ST / Gumbel bias.

    results/sampling_bias: summary.csv (replicate variances at equal n, two problems),
    batch_bias.csv (exact bias of the optimal-baseline coefficient fitted on the same batch,
    leave-one-out or cross-fitted, by enumeration) and relaxation.csv (bias of
    straight-through and Gumbel-softmax against the exact gradient, 10^5 replicates).
    """
    ok = have("sampling_bias")
    flag("HaveSamplingBias", ok)
    if not ok:
        placeholders("SbiasRows", "SbiasMaxZ", "SbiasBiased")
        return
    sb = "sampling_bias"
    s = read(sb)
    rows = s[s["kind"] == "coordinate"]
    unb = rows[~rows["biased"].astype(bool)]
    z = (unb["bias"] / unb["bias_se"]).abs()
    put("SbiasRows", len(rows), integer)
    put("SbiasMaxZ", float(z.max()) if len(z) else 0.0)
    put("SbiasReps", int(rows["n_reps"].max()), integer)
    m = s[s["kind"] == "mean"]
    nmax = int(m["n"].max())
    put("SbiasNmax", nmax, integer)
    for setting_, sw in (("gauss_cos", "Gc"), ("liu_toy", "Lk")):
        g = m[m["at_setting"] == setting_]
        for est, w in (
            ("sf@antithetic", "Anti"),
            ("sf@stratified", "Strat"),
            ("sf@sobol", "Sobol"),
        ):
            for n, nw in ((2, "Two"), (nmax, "Big")):
                r = one(g, "ratio", estimator=est, n=n)
                compare(
                    f"Sbias{w}Over{sw}{nw}",
                    r,
                    side(sb, est, n, setting=setting_, n=n),
                    side(sb, "sf", n, setting=setting_, n=n),
                )
        # the optimal-baseline coefficient fitted on earlier / other samples, per n
        for est, w in (("sf+optbase_loo", "Loo"), ("sf+optbase_xfit", "Xfit")):
            for n, nw in ((4, "Four"), (nmax, "Big")):
                compare(
                    f"Sbias{w}Over{sw}{nw}",
                    one(g, "ratio", estimator=est, n=n),
                    side(sb, est, n, setting=setting_, n=n),
                    side(sb, "sf", n, setting=setting_, n=n),
                )
    # same-batch coefficient: exact bias (enumeration) against LOO / cross-fitted
    b = read(sb, "batch_bias")
    put("SbiasBatchK", b["coordinate"].nunique(), integer)
    for est, w in (("sf+optbase_batch", "Batch"), ("sf+optbase_loo", "BLoo"),
                   ("sf+optbase_xfit", "BXfit")):  # fmt: skip
        e = b[b["estimator"] == est]
        for n in (int(e["n"].min()), int(e["n"].max())):
            nw = "Lo" if n == int(e["n"].min()) else "Hi"
            put(f"Sbias{w}Bias{nw}", float(e[e["n"] == n]["exact_bias"].abs().max()))
            put(f"Sbias{w}N{nw}", n, integer)
        if est == "sf+optbase_batch":
            e2 = e[e["n"] == int(e["n"].min())]
            put("SbiasBatchRel", float(e2["relative_bias"].abs().max()), lambda x: num(x, 2))
    # straight-through and Gumbel-softmax: bias in standard errors, MSE against SF's variance
    rl = read(sb, "relaxation")
    put("SbiasRelaxReps", int(rl["n_reps"].iloc[0]), integer)
    st = rl[rl["estimator"] == "st"]
    put("SbiasStZ", float((st["bias"] / st["bias_se"]).abs().min()), lambda x: integer(x))
    put("SbiasStBias", float(st["bias"].abs().max()))
    gb = rl[rl["estimator"].str.startswith("gumbel")]
    put("SbiasGumbelZ", float((gb["bias"] / gb["bias_se"]).abs().min()), lambda x: integer(x))
    temps = sorted(gb["temperature"].unique())
    put("SbiasGumbelTlo", temps[0])
    put("SbiasGumbelThi", temps[-1])
    sfm = rl[rl["estimator"] == "sf"]["mse"].sum()
    for t, tw in ((temps[0], "Lo"), (temps[-1], "Hi")):
        g = gb[np.isclose(gb["temperature"], t)]
        put(f"SbiasGumbelBias{tw}", float(g["bias"].abs().max()))
        put(f"SbiasGumbelMse{tw}", float(g["mse"].sum()))
    put("SbiasSfMse", float(sfm))
    put("SbiasStMse", float(st["mse"].sum()))


EXPERIMENTS = {
    "gaussian_costs": "Gc",
    "blr_vi": "Blr",
    "option_greeks": "Og",
    "liu_kool_toy": "Lk",
    "bernoulli_toy": "Bt",
    "arm_toy": "Arm",
    "quadratic_200": "Qd",
    "contextual_bandit": "Cb",
    "sbn_digits": "Sb",
    "vae_digits": "Vae",
    "rebar_relax_toy": "Rr",
    "rl_tabular": "RlTab",
    "rl_gae": "Gae",
    "rl_cartpole": "Cp",
}


def timings() -> None:
    """Wall time of each full-scale run, from meta.json."""
    total = 0.0
    for name, macro in EXPERIMENTS.items():
        sec = float(meta(name)["timings"]["wall_seconds"])
        total += sec
        put(f"{macro}Seconds", sec, lambda x: integer(max(round(x), 1)))
    put("TotalMinutes", total / 60, lambda x: integer(math.ceil(x)))


def _tex(x: Any) -> str:
    """A setting as LaTeX text (escapes _, &, %, #; lists joined by commas)."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return "(" + _tex(dataclasses.asdict(x)) + ")"
    if isinstance(x, (list, tuple)):
        return ", ".join(_tex(v) for v in x)
    if isinstance(x, dict):
        return "; ".join(f"{_tex(k)} {_tex(v)}" for k, v in x.items())
    if isinstance(x, float):
        return f"{x:g}"
    out = str(x)
    for a, b in (
        ("\\", "\\textbackslash{}"),
        ("_", "\\_"),
        ("&", "\\&"),
        ("%", "\\%"),
        ("#", "\\#"),
    ):
        out = out.replace(a, b)
    return out


# settings of training runs kept in module constants, until every experiment records a
# ``hyperparameters`` dict in its meta.json: (module, attribute, what its tuple means)
_MODULE_SETTINGS = {
    "rebar_relax_toy": ("experiments.rebar_relax_toy", "TRAINING", ("runs", "steps", "every", "R")),
    "arm_toy": ("experiments.arm_toy.grid", "GRID", ("p0-grid runs", "steps", "every", "R")),
    "vae_digits": ("experiments.vae_digits", "TRAIN", None),
    "blr_vi": ("experiments.blr_vi", "FULL", None),
    "rl_cartpole": ("experiments.rl_cartpole", "FULL", None),
    "sbn_digits": ("experiments.sbn_digits", "STEPS_FULL", ("snapshots at steps",)),
}


def hyperparameters() -> list[str]:
    """Rows of the appendix table: one experiment per row, from meta.json.

    Tolerant: reads ``hyperparameters`` from meta.json (top level or the experiment's
    definition) when an experiment records one, else the trajectory, warm-up, replicates,
    sample sizes and root seed that every definition has.
    """
    rows = []
    for name in EXPERIMENTS:
        m = meta(name)
        d = m["experiment"]["definition"]
        measure = [
            f"$R = {integer(d['n_reps'])}$",
            f"$n \\in \\{{{', '.join(str(n) for n in d['n_samples'])}\\}}$",
            f"warm-up {d.get('warmup', 0)} batches",
            f"root seed {d.get('seed')}",
        ]
        train: list[str] = []
        tj = d.get("trajectory")
        if name in _HP_MODULES or name == "vae_digits":
            train.append("Table~\\ref{tab:hyper-train}")
        elif tj:
            opt = tj.get("optimizer", {})
            opt = opt.get("optimizer", opt) if isinstance(opt, dict) else opt
            train.append(f"{_tex(opt)}, {integer(tj['steps'])} steps, batch $n = {tj['n']}$")
            est = tj["estimator"]
            est = est["estimator"] if isinstance(est, dict) else est
            train.append(f"trained with {_tex(est)}")
            train.append(f"checkpoint every {tj['every']}")
            if tj.get("ema_decay"):
                train.append(f"EMA decay {tj['ema_decay']}")
        hp = m.get("hyperparameters") or d.get("hyperparameters")
        if name in _HP_MODULES or name == "vae_digits":
            pass
        elif hp:
            train.append(_tex(hp))
        elif name in _MODULE_SETTINGS:
            mod, attr, fields = _MODULE_SETTINGS[name]
            val = getattr(importlib.import_module(mod), attr)
            val = val["full"] if isinstance(val, dict) and "full" in val else val
            if fields == ("snapshots at steps",):
                val = {"trained with RLOO; snapshots at steps": list(val)}
            elif fields:
                val = dict(zip(fields, val, strict=True))
            train.append(_tex(val))
        breakable = _tex(name).replace("\\_", "\\_\\allowbreak{}")
        rows.append(
            f"\\texttt{{{breakable}}} & {'; '.join(measure)} & "
            f"{'; '.join(train) if train else 'none (frozen parameters)'} \\\\"
        )
    return rows


# the training experiments whose module holds a HYPERPARAMETERS dict (issue 17)
_HP_MODULES = {
    "blr_vi": "experiments.blr_vi",
    "bernoulli_toy": "experiments.bernoulli_toy",
    "arm_toy": "experiments.arm_toy",
    "quadratic_200": "experiments.quadratic_200",
    "rebar_relax_toy": "experiments.rebar_relax_toy",
    "sbn_digits": "experiments.sbn_digits",
    "rl_cartpole": "experiments.rl_cartpole",
}
_HP_NAMES = {
    "trainer": "trainer",
    "samples_per_step": "samples / step",
    "batch_size": "batch",
    "optimizer": "optimiser",
    "learning_rate": "learning rate",
    "lr_schedule": "schedule",
    "steps": "steps",
    "checkpoint_every": "checkpoint every",
    "n_reps": "replicates",
    "ema_decay": "EMA decay",
    "warmup_batches": "warm-up batches",
    "seeds": "seeds",
    "seed_root": "seed root",
}


def _vae_hyperparameters() -> dict[str, Any]:
    """The VAE's training settings, from its module and train_vae's defaults."""
    import inspect

    mod = importlib.import_module("experiments.vae_digits")
    train = importlib.import_module("vartools.jax.vae.training").train_vae
    defaults = {
        k: v.default
        for k, v in inspect.signature(train).parameters.items()
        if v.default is not inspect.Parameter.empty
    }
    full = mod.TRAIN["full"]
    return {
        "trainer": "each estimator separately (variance: along an SF + RLOO run)",
        "samples_per_step": "4 per digit (ARM / DisARM 2 pairs, REBAR 1, local expectation 1)",
        "batch_size": defaults["batch"],
        "optimizer": "Adam",
        "learning_rate": defaults["lr"],
        "lr_schedule": "constant",
        "steps": full["steps"],
        "checkpoint_every": f"{full['every']} (ELBO); variance snapshots "
        + ", ".join(map(str, mod.STEPS_FULL)),
        "n_reps": setting("vae_digits", "n_reps"),
        "ema_decay": None,
        "warmup_batches": mod.WARMUP,
        "seeds": len(full["seeds"]),
        "seed_root": mod.SEED,
    }


def training_hyperparameters() -> list[str]:
    """Rows of the appendix's training table: one per training experiment, every key."""
    rows = []
    items = [(n, importlib.import_module(m).HYPERPARAMETERS) for n, m in _HP_MODULES.items()]
    items.append(("vae_digits", _vae_hyperparameters()))
    for name, hp in items:
        cells = "; ".join(
            f"{_HP_NAMES.get(k, _tex(k))} {_tex(v)}" for k, v in hp.items() if v is not None
        )
        breakable = _tex(name).replace("\\_", "\\_\\allowbreak{}")
        rows.append(f"\\texttt{{{breakable}}} & {cells} \\\\")
    return rows


def main() -> None:
    """Collect every macro and write numbers.tex, comparisons.json, hyperparameters.tex."""
    put("Version", vartools.__version__)
    for section in (
        gaussian_costs,
        blr,
        option_greeks,
        liu_kool,
        bernoulli_toy,
        arm_toy,
        quadratic_200,
        bandit,
        sbn,
        vae,
        rebar_relax,
        rl,
        sampling_bias,
        fitted_beside_oracles,
        seed_intervals,
        timings,
    ):
        section()
    lines = [
        "% Generated by paper/make_numbers.py from results/: do not edit by hand.",
        *(
            f"\\newcommand{{\\Vt{k}}}{{{v}}}"
            if k in TEXT_MACROS
            else f"\\newcommand{{\\Vt{k}}}{{\\ensuremath{{{v}}}}}"
            for k, v in MACROS.items()
        ),
    ]
    out = out_dir("generated")
    path = out / "numbers.tex"
    path.write_text("\n".join(lines) + "\n")
    (out / "comparisons.json").write_text(json.dumps(COMPARISONS, indent=1) + "\n")
    head = [
        "% Generated by paper/make_numbers.py from results/*/meta.json: do not edit by hand.",
        "\\begin{longtable}{>{\\raggedright\\arraybackslash}p{2.6cm}"
        ">{\\raggedright\\arraybackslash}p{7.0cm}>{\\raggedright\\arraybackslash}p{4.8cm}}",
        "\\caption{Settings per experiment (generated from \\texttt{results/*/meta.json}).}",
        "\\label{tab:hyper}\\\\",
        "\\toprule",
        "experiment & measurement & training \\\\",
        "\\midrule",
        "\\endfirsthead",
        "\\toprule",
        "experiment & measurement & training \\\\",
        "\\midrule",
        "\\endhead",
    ]
    tail = ["\\bottomrule", "\\end{longtable}"]
    (out / "hyperparameters.tex").write_text("\n".join(head + hyperparameters() + tail) + "\n")
    thead = [
        "% Generated by paper/make_numbers.py from the experiments' HYPERPARAMETERS dicts.",
        "\\begin{longtable}{>{\\raggedright\\arraybackslash}p{2.6cm}"
        ">{\\raggedright\\arraybackslash}p{12.2cm}}",
        "\\caption{Training settings per experiment (generated from each training "
        "experiment's \\texttt{HYPERPARAMETERS} dict; the VAE's from its module and "
        "\\texttt{train\\_vae}).}",
        "\\label{tab:hyper-train}\\\\",
        "\\toprule",
        "experiment & training settings \\\\",
        "\\midrule",
        "\\endfirsthead",
        "\\toprule",
        "experiment & training settings \\\\",
        "\\midrule",
        "\\endhead",
    ]
    (out / "training_hyperparameters.tex").write_text(
        "\n".join(thead + training_hyperparameters() + tail) + "\n"
    )
    print(path, f"({len(MACROS)} macros, {len(COMPARISONS)} comparisons)")


if __name__ == "__main__":
    main()
