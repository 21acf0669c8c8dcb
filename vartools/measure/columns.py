"""Per-coordinate statistics on threads, by spans of columns, with the same bits as in one go.

The statistics of ``vartools.measure.statistics`` are, per coordinate, reductions of
replicates ``e`` (R, p) over the replicate axis. NumPy reduces a C-ordered (R, w)
array or column view over axis 0 row after row, each column accumulated in row order,
whenever w >= 2; so a span of at least two columns gives each of its coordinates the
bits the whole array gives. (A single column is summed pairwise instead, which rounds
differently: spans are therefore never one column wide, unless p is 1.
``tests/test_pipeline.py`` checks the identity on many shapes.) NumPy releases the
GIL inside these loops, so threads over column spans divide the time of a summary of
many coordinates by about the number of cores, with identical numbers.

This is what lets ``measure_variance`` with 2 workers also summarise on 2 cores: at
R = 20,000 and p = 1000 the summary costs more than drawing the replicates.

Example:
    >>> import numpy as np
    >>> from vartools.measure.statistics import influence
    >>> e = np.random.default_rng(0).normal(size=(1000, 9))
    >>> a, b = influence(e), influence_by_columns(e, threads=2)
    >>> all(np.array_equal(x, y) for x, y in zip(a, b))
    True
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from vartools.measure.statistics import Influence, influence

__all__ = ["by_columns", "column_spans", "influence_by_columns"]


def column_spans(p: int, parts: int) -> list[tuple[int, int]]:
    """Split range(p) into at most ``parts`` consecutive spans, each at least 2 wide.

    One span (the whole range) when ``parts`` is 1 or p < 4.
    """
    parts = max(1, min(parts, p // 2))
    edges = [round(k * p / parts) for k in range(parts + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def _map(fn: Callable[[int, int], Any], spans: list[tuple[int, int]]) -> list[Any]:
    if len(spans) == 1:
        return [fn(*spans[0])]
    with ThreadPoolExecutor(max_workers=len(spans)) as pool:
        return list(pool.map(lambda s: fn(*s), spans))


def influence_by_columns(e: np.ndarray, *, threads: int) -> Influence:
    """``statistics.influence(e)`` computed on ``threads`` threads (identical numbers)."""
    r, p = e.shape
    spans = column_spans(p, threads)
    if len(spans) == 1:
        return influence(e)
    dtype = e.dtype if np.issubdtype(e.dtype, np.floating) else np.dtype(np.float64)
    mean = np.empty(p, dtype=dtype)
    var = np.empty(p, dtype=dtype)
    psi = np.empty((r, p), dtype=dtype)

    def span(a: int, b: int) -> None:
        # the operations of statistics.influence, on columns a:b
        m = e[:, a:b].mean(axis=0)
        d2 = psi[:, a:b]
        np.subtract(e[:, a:b], m, out=d2)
        d2 *= d2
        v = d2.sum(axis=0) / (r - 1)
        d2 -= v
        mean[a:b], var[a:b] = m, v

    _map(span, spans)
    return Influence(mean, var, psi)


def by_columns(fn: Callable[[int, int], Any], p: int, *, threads: int) -> Any:
    """``fn(0, p)`` computed as ``fn(a, b)`` on column spans in threads, then joined.

    ``fn(a, b)`` must return a tuple or a dict of arrays of shape (b - a,), for columns
    a:b; the result has the same structure, with arrays of shape (p,).
    """
    spans = column_spans(p, threads)
    parts = _map(fn, spans)
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    if isinstance(first, dict):
        return {k: np.concatenate([q[k] for q in parts]) for k in first}
    return tuple(np.concatenate([q[i] for q in parts]) for i in range(len(first)))
