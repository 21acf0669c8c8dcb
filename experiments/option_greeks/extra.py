"""The option Greeks' extra tables: exact Greeks and variances, the digital sweep, the bias.

``tables`` is the experiment's hook: ``exact.csv`` (Black-Scholes closed forms and exact
single-sample variances by quadrature), ``digital.csv`` (the digital call's points,
measured with ``measure_variance``) and ``bias.csv``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from vartools.catalogue.finance import exact_greeks, exact_terms_moments

from .models import (
    FITTED,
    GREEKS,
    KINDS,
    build_estimators,
    exact_grid,
    greeks_problem,
    option_points,
)

if TYPE_CHECKING:
    from vartools.harness.experiment import Experiment

__all__ = ["bias_table", "digital_sweep", "exact_table_at", "tables"]


def exact_table_at(moneyness: Any) -> pd.DataFrame:
    """Exact Greeks and single-sample variances on a moneyness grid (fitted ones have none)."""
    rows = []
    ests = [e for e in build_estimators() if e.name not in FITTED]
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
    """Mean of each estimator (largest n, n = 1 rows excluded) against the exact Greek.

    ``exact_bias`` is the oracle estimators' exact bias; NaN for the fitted ones (no exact
    single-sample moments; their bias is the measured one, with its SE).
    """
    s = summary[(summary["kind"] == "coordinate")]
    s = s[s["n"] == s["n"].max()]
    ex = exact.set_index(["kind", "moneyness", "estimator", "coordinate"])
    rows = []
    for _, r in s.iterrows():
        name = "lr" if r["estimator"] in FITTED else r["estimator"]
        key = (r["at_kind"], float(r["at_moneyness"]), name, r["coordinate"])
        e = ex.loc[key]
        exact_bias = np.nan if r["estimator"] in FITTED else float(e["exact_mean"] - e["truth"])
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
                "exact_bias": exact_bias,
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
    for i, pt in enumerate(option_points(tuple(p["moneyness"] for p in exp.points), ("digital",))):
        prob = greeks_problem("digital", pt["moneyness"])
        ests = build_estimators()
        parts_n = []
        for group in ([n for n in exp.n_samples if n < 2], [n for n in exp.n_samples if n >= 2]):
            if not group:  # the fitted (leave-one-out) estimators need n >= 2
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                parts_n.append(
                    measure_variance(
                        prob,
                        [e for e in ests if e.min_n <= min(group)],
                        n_samples=group,
                        n_reps=exp.n_reps,
                        seed=exp.seed,
                        truth=exact_greeks(prob),
                        exact=False,
                        warmup=0,
                        block_size=exp.layout.block_size,
                    )
                )
        t = pd.concat(parts_n, ignore_index=True)
        t.insert(0, "at_moneyness", float(pt["moneyness"]))
        t.insert(0, "at_kind", "digital")
        t.insert(0, "point", i)
        parts.append(t)
    return pd.concat(parts, ignore_index=True)


def tables(exp: Experiment, summary: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """``exact.csv``, ``digital.csv`` and (when the call summary is given) ``bias.csv``."""
    out = {
        "exact": exact_table_at(exact_grid(exp.scale, exp.points)),
        "digital": digital_sweep(exp),
    }
    if summary is not None:
        both = pd.concat([summary, out["digital"]], ignore_index=True)
        out["bias"] = bias_table(both, out["exact"])
    return out
