"""Compact text tables of variance tables, as the ``vartools`` command prints them."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from vartools.core.errors import OracleWarning
from vartools.measure.schema import BIAS_Z

__all__ = ["BIAS_MARK", "bias_legend", "format_table", "oracle_notes"]

#: Appended to the estimator of a row whose bias was detected (``bias_flag``).
BIAS_MARK = "[!]"


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "-"
    return f"{v:.4g}"


@contextlib.contextmanager
def oracle_notes() -> Iterator[list[str]]:
    """Collect the ``OracleWarning`` messages raised inside (exact values left NaN, and why).

    The commands print them as notes under their table (``format_table(notes=...)``),
    on stdout with the table, instead of as warnings on stderr; other warnings pass on.
    """
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OracleWarning)
        yield notes
    for w in caught:
        if issubclass(w.category, OracleWarning):
            if str(w.message) not in notes:
                notes.append(str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def format_table(
    df: pd.DataFrame,
    coordinates: Sequence[str] = (),
    *,
    budget: bool = False,
    notes: Sequence[str] = (),
) -> str:
    """A compact, readable text table of a variance table.

    Per estimator and n: the aggregate rows ("(mean)", "(max)", "(trace)") and the
    coordinates named in ``coordinates``: variance with its 95% CI, the exact
    variance, the ratio to the reference with its paired CI, f evaluations. Rows with a
    detected bias (``bias_flag``) are marked ``[!]`` after the estimator, and a legend
    line says what the mark means (or that no exact gradient was available to check).
    ``notes`` (from ``oracle_notes``) are printed under the table, one line each.
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
        if "bias_flag" in r and bool(r["bias_flag"]):
            row["estimator"] = f"{row['estimator']} {BIAS_MARK}"
        rows.append(row)
    text = pd.DataFrame(rows).to_string(index=False) + bias_legend(df)
    return text + "".join(f"\nnote: {n}" for n in notes)


def bias_legend(df: pd.DataFrame) -> str:
    """The legend line of the bias mark: what it means, and whether the check could run."""
    if "bias_flag" not in df.columns or "truth" not in df.columns:
        return ""
    if df["truth"].notna().sum() == 0:
        return "\nbias check: not run (no exact gradient for this problem)"
    flagged = sorted(set(df.loc[df["bias_flag"].astype(bool), "estimator"]))
    rule = (
        f"its mean is more than {BIAS_Z:g} standard errors (more for many coordinates) from "
        "the exact gradient in at least one coordinate (column bias_flag)"
    )
    if not flagged:
        return f"\nbias check: no estimator is flagged {BIAS_MARK} ({BIAS_MARK} would mean {rule})"
    return (
        f"\n{BIAS_MARK} BIASED: {rule}; its variance, ratio and efficiency are not comparable "
        f"with unbiased estimators ({', '.join(flagged)})"
    )
