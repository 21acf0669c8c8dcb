"""Which rows a variance table holds, and the aggregates behind them, in bounded memory.

``measure_variance`` and ``summarize`` (``vartools.measure.variance``) write one row per
parameter coordinate and aggregate rows over all coordinates ("(mean)", "(trace)",
"(max)"); for models with many parameters (a JAX MLP with thousands of weights) they
write aggregate rows per named parameter block instead (a layer's weights: kind
``block_mean``, ``block_trace``, ``block_max``, coordinate = the block's name). The
blocks are the distribution's ``param_blocks()`` (for a JAX model, the pytree's leaves).

Statistics of many coordinates are computed over chunks of columns of at most
``vartools.measure.statistics.STATS_ELEMENTS`` float64 entries, so replicates (R, p) of a large
model are never converted or centred whole; below that size the whole-model aggregates
are exactly those of ``aggregate_stats`` and ``paired_ratio`` (as before).

Example:
    >>> rows_mode("auto", 100), rows_mode("auto", 100_000)
    ('coordinates', 'blocks')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from vartools.measure import statistics
from vartools.measure.statistics import aggregate_stats, group_aggregates, paired_ratio

if TYPE_CHECKING:
    from vartools.core.problem import Problem

__all__ = [
    "MAX_COORDINATE_ROWS",
    "ROWS",
    "aggregate_groups",
    "block_ranges",
    "columnwise",
    "reduce_kind",
    "rows_mode",
]

#: Coordinates up to which ``rows="auto"`` writes one row per coordinate; larger models
#: get aggregate rows per parameter block instead.
MAX_COORDINATE_ROWS = 2048
ROWS = ("auto", "coordinates", "blocks", "all")


def rows_mode(rows: str, p: int) -> str:
    """The row mode ("coordinates", "blocks" or "all") for ``rows`` and p parameters."""
    if rows not in ROWS:
        raise ValueError(f"rows must be one of {ROWS}, got {rows!r}")
    if rows == "auto":
        return "coordinates" if p <= MAX_COORDINATE_ROWS else "blocks"
    return rows


def block_ranges(problem: Problem) -> list[tuple[str, int, int]]:
    """(name, start, stop) of each parameter block of theta (``Distribution.param_blocks``)."""
    out, start = [], 0
    for name, shape in problem.dist.param_blocks():
        size = int(np.prod(shape, dtype=np.int64))
        out.append((name, start, start + size))
        start += size
    return out


def columnwise(fn: Any, arrays: Sequence[np.ndarray | None], p: int, **kw: Any) -> Any:
    """fn(*arrays sliced to columns), over chunks of at most STATS_ELEMENTS entries.

    The per-column results are concatenated (one call when everything fits).
    """
    r = next(a for a in arrays if a is not None).shape[0]
    width = max(1, statistics.STATS_ELEMENTS // max(r, 1))
    if width >= p:
        return fn(*arrays, **kw)
    parts = [
        fn(*(None if a is None else a[..., c : c + width] for a in arrays), **kw)
        for c in range(0, p, width)
    ]
    if isinstance(parts[0], dict):
        return {k: np.concatenate([q[k] for q in parts]) for k in parts[0]}
    return tuple(np.concatenate([q[i] for q in parts]) for i in range(len(parts[0])))


def reduce_kind(kind: str, v: np.ndarray) -> float:
    """The mean, trace (sum) or max of per-coordinate values ``v``."""
    return float(v.mean() if kind == "mean" else v.sum() if kind == "trace" else v.max())


def aggregate_groups(
    e: np.ndarray,
    e_ref: np.ndarray,
    blocks: list[tuple[str, int, int]],
    *,
    confidence: float,
) -> list[tuple[str, str, int, int, dict[str, dict[str, float]], tuple[Any, ...]]]:
    """The aggregate statistics of all coordinates, then of each block.

    Returns:
        (name, kind prefix, start, stop, {kind: stats}, (ratio, lo, hi) of the mean
        variances against ``e_ref``) per group: first all coordinates (name "", prefix
        ""), then each block (prefix "block_").
    """
    r, p = e.shape
    chunk = statistics.STATS_ELEMENTS
    mratio: tuple[Any, ...]
    agg: dict[str, dict[str, float]]
    if r * p > chunk:  # column-chunked: the (R, p) replicates are never centred whole
        agg = group_aggregates(e, [(0, p)], e_ref, confidence=confidence, chunk_elements=chunk)[0]
        mratio = tuple(agg["mean"].pop(k) for k in ("ratio", "ratio_lo", "ratio_hi"))
    else:
        agg = aggregate_stats(e, confidence=confidence)
        mratio = tuple(paired_ratio(e, e_ref, confidence=confidence, reduce="mean"))
    groups: list[tuple[str, str, int, int, dict[str, dict[str, float]], tuple[Any, ...]]]
    groups = [("", "", 0, p, agg, mratio)]
    if blocks:
        per_block = group_aggregates(
            e,
            [(b0, b1) for _, b0, b1 in blocks],
            e_ref,
            confidence=confidence,
            chunk_elements=chunk,
        )
        for (bname, b0, b1), blk in zip(blocks, per_block, strict=True):
            bratio = tuple(blk["mean"].pop(k) for k in ("ratio", "ratio_lo", "ratio_hi"))
            groups.append((bname, "block_", b0, b1, blk, bratio))
    return groups
