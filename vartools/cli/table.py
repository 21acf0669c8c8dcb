"""Compact text tables of variance tables, as the ``vartools`` command prints them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["format_table"]


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "-"
    return f"{v:.4g}"


def format_table(df: pd.DataFrame, coordinates: Sequence[str] = (), *, budget: bool = False) -> str:
    """A compact, readable text table of a variance table.

    Per estimator and n: the aggregate rows ("(mean)", "(max)", "(trace)") and the
    coordinates named in ``coordinates``: variance with its 95% CI, the exact
    variance, the ratio to the reference with its paired CI, f evaluations.
    """
    keep = df[(df["kind"] != "coordinate") | df["coordinate"].isin(list(coordinates))]
    rows = []
    for _, r in keep.iterrows():
        row = {
            "estimator": r["estimator"],
            "n": int(r["n"]),
            "coordinate": r["coordinate"],
            "variance": _fmt(r["variance"]),
            "95% CI": f"[{_fmt(r['variance_lo'])}, {_fmt(r['variance_hi'])}]",
            "exact": _fmt(r["exact_variance"]),
            "ratio": _fmt(r["ratio"]),
            "ratio CI": (
                f"[{_fmt(r['ratio_lo'])}, {_fmt(r['ratio_hi'])}]"
                if np.isfinite(r["ratio_lo"])
                else "-"
            ),
            "evals": int(r["n_evals"]),
        }
        if budget:
            row = {"budget": int(r["budget"]), **row}
        if "biased" in r and bool(r["biased"]):
            row["estimator"] = f"{row['estimator']} (biased)"
        rows.append(row)
    return pd.DataFrame(rows).to_string(index=False)
