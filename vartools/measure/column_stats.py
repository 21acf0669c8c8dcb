"""The statistics of a variance table, column chunk by column chunk, each influence once.

A table's numbers for one estimator come from its replicates ``e`` (R, p) and the
reference estimator's ``e_ref``. They are the per-coordinate statistics
(``replicate_stats``), the paired ratio to the reference, and the aggregate rows over
all coordinates and over each parameter block (``vartools.measure.rows.aggregate_groups``).
All of them are built on the influence of the variance. Before, the columns and the
aggregates each computed that influence anew, two or three times per estimator.

Here the columns are cut into ``coordinate_spans`` (at most ``STATS_ELEMENTS`` float64
entries each). ``chunk_stats`` computes one span's influence once, and from it that
span's columns and its shares of the aggregates (``statistics.chunk_partials``).
``join_chunks`` puts the spans together in order. The sums are those that
the separate passes (per span ``replicate_stats`` and ``paired_ratio``, then
``aggregate_groups``) compute, in the same order, so the numbers
are the same bit for bit (``tests/test_column_stats.py``). The spans are also the unit of
parallel work: ``measure_variance``'s workers compute them, and the main process joins.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from vartools.measure import statistics
from vartools.measure.statistics import (
    GroupPart,
    aggregate_stats,
    chunk_partials,
    finish_groups,
    influence,
    paired_ratio,
    replicate_stats,
)

__all__ = [
    "ChunkStats",
    "chunk_stats",
    "coordinate_spans",
    "join_chunks",
    "join_columns",
]

Groups = list[tuple[str, str, int, int, dict[str, dict[str, float]], tuple[Any, ...]]]


def coordinate_spans(r: int, p: int) -> list[tuple[int, int]]:
    """The column chunks (start, stop) of the statistics of replicates (r, p)."""
    width = max(1, statistics.STATS_ELEMENTS // max(r, 1))
    return [(c, min(p, c + width)) for c in range(0, p, width)]


class ChunkStats(NamedTuple):
    """What one column span contributes to an estimator's rows (``chunk_stats``).

    Attributes:
        columns: the per-coordinate statistics of the span's columns.
        parts: its shares of the aggregate groups (``statistics.chunk_partials``): all
            coordinates first when the columns are chunked, then each parameter block.
        whole: with a single span (all columns), the aggregates over all coordinates
            (``aggregate_stats``) and the ratio of mean variances; else None.
    """

    columns: dict[str, np.ndarray]
    parts: list[GroupPart | None]
    whole: tuple[dict[str, dict[str, float]], tuple[Any, ...]] | None


def chunk_stats(
    e: np.ndarray,
    e_ref: np.ndarray,
    truth: np.ndarray | None,
    span: tuple[int, int],
    blocks: list[tuple[str, int, int]],
    *,
    confidence: float,
    same: bool,
) -> ChunkStats:
    """The statistics of the columns ``span`` of ``e`` (one of ``coordinate_spans``).

    ``e_ref``: the reference's replicates (``same``: it is ``e``); ``truth``: the true
    gradient (p,) or None; ``blocks``: (name, start, stop) of the parameter blocks whose
    aggregate rows the table holds (empty: none).
    """
    r, p = e.shape
    c0, c1 = span
    chunked = (c0, c1) != (0, p)
    if chunked:
        e, e_ref = e[:, c0:c1], e_ref[:, c0:c1]
        truth = None if truth is None else truth[c0:c1]
    e64 = np.asarray(e, dtype=np.float64)
    infl = influence(e64)
    st = replicate_stats(e64, truth, confidence=confidence, moments=infl)
    ranges = ([(0, p)] if chunked else []) + [(b0, b1) for _, b0, b1 in blocks]
    iref = infl if same else None
    if not same and (ranges or e_ref.dtype == np.float64):
        iref = influence(np.asarray(e_ref, dtype=np.float64))
    # paired_ratio works in each array's own dtype: it is given only influences of that dtype
    ia = infl if e.dtype == np.float64 else None
    ib = ia if same else (iref if e_ref.dtype == np.float64 else None)
    st["ratio"], st["ratio_lo"], st["ratio_hi"] = paired_ratio(
        e, e_ref, confidence=confidence, moments=(ia, ib)
    )
    whole = None
    if not chunked:
        whole = (
            aggregate_stats(e, confidence=confidence, moments=infl),
            tuple(paired_ratio(e, e_ref, confidence=confidence, reduce="mean", moments=(ia, ib))),
        )
    return ChunkStats(st, chunk_partials(infl, iref, c0, ranges) if ranges else [], whole)


def join_chunks(
    parts: list[ChunkStats],
    r: int,
    p: int,
    blocks: list[tuple[str, int, int]],
    *,
    confidence: float,
) -> tuple[dict[str, np.ndarray], Groups]:
    """The per-coordinate statistics and ``aggregate_groups``'s groups, from every span.

    ``parts`` are the ``chunk_stats`` of ``coordinate_spans(r, p)``, in order.
    """
    columns = join_columns([c.columns for c in parts])
    if parts[0].whole is not None:  # a single span: the whole-model formulas
        agg, mratio = parts[0].whole
        head: Groups = [("", "", 0, p, agg, mratio)]
        ranges = [(b0, b1) for _, b0, b1 in blocks]
    else:
        head = []
        ranges = [(0, p)] + [(b0, b1) for _, b0, b1 in blocks]
    done = finish_groups([c.parts for c in parts], ranges, r, with_ref=True, confidence=confidence)
    groups = list(head)
    for k, res in enumerate(done):
        ratio = tuple(res["mean"].pop(key) for key in ("ratio", "ratio_lo", "ratio_hi"))
        if not head and k == 0:
            groups.append(("", "", 0, p, res, ratio))
        else:
            bname, b0, b1 = blocks[k - (0 if head else 1)]
            groups.append((bname, "block_", b0, b1, res, ratio))
    return columns, groups


def join_columns(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The per-coordinate statistics of consecutive column chunks, joined."""
    if len(parts) == 1:
        return parts[0]
    return {k: np.concatenate([q[k] for q in parts]) for k in parts[0]}
