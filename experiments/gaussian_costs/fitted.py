"""Oracle b* against its fitted versions: how often each is no worse than SF, at equal cost.

``sf+b* (oracle)`` uses b*_d = E[f s_d^2] / E[s_d^2] computed from the true distribution,
so its variance is never above SF's (Var(SF) - Var(b*) = M1^2 / M0 >= 0, a theorem; the
exact lines check it at every grid point). The fitted versions (``sf+b (loo)``,
``sf+b (xfit)``) estimate b* from the batch without bias and pay for it in variance, so
whether they beat SF is a measurement: each (cost, k, coordinate, n) marker point is
classified by the paired 95% CI of Var(estimator) / Var(SF) on common random numbers
(the summary's ``ratio_lo``, ``ratio_hi``). Both use n evaluations of f per estimate, as
SF does, so every comparison is at equal cost.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["B_FAMILY", "fitted_counts", "fitted_panel"]

#: the oracle optimal baseline and its fitted versions
B_FAMILY = ("sf+b* (oracle)", "sf+b (loo)", "sf+b (xfit)")


def fitted_counts(summary: pd.DataFrame, exact: pd.DataFrame) -> pd.DataFrame:
    """Counts of marker points where each b estimator is better / no worse / worse than SF.

    Rows: the theorem on the exact grid (n = 1, the oracle), then for each estimator and
    n the Monte Carlo classification of its points by the paired 95% CI of the variance
    ratio to SF: ``better`` (ratio_hi < 1), ``no_worse`` (ratio_lo <= 1, i.e. not
    significantly worse) and ``worse`` (ratio_lo > 1).
    """
    one = exact[exact["n"] == 1].pivot_table(
        index=["cost", "coordinate", "k"], columns="estimator", values="exact_variance"
    )
    b, sf = one["sf+b* (oracle)"], one["sf"]
    rows = [
        {
            "estimator": "sf+b* (oracle)",
            "n": 1,
            "n_evals": 1,
            "test": "exact: Var(b*) <= Var(SF) on the exact grid (a theorem)",
            "points": len(one),
            "better": int((b < sf * (1 - 1e-12)).sum()),
            "no_worse": int((b <= sf * (1 + 1e-12)).sum()),
            "worse": int((b > sf * (1 + 1e-12)).sum()),
            "ratio_median": float((b / sf).median()),
            "ratio_max": float((b / sf).max()),
        }
    ]
    c = summary[(summary["kind"] == "coordinate") & summary["estimator"].isin(B_FAMILY)]
    for (name, n), g in c.groupby(["estimator", "n"], sort=False):
        ok = g[np.isfinite(g["ratio_lo"])]
        rows.append(
            {
                "estimator": name,
                "n": int(n),
                "n_evals": int(g["n_evals"].iloc[0]),
                "test": "Monte Carlo: paired 95% CI of Var / Var(SF) at equal evaluations",
                "points": len(ok),
                "better": int((ok["ratio_hi"] < 1).sum()),
                "no_worse": int((ok["ratio_lo"] <= 1).sum()),
                "worse": int((ok["ratio_lo"] > 1).sum()),
                "ratio_median": float(ok["ratio"].median()),
                "ratio_max": float(ok["ratio"].max()),
            }
        )
    out = pd.DataFrame(rows)
    order = {name: i for i, name in enumerate(B_FAMILY)}
    return out.sort_values(
        ["n", "estimator"], key=lambda s: s.map(order) if s.name == "estimator" else s
    ).reset_index(drop=True)


def fitted_panel(summary: pd.DataFrame, cost: str, k: float) -> pd.DataFrame:
    """At one (cost, k): each b estimator's variance against n, beside SF and the oracle.

    Columns per (coordinate, n, estimator): variance with its 95% CI, the paired ratio to SF
    with its CI, and the (unpaired) ratio of its variance to the oracle's.
    """
    c = summary[
        (summary["kind"] == "coordinate")
        & (summary["at_cost"] == cost)
        & np.isclose(summary["at_k"], k)
        & summary["estimator"].isin(("sf", *B_FAMILY))
    ]
    cols = ["coordinate", "n", "estimator", "n_evals", "variance", "variance_lo", "variance_hi"]
    out = c[[*cols, "ratio", "ratio_lo", "ratio_hi"]].rename(
        columns={"ratio": "ratio_to_sf", "ratio_lo": "ratio_to_sf_lo", "ratio_hi": "ratio_to_sf_hi"}
    )
    oracle = c[c["estimator"] == "sf+b* (oracle)"].set_index(["coordinate", "n"])["variance"]
    key = pd.MultiIndex.from_frame(out[["coordinate", "n"]])
    out = out.assign(
        cost=cost,
        k=float(k),
        ratio_to_oracle=out["variance"].to_numpy() / oracle.reindex(key).to_numpy(),
    )
    return (
        out[
            [
                "cost",
                "k",
                *cols,
                "ratio_to_sf",
                "ratio_to_sf_lo",
                "ratio_to_sf_hi",
                "ratio_to_oracle",
            ]
        ]
        .sort_values(["coordinate", "n", "estimator"])
        .reset_index(drop=True)
    )
