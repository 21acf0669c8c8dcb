"""Write generated/numbers.tex: one LaTeX macro for every number the report quotes.

Reads results/*/{summary,exact,training,...}.csv and meta.json only (never recomputes an
estimate) and vartools.__version__. Macro names are ``\\Vt`` + letters. Usage:
``python make_numbers.py [OUT_DIR]`` (default paper/generated).
"""

from __future__ import annotations

import importlib
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fig_blr_vi import ELBO_FROM

import vartools
from vartools.plots.paper import meta, out_dir, read

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's experiments/
markers = importlib.import_module("experiments.bernoulli_toy.figures").markers

MACROS: dict[str, str] = {}


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


def integer(x: float) -> str:
    """An integer with a thin-space thousands separator."""
    return f"{int(round(float(x))):,}".replace(",", "{,}")


def pct(x: float) -> str:
    """A fraction as a whole percentage (the ``\\%`` is in the macro)."""
    return f"{100 * float(x):.0f}\\%"


def put(name: str, value: Any, fmt: Callable[[Any], str] = num) -> None:
    """Define ``\\Vt<name>``; refuses a bad or duplicate name."""
    if not name.isalpha() or name in MACROS:
        raise ValueError(f"macro name {name!r} must be letters only and unique")
    MACROS[name] = fmt(value) if not isinstance(value, str) else value


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


def gaussian_costs() -> None:
    """Mohamed et al. (2020) Figs. 2-3."""
    s = read("gaussian_costs")
    exact = read("gaussian_costs", "exact")
    c = s[s["kind"] == "coordinate"]
    put("GcReps", setting("gaussian_costs", "n_reps"), integer)
    put("GcGrid", exact[exact["cost"] == "square"]["k"].nunique(), integer)
    put("GcMarkers", c[(c["at_cost"] == "square")]["at_k"].nunique(), integer)
    inside, total = coverage(c)
    put("GcCoverIn", inside, integer)
    put("GcCoverOf", total, integer)
    put("GcCoverPct", inside / total, pct)
    one_n = exact[exact["n"] == 1].pivot_table(
        index=["cost", "coordinate", "k"], columns="estimator", values="exact_variance"
    )
    put("GcGridPoints", len(one_n), integer)
    put("GcBstarNeverWorse", int((one_n["sf+b*"] <= one_n["sf"] * (1 + 1e-12)).sum()), integer)
    loo = exact[exact["estimator"] == "sf+loo"].set_index(["cost", "coordinate", "k"])
    per_sample = loo["exact_variance"] * loo["n"]
    worse = (per_sample > one_n["sf"].reindex(per_sample.index)).groupby(level=[0, 1]).mean()
    put("GcRlooWorseCosMu", worse[("cos", "loc[0]")], pct)
    put("GcRlooWorseCosSigma", worse[("cos", "scale[0]")], pct)
    put("GcRlooWorseBumpSigma", worse[("bump", "scale[0]")], pct)
    better = (per_sample > one_n["sf+b*"].reindex(per_sample.index)).mean()
    put("GcRlooWorseThanBstar", better, pct)
    put("GcRlooK", int(loo["n"].iloc[0]), integer)
    # variance against n at cos(2x): the paired ratio of RLOO(K = n) to SF at the largest n
    sub = c[(c["at_cost"] == "cos") & np.isclose(c["at_k"], 2.0) & (c["coordinate"] == "loc[0]")]
    nmax = int(sub["n"].max())
    put("GcNmax", nmax, integer)
    sf_n = one(sub, "variance", estimator="sf", n=nmax)
    put("GcCosRlooOverSf", one(sub, "variance", estimator="sf+loo", n=nmax) / sf_n)
    put("GcCosBstarOverSf", one(sub, "variance", estimator="sf+b*", n=nmax) / sf_n)
    ratio = (one_n["sf+delta*"] / one_n["sf"]).groupby(level=[0, 1]).median()
    put("GcDeltaOverSfCosMu", ratio[("cos", "loc[0]")])
    put("GcDeltaOverSfBumpMu", ratio[("bump", "loc[0]")])


def blr() -> None:
    """Bayesian logistic regression (Mohamed et al. 2020, sec. 8.3)."""
    t = read("blr_vi", "trajectories")
    last = int(t["step"].max())
    put("BlrSteps", last, integer)
    put("BlrEvery", int(np.diff(np.sort(t["step"].unique()))[0]), integer)
    put("BlrReps", int(t["n_reps"].iloc[0]), integer)
    put("BlrElboFrom", ELBO_FROM, integer)
    coords = read("blr_vi")["coordinate"]
    put(
        "BlrMeans",
        int(coords.str.startswith("loc[").sum() / read("blr_vi")["estimator"].nunique()),
        integer,
    )
    summ = read("blr_vi", "trajectories_summary")  # mean over the training seeds (t 95%)
    put("BlrSeeds", int(summ["n_seeds"].min()), integer)
    v = summ[(summ["step"] == last) & (summ["block"] == "loc") & (summ["reduce"] == "mean")]
    v = v.set_index("estimator")
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
        put(f"BlrVar{macro}", v.loc[est, "variance_mean"])  # geometric mean over seeds
        put(f"BlrElbo{macro}", v.loc[est, "elbo_mean"], lambda x: num(x, 3))
    # ratios.csv: last-step geometric mean over seeds (t 95%) and the range over checkpoints
    # x seeds, beside the per-evaluation (efficiency) ratio with the costs of each side
    ratios = read("blr_vi", "ratios")
    ratios = ratios[ratios["block"] == "loc"].set_index("comparison")
    for comp, macro in [
        ("sf / sf+delta", "BlrSfOverSfDelta"),
        ("sf / pathwise", "BlrSfOverPathwise"),
        ("sf / mvd", "BlrSfOverMvd"),
    ]:
        r = ratios.loc[comp]
        put(macro, r["variance_ratio_last"])
        for col, tail in [("lo", "Lo"), ("hi", "Hi")]:
            put(f"{macro}{tail}", r[f"variance_ratio_last_{col}"])
        for col, tail in [("min", "Min"), ("max", "Max")]:
            put(f"{macro}{tail}", r[f"variance_ratio_{col}"])
        put(f"{macro}Eff", r["efficiency_ratio_last"])
        put(f"{macro}EffLo", r["efficiency_ratio_last_lo"])
        put(f"{macro}EffHi", r["efficiency_ratio_last_hi"])
    put(
        "BlrPathwiseDeltaGain",
        1 - 1 / ratios.loc["pathwise / pathwise+delta", "variance_ratio_last"],
        pct,
    )


def option_greeks() -> None:
    """Black-Scholes delta and vega (Glasserman 2003, ch. 7)."""
    e = read("option_greeks", "exact")
    atm = e[np.isclose(e["moneyness"], 1.0)]
    for kind, coord, est, macro in [
        ("call", "s0", "lr", "CallDeltaLr"),
        ("call", "s0", "lr+cv", "CallDeltaLrCv"),
        ("call", "s0", "pathwise", "CallDeltaPw"),
        ("call", "s0", "pathwise+cv", "CallDeltaPwCv"),
        ("call", "sigma", "lr", "CallVegaLr"),
        ("call", "sigma", "pathwise", "CallVegaPw"),
        ("digital", "s0", "lr", "DigDeltaLr"),
        ("digital", "s0", "lr+cv", "DigDeltaLrCv"),
    ]:
        put(f"Og{macro}", one(atm, "exact_variance", kind=kind, coordinate=coord, estimator=est))
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
    put("OgBiasRowsBelowTwo", int((ok["z"].abs() < 2).sum()), integer)


def liu_kool() -> None:
    """Liu et al. (2019) / Kool et al. (2020) toy."""
    e = read("liu_kool_toy", "exact")
    s = read("liu_kool_toy")
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
        lambda x: num(x, 3),
    )
    put("LkRlooTwo", one(e, "exact_variance", eta=0.0, family="rloo", size=2))
    sas = e[(e["family"] == "sum_and_sample")].drop_duplicates(["eta", "size"])
    for k, word in [(1, "One"), (3, "Three"), (6, "Six")]:
        put(f"LkSas{word}", one(sas, "exact_variance", eta=0.0, size=k))
    put("LkSasOneMinusFour", one(sas, "exact_variance", eta=-4.0, size=1))
    zero = sas[(sas["eta"] == 0.0) & (sas["exact_variance"] <= 1e-12 * sas["exact_variance"].max())]
    put("LkSasZeroFrom", int(zero["size"].min()), integer)
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
    put("BtSfZero", one(c, "variance", estimator="sf", n=1))
    put("BtRlooZero", one(c, "variance", estimator="rloo", n=2))
    put("BtArmZero", one(c, "variance", estimator="arm", n=1))
    mk = markers(s, tr)  # markers the replicates can resolve (enough rare outcomes)
    inside, total = coverage(mk[mk["resolved"]])
    put("BtCoverIn", inside, integer)
    put("BtCoverOf", total, integer)


def arm_toy() -> None:
    """ARM toy (Yin & Zhou 2019)."""
    s = read("arm_toy")
    tr = read("arm_toy", "training")
    c = s[s["kind"] == "coordinate"]
    put("ArmReps", setting("arm_toy", "n_reps"), integer)
    put("ArmSteps", int(tr["step"].max()), integer)
    theta = 1 / (1 + np.exp(-tr["theta.logits[0]"].iloc[-1]))
    put("ArmFinalTheta", theta, lambda x: num(x, 3))
    first, last = 0, int(c["step"].max())
    put("ArmSfStart", one(c, "variance", estimator="sf", n=2, step=first))
    put("ArmRlooStart", one(c, "variance", estimator="rloo", n=2, step=first))
    put("ArmArmStart", one(c, "variance", estimator="arm", n=1, step=first))
    put("ArmArmEnd", one(c, "exact_variance", estimator="arm", n=1, step=last), lambda x: num(x, 3))
    put(
        "ArmDisarmEnd",
        one(c, "exact_variance", estimator="disarm", n=1, step=last),
        lambda x: num(x, 3),
    )
    put("ArmRlooEnd", one(c, "exact_variance", estimator="rloo", n=2, step=last))


def quadratic_200() -> None:
    """Double control variates toy (Titsias & Shi 2022)."""
    s = read("quadratic_200")
    tr = read("quadratic_200", "training")
    m = s[(s["kind"] == "mean") & (s["step"] == 0)]
    put("QdReps", setting("quadratic_200", "n_reps"), integer)
    put("QdEvery", int(np.diff(np.sort(s["step"].unique()))[0]), integer)
    put("QdSteps", int(s["step"].max()), integer)
    put("QdDim", n_coordinates(s), integer)
    for est, macro, n in [
        ("sf", "Sf", 2),
        ("rloo", "Rloo", 2),
        ("disarm", "Disarm", 1),  # one antithetic pair: 2 evaluations, like K = 2
        ("dependency_aware", "Dep", 2),
    ]:
        put(f"Qd{macro}", one(m, "variance", estimator=est, n=n))
        put(f"Qd{macro}Evals", one(m, "n_evals", estimator=est, n=n), integer)
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
        "constant J": "Const",
        "state value V(s)": "Value",
        "optimal b*(s,a)": "Opt",
        "rloo": "Rloo",
        "rloo per state": "RlooState",
    }
    for est, macro in names.items():
        put(
            f"Cb{macro}Start",
            one(m, "exact_variance", estimator=est, step=first),
            lambda x: num(x, 3),
        )
        put(f"Cb{macro}End", one(m, "exact_variance", estimator=est, step=last))
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
    # geometric mean over the training seeds of the mean encoder-weight variance (t 95%)
    m = read("sbn_digits", "variance_summary").rename(columns={"variance_mean": "variance"})
    elbo = read("sbn_digits", "elbo_summary").sort_values("step")  # mean over the seeds
    put("SbSeeds", int(elbo["n_seeds"].min()), integer)
    put("SbReps", setting("sbn_digits", "n_reps"), integer)
    put("SbElboStart", elbo["elbo_mean"].iloc[0], lambda x: num(x, 3))
    put("SbElboEnd", elbo["elbo_mean"].iloc[-1], lambda x: num(x, 3))
    put("SbSteps", int(elbo["step"].max()), integer)
    weights = n_coordinates(s)
    put("SbWeights", weights, integer)
    put("SbLatents", weights // (8 * 8 + 1), integer)  # one weight per pixel and a bias
    last = m[m["at_step"] == m["at_step"].max()]
    put("SbRlooTwo", one(last, "variance", estimator="sf+rloo", n=2))
    put("SbArmOne", one(last, "variance", estimator="arm", n=1))
    put("SbDisarmOne", one(last, "variance", estimator="disarm", n=1))
    big = int(m[m["estimator"] == "sf+rloo"]["n"].max())
    put("SbBigN", big, integer)
    put("SbRlooBig", one(last, "variance", estimator="sf+rloo", n=big))
    put("SbArmBig", one(last, "variance", estimator="arm", n=big))
    put("SbDisarmBig", one(last, "variance", estimator="disarm", n=big))
    put("SbDisarmBigEvals", one(last, "n_evals", estimator="disarm", n=big), integer)
    put("SbLeOne", one(last, "variance", estimator="local_expectation", n=1))
    put("SbLeOneEvals", one(last, "n_evals", estimator="local_expectation", n=1), integer)
    eff = last.assign(e=1 / (last["variance"] * last["n_evals"])).set_index(["estimator", "n"])["e"]
    put("SbEffRlooOverLe", eff[("sf+rloo", big)] / eff[("local_expectation", 1)])


def timings() -> None:
    """Wall time of each full-scale run, from meta.json."""
    total = 0.0
    for name, macro in [
        ("gaussian_costs", "Gc"),
        ("blr_vi", "Blr"),
        ("option_greeks", "Og"),
        ("liu_kool_toy", "Lk"),
        ("bernoulli_toy", "Bt"),
        ("arm_toy", "Arm"),
        ("quadratic_200", "Qd"),
        ("contextual_bandit", "Cb"),
        ("sbn_digits", "Sb"),
    ]:
        sec = float(meta(name)["timings"]["wall_seconds"])
        total += sec
        put(f"{macro}Seconds", sec, lambda x: integer(max(round(x), 1)))
    put("TotalMinutes", total / 60, lambda x: integer(math.ceil(x)))


def main() -> None:
    """Collect every macro and write numbers.tex."""
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
        timings,
    ):
        section()
    lines = [
        "% Generated by paper/make_numbers.py from results/: do not edit by hand.",
        *(
            f"\\newcommand{{\\Vt{k}}}{{\\ensuremath{{{v}}}}}"
            if k != "Version"
            else f"\\newcommand{{\\Vt{k}}}{{{v}}}"
            for k, v in MACROS.items()
        ),
    ]
    path = out_dir("generated") / "numbers.tex"
    path.write_text("\n".join(lines) + "\n")
    print(path, f"({len(MACROS)} macros)")


if __name__ == "__main__":
    main()
