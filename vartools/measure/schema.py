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

__all__ = [
    "SUMMARY",
    "TRAINING",
    "Column",
    "Schema",
    "SchemaError",
    "validate",
]


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
    """

    name: str
    kind: str
    nullable: bool = False
    doc: str = ""
    check: Callable[[pd.Series], Any] | None = None
    rule: str = ""
    allow_inf: bool = False


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
