"""The tidy variance table of one (problem, n): ``summarize`` and its ``COLUMNS``.

``measure_variance`` (``vartools.measure.variance``) and the runner's cells
(``vartools.harness.output``) both write their tables here, from the replicate estimates
of each estimator or from statistics that workers computed already
(``vartools.measure.column_stats``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from vartools.core.problem import Problem
from vartools.estimators.composed import Estimator
from vartools.measure.column_stats import chunk_stats, coordinate_spans, join_chunks
from vartools.measure.rows import block_ranges, reduce_kind, rows_mode
from vartools.measure.schema import bias_flags

__all__ = ["COLUMNS", "summarize"]

COLUMNS = [
    "problem",
    "estimator",
    "n",
    "coordinate",
    "kind",
    "mean",
    "truth",
    "bias",
    "bias_se",
    "variance",
    "variance_se",
    "variance_lo",
    "variance_hi",
    "exact_variance",
    "mse",
    "snr",
    "ratio",
    "ratio_lo",
    "ratio_hi",
    "n_evals",
    "time_per_estimate",
    "efficiency",
    "n_reps",
    "biased",
    "bias_flag",
]


_STAT_COLUMNS = (
    "mean",
    "bias",
    "bias_se",
    "variance",
    "variance_se",
    "variance_lo",
    "variance_hi",
    "mse",
    "snr",
)


def summarize(
    problem: Problem,
    estimators: Sequence[Estimator],
    n: int,
    estimates: dict[str, np.ndarray],
    *,
    seconds: dict[str, float],
    n_evals: dict[str, int],
    truth: np.ndarray | None = None,
    exact_variances: dict[str, np.ndarray] | None = None,
    reference: str | None = None,
    confidence: float = 0.95,
    rows: str = "auto",
    precomputed: Mapping[str, tuple[dict[str, np.ndarray], list[Any]]] | None = None,
) -> pd.DataFrame:
    """The tidy table for one (problem, n) from the replicate estimates (R, p) of each estimator.

    ``rows``: "coordinates" (one row per coordinate plus the aggregates over all of them,
    coordinate "(mean)", "(trace)", "(max)"), "blocks" (the aggregates over all
    coordinates and per parameter block: kind "block_mean", "block_trace", "block_max",
    coordinate the block's name), "all" (both), or "auto" (default: "coordinates" up to
    ``MAX_COORDINATE_ROWS`` coordinates, else "blocks"; ``vartools.measure.rows``).
    Statistics of many coordinates are computed over chunks of columns, in bounded memory.
    ``precomputed``: estimator name -> (per-coordinate statistics, aggregate groups) of
    its estimates (``column_stats.join_chunks``), when workers computed them already (the
    same functions, the same numbers).
    """
    p = problem.dist.n_params
    mode = rows_mode(rows, p)
    names = list(problem.dist.param_names) if mode in ("coordinates", "all") else []
    blocks = block_ranges(problem) if mode in ("blocks", "all") else []
    ref = reference if reference is not None else estimators[0].name
    scale = float(np.abs(truth).max()) if truth is not None and len(truth) else 0.0
    out_rows: list[dict[str, Any]] = []
    for est in estimators:
        e = estimates[est.name]
        r = e.shape[0]
        e_ref = estimates[ref]
        if precomputed is not None:
            st, groups = precomputed[est.name]
        else:
            parts = [
                chunk_stats(
                    e, e_ref, truth, span, blocks, confidence=confidence, same=est.name == ref
                )
                for span in coordinate_spans(r, p)
            ]
            st, groups = join_chunks(parts, r, p, blocks, confidence=confidence)
        ratio, rlo, rhi = st["ratio"], st["ratio_lo"], st["ratio_hi"]
        exact_v = (exact_variances or {}).get(est.name, np.full(p, np.nan))
        # A detected bias (|bias| > z SE + a rounding tolerance, z = 5 corrected for p
        # coordinates; vartools.measure.schema.bias_flags):
        # coordinate rows, and aggregate rows when any of their coordinates is flagged.
        flag = bias_flags(st["bias"], st["bias_se"], scale, n_tests=p)
        t_per = seconds[est.name] / r
        common = {
            "problem": problem.name,
            "estimator": est.name,
            "n": n,
            "n_evals": n_evals[est.name],
            "time_per_estimate": t_per,
            "n_reps": r,
            "biased": est.biased,
        }
        for j, name in enumerate(names):
            out_rows.append(
                {
                    **common,
                    "coordinate": name,
                    "kind": "coordinate",
                    **{k: float(v[j]) for k, v in st.items() if k in _STAT_COLUMNS},
                    "truth": float(truth[j]) if truth is not None else np.nan,
                    "exact_variance": float(exact_v[j]),
                    "ratio": float(ratio[j]),
                    "ratio_lo": float(rlo[j]),
                    "ratio_hi": float(rhi[j]),
                    "bias_flag": bool(flag[j]),
                }
            )
        for bname, prefix, b0, b1, a_all, a_ratio in groups:
            exact_agg = {k: reduce_kind(k, exact_v[b0:b1]) for k in ("mean", "trace", "max")}
            for kind, a in a_all.items():
                ratio_cols = (
                    {
                        "ratio": float(a_ratio[0]),
                        "ratio_lo": float(a_ratio[1]),
                        "ratio_hi": float(a_ratio[2]),
                    }
                    if kind == "mean"
                    else {"ratio": np.nan, "ratio_lo": np.nan, "ratio_hi": np.nan}
                )
                out_rows.append(
                    {
                        **common,
                        "coordinate": bname if prefix else f"({kind})",
                        "kind": prefix + kind,
                        **a,
                        "mean": np.nan,
                        "truth": np.nan,
                        "bias": np.nan,
                        "bias_se": np.nan,
                        "mse": reduce_kind(kind, st["mse"][b0:b1]),
                        "snr": np.nan,
                        "exact_variance": float(exact_agg[kind]),
                        **ratio_cols,
                        "bias_flag": bool(flag[b0:b1].any()),
                    }
                )
    df = pd.DataFrame(out_rows)
    df["efficiency"] = 1.0 / (df["variance"] * df["n_evals"])
    return df[COLUMNS]
