"""Schemas of the results tables: the documented columns and the validation of a table.

Holds ``Column`` and ``Schema``, the two table schemas ``SUMMARY`` (the variance
table) and ``TRAINING`` (the training table), and ``validate``, which checks a table
against its schema and raises ``SchemaError`` naming the offending column. The
columns are documented in results/README.md. ``vartools.harness.storage``, which writes and
reads the tables, re-exports these names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

__all__ = [
    "BIAS_RTOL",
    "BIAS_Z",
    "SUMMARY",
    "TRAINING",
    "Column",
    "Schema",
    "SchemaError",
    "bias_flags",
    "bias_threshold",
    "derive_bias_flag",
    "upgrade",
    "validate",
]

#: A mean more than BIAS_Z standard errors from the truth is flagged (``bias_flags``);
#: with p coordinates tested, more (``bias_threshold``).
BIAS_Z = 5.0
#: Plus this tolerance relative to the truth's scale (the largest |truth| of the problem,
#: at least 1e-6), so that a zero-variance estimator (bias_se = 0) is flagged for any
#: bias above rounding, and never for rounding alone.
BIAS_RTOL = 1e-6


def bias_threshold(n_tests: int = 1) -> float:
    """The z threshold for one of ``n_tests`` coordinates tested together.

    BIAS_Z for one coordinate; for p coordinates the normal quantile that keeps the
    chance of a false flag among all p (Bonferroni) at that of one coordinate at BIAS_Z,
    2 Phi(-5) = 5.7e-7: 5.2 for p = 3, 6.4 for p = 4000, 6.6 for p = 10,000. Without it, skewed
    score-function estimates flag an unbiased estimator now and then on large problems.

    Example:
        >>> round(bias_threshold(1), 3), round(bias_threshold(4000), 2)
        (5.0, 6.41)
    """
    n = max(int(n_tests), 1)
    if n == 1:
        return BIAS_Z
    alpha = 2.0 * float(special.ndtr(-BIAS_Z))
    return max(BIAS_Z, float(-special.ndtri(alpha / (2.0 * n))))


def bias_flags(bias: Any, bias_se: Any, scale: Any, n_tests: int = 1) -> np.ndarray:
    """Whether |bias| > z x bias_se + BIAS_RTOL x max(scale, 1e-6), z = bias_threshold(n_tests).

    ``scale`` (a number, or one per entry) is the largest |truth| over the problem's
    coordinates (NaN counts as 0) and ``n_tests`` the number of coordinates tested
    together (the problem's). NaN bias (no truth) gives False: the flag asserts a
    detected bias, never an absent check.

    Example:
        >>> bias_flags([0.0, 1e-3, 0.5, np.nan], [0.0, 0.0, 0.2, 0.1], scale=1.0).tolist()
        [False, True, False, False]
    """
    b = np.abs(np.asarray(bias, dtype=np.float64))
    se = np.asarray(bias_se, dtype=np.float64)
    sc = np.nan_to_num(np.asarray(scale, dtype=np.float64), nan=0.0, posinf=0.0)
    z = bias_threshold(n_tests)
    tol = z * np.where(np.isnan(se), np.inf, se) + BIAS_RTOL * np.maximum(sc, 1e-6)
    return np.asarray(np.isfinite(b) & (b > tol), dtype=bool)


#: The columns that identify one (problem, estimator, n) group of a results table.
_GROUP_KEYS = ("experiment", "scale", "point", "step", "problem", "estimator", "n")


def derive_bias_flag(df: pd.DataFrame) -> pd.Series:
    """``bias_flag`` of a table written without it, by the rule of ``summarize``.

    Coordinate rows: ``bias_flags`` with the largest |truth| of the problem at that point
    and step as the scale and the group's number of coordinate rows as ``n_tests``.
    Aggregate rows: whether any coordinate row of the same (problem, estimator, n) is
    flagged (its block's coordinates ``block[...]`` for ``block_*`` rows). Aggregates
    without coordinate rows get False (tables store no truth for aggregates).
    """
    flags = np.zeros(len(df), dtype=bool)
    if not len(df) or not {"kind", "bias", "bias_se", "truth"} <= set(df.columns):
        return pd.Series(flags, index=df.index)
    coord = (df["kind"] == "coordinate").to_numpy()
    keys = [k for k in _GROUP_KEYS if k in df.columns]
    prob_keys = [df[k] for k in keys if k not in ("estimator", "n")]
    abs_truth = df["truth"].abs().where(coord)
    scale = (
        abs_truth.groupby(prob_keys, dropna=False).transform("max")
        if prob_keys
        else pd.Series(abs_truth.max(), index=df.index)
    )
    keys_all = [df[k] for k in keys]
    n_tests = (
        pd.Series(coord, index=df.index).groupby(keys_all, dropna=False).transform("sum")
        if keys_all
        else pd.Series(coord.sum(), index=df.index)
    ).to_numpy()
    for n in np.unique(n_tests[coord]):
        rows = coord & (n_tests == n)
        flags[rows] = bias_flags(df["bias"][rows], df["bias_se"][rows], scale[rows], int(n))
    if coord.all():
        return pd.Series(flags, index=df.index)
    groups: list[np.ndarray] = (
        [np.asarray(v) for v in df.groupby(keys_all, dropna=False, sort=False).indices.values()]
        if keys_all
        else [np.arange(len(df))]
    )
    for idx in groups:
        c_rows = idx[coord[idx]]
        if not len(c_rows):
            continue
        names = df["coordinate"].iloc[c_rows].astype(str)
        for i in idx[~coord[idx]]:
            kind, name = str(df["kind"].iloc[i]), str(df["coordinate"].iloc[i])
            if kind.startswith("block_"):
                mine = ((names == name) | names.str.startswith(name + "[")).to_numpy()
                flags[i] = bool(flags[c_rows[mine]].any())
            else:
                flags[i] = bool(flags[c_rows].any())
    return pd.Series(flags, index=df.index)


def upgrade(df: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Add the derivable columns a table written by an older version lacks (a copy).

    Each column of ``schema`` with a ``derive`` function that is missing from ``df`` is
    computed from the others (``bias_flag``: ``derive_bias_flag``) and inserted where the
    schema places it (after the column before it in the schema, when present).
    """
    missing = [c for c in schema.columns if c.derive is not None and c.name not in df.columns]
    if not missing:
        return df
    df = df.copy()
    names = [c.name for c in schema.columns]
    for c in missing:
        assert c.derive is not None
        values = c.derive(df)
        before = [n for n in names[: names.index(c.name)] if n in df.columns]
        pos = list(df.columns).index(before[-1]) + 1 if before else len(df.columns)
        df.insert(pos, c.name, values)
    return df


class SchemaError(ValueError):
    """A table does not match its documented schema (the message names the column)."""


@dataclass(frozen=True)
class Column:
    """One column of a schema.

    Args:
        name: the column's name (or a prefix pattern ending in ``*``).
        kind: "str", "int", "float" or "bool" (ints are accepted where floats are).
        nullable: whether NaN / missing values are allowed.
        doc: what it holds (rendered in results/README.md).
        check: optional (values without NaN) -> bool array of valid entries.
        rule: the check in words, for the error message.
        allow_inf: whether +-inf is a legitimate value (e.g. the efficiency of a
            zero-variance estimator).
        derive: for a column added after tables were written without it, the function
            (table) -> values that ``upgrade`` uses to add it to an older table.
    """

    name: str
    kind: str
    nullable: bool = False
    doc: str = ""
    check: Callable[[pd.Series], Any] | None = None
    rule: str = ""
    allow_inf: bool = False
    derive: Callable[[pd.DataFrame], Any] | None = None


@dataclass(frozen=True)
class Schema:
    """A named list of columns; ``*``-suffixed names match any column with that prefix."""

    name: str
    columns: tuple[Column, ...]

    def column(self, name: str) -> Column | None:
        """The column spec matching ``name``, or None."""
        for c in self.columns:
            if c.name == name or (c.name.endswith("*") and name.startswith(c.name[:-1])):
                return c
        return None


def _nonneg(s: pd.Series) -> Any:
    return s >= 0


_KINDS = (
    "coordinate",
    "mean",
    "trace",
    "max",
    # per parameter block (``measure_variance(..., rows="blocks")``), coordinate = block name
    "block_mean",
    "block_trace",
    "block_max",
)

_COMMON = (
    Column("experiment", "str", doc="experiment name (the file's stem)"),
    Column(
        "scale",
        "str",
        doc="'quick' or 'full'",
        check=lambda s: s.isin(["quick", "full"]),
        rule="one of 'quick', 'full'",
    ),
    Column(
        "point",
        "int",
        doc="index of the parameter point in the experiment's points",
        check=_nonneg,
        rule=">= 0",
    ),
    Column(
        "step",
        "int",
        doc="training step of the checkpoint (0 for frozen-parameter sweeps)",
        check=_nonneg,
        rule=">= 0",
    ),
    Column(
        "at_*",
        "any",
        nullable=True,
        doc="the parameter point's keyword arguments, one column per key (e.g. at_k, at_eta)",
    ),
)

#: The variance table: one row per (point, step, n, estimator, coordinate or aggregate).
SUMMARY = Schema(
    "summary",
    _COMMON
    + (
        Column("problem", "str", doc="problem name"),
        Column("estimator", "str", doc="estimator name"),
        Column("n", "int", doc="samples per estimate", check=lambda s: s >= 1, rule=">= 1"),
        Column("coordinate", "str", doc="parameter name, or '(mean)', '(max)', '(trace)'"),
        Column(
            "kind",
            "str",
            doc="'coordinate' or the aggregate 'mean', 'trace', 'max'",
            check=lambda s: s.isin(_KINDS),
            rule=f"one of {list(_KINDS)}",
        ),
        Column("mean", "float", True, "mean of the replicate estimates (coordinate rows)"),
        Column("truth", "float", True, "exact gradient coordinate, where an oracle applies"),
        Column("bias", "float", True, "mean - truth"),
        Column("bias_se", "float", True, "standard error of the bias"),
        Column(
            "variance",
            "float",
            False,
            "replicate variance (unbiased sample variance)",
            _nonneg,
            ">= 0",
        ),
        Column("variance_se", "float", True, "its standard error (fourth-moment formula)"),
        Column("variance_lo", "float", True, "lower end of its confidence interval"),
        Column("variance_hi", "float", True, "upper end of its confidence interval"),
        Column("exact_variance", "float", True, "exact variance, where an oracle applies"),
        Column("mse", "float", True, "mean squared error about the truth"),
        Column(
            "snr",
            "float",
            True,
            "|mean| / standard deviation (inf at zero variance)",
            allow_inf=True,
        ),
        Column(
            "ratio", "float", True, "variance / the reference estimator's (paired)", allow_inf=True
        ),
        Column(
            "ratio_lo", "float", True, "lower end of the paired CI of the ratio", allow_inf=True
        ),
        Column(
            "ratio_hi", "float", True, "upper end of the paired CI of the ratio", allow_inf=True
        ),
        Column("n_evals", "int", False, "f evaluations per estimate", _nonneg, ">= 0"),
        Column("time_per_estimate", "float", True, "wall seconds per estimate"),
        Column(
            "efficiency",
            "float",
            True,
            "1 / (variance x n_evals) (inf at zero variance)",
            allow_inf=True,
        ),
        Column("n_reps", "int", False, "replicate estimates", lambda s: s >= 2, ">= 2"),
        Column("biased", "bool", False, "whether the estimator is knowingly biased"),
        Column(
            "bias_flag",
            "bool",
            False,
            "a bias was detected: |bias| > z bias_se + 1e-6 x the largest |truth|, z = 5 for "
            "one coordinate, Bonferroni-corrected for p (6.4 at p = 4000); coordinate rows "
            "where the truth is known, aggregate rows: any of their coordinates; derived on "
            "reading for tables written without it",
            derive=lambda df: derive_bias_flag(df),
        ),
    ),
)

#: The training table: one row per (point, checkpoint).
TRAINING = Schema(
    "training",
    _COMMON
    + (
        Column("problem", "str", doc="problem name"),
        Column("estimator", "str", doc="the training estimator"),
        Column("optimizer", "str", doc="the optimiser, e.g. 'adam(0.01)'"),
        Column("loss", "float", True, "E_p[f] at the checkpoint (exact or Monte Carlo)"),
        Column("loss_exact", "bool", doc="whether the loss is exact"),
        Column(
            "ema_variance",
            "float",
            True,
            "EMA variance of the training estimator (DisARM/REBAR measure; NaN if off)",
            _nonneg,
            ">= 0",
        ),
        Column(
            "theta.*",
            "float",
            True,
            "the parameters at the checkpoint, one column per name (only when p <= 32)",
        ),
    ),
)


def _kind_ok(s: pd.Series, kind: str) -> bool:
    if kind == "any":
        return True
    if kind == "str":
        return bool(s.map(lambda v: isinstance(v, str)).all())
    if kind == "bool":
        return pd.api.types.is_bool_dtype(s) or bool(s.isin([True, False]).all())
    if kind == "int":
        if pd.api.types.is_bool_dtype(s):
            return False
        if pd.api.types.is_integer_dtype(s):
            return True
        return pd.api.types.is_float_dtype(s) and bool((s.dropna() % 1 == 0).all())
    if kind == "float":
        return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
    raise ValueError(f"unknown column kind {kind!r}")


def validate(df: pd.DataFrame, schema: Schema) -> None:
    """Check ``df`` against ``schema``.

    Raises:
        SchemaError: naming the first offending column: missing, unexpected, wrong
            type, missing values where none are allowed, or a broken rule.
    """
    if not isinstance(df, pd.DataFrame):
        raise SchemaError(f"{schema.name} table: expected a pandas DataFrame, got {type(df)}")
    for col in df.columns:
        if schema.column(str(col)) is None:
            raise SchemaError(
                f"{schema.name} table: column {col!r} is not part of the schema; "
                "see results/README.md for the columns allowed"
            )
    for c in schema.columns:
        if c.name.endswith("*"):
            cols = [str(k) for k in df.columns if str(k).startswith(c.name[:-1])]
        else:
            if c.name not in df.columns:
                raise SchemaError(
                    f"{schema.name} table: required column {c.name!r} is missing ({c.doc})"
                )
            cols = [c.name]
        for name in cols:
            s = df[name]
            null = s.isna()
            if null.any() and not c.nullable:
                raise SchemaError(
                    f"{schema.name} table: column {name!r} has {int(null.sum())} missing "
                    f"values (first at row {int(np.flatnonzero(null.to_numpy())[0])}); it "
                    "must be complete"
                )
            vals = s[~null]
            if not _kind_ok(vals, c.kind):
                raise SchemaError(
                    f"{schema.name} table: column {name!r} must hold {c.kind} values, got "
                    f"dtype {s.dtype} (e.g. {vals.iloc[0]!r})"
                )
            if (
                c.kind == "float"
                and not c.allow_inf
                and len(vals)
                and np.isinf(vals.astype(float)).any()
            ):
                raise SchemaError(f"{schema.name} table: column {name!r} has infinite values")
            if c.check is not None and len(vals):
                ok = np.asarray(c.check(vals), dtype=bool)
                if not ok.all():
                    bad = vals[~ok].iloc[0]
                    raise SchemaError(
                        f"{schema.name} table: column {name!r} must be {c.rule}, got {bad!r}"
                    )
