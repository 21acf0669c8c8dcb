"""Helpers shared by the experiments' figure code (not an experiment: the name starts with _)."""

from __future__ import annotations

import pandas as pd

__all__ = ["run_size"]


def run_size(summary: pd.DataFrame) -> tuple[int, str]:
    """(replicates per estimate, scale) of a summary table, for figure titles.

    The scale is "" when the table has no ``scale`` column.
    """
    scale = str(summary["scale"].iloc[0]) if "scale" in summary.columns else ""
    return int(summary["n_reps"].iloc[0]), scale
