"""The fused column statistics give the numbers of the separate passes, bit for bit.

``vartools.measure.column_stats`` computes each column span's influence once and derives
from it the per-coordinate statistics, the paired ratios and the span's shares of the
aggregate rows. The references here are the separate passes. For each span they are
``replicate_stats`` and ``paired_ratio`` (which compute the influence themselves), and
``rows.aggregate_groups`` for the aggregates. They are compared on one span and on
several, with and without parameter blocks, in float64 and float32, against itself and
against another estimator.
"""

from __future__ import annotations

import numpy as np
import pytest

from vartools.measure import statistics
from vartools.measure.column_stats import (
    chunk_stats,
    coordinate_spans,
    join_chunks,
)
from vartools.measure.rows import aggregate_groups
from vartools.measure.statistics import paired_ratio, replicate_stats


def _equal(a, b) -> None:
    """Equal bit for bit (NaN = NaN), through nested dicts, lists and tuples."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _equal(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _equal(x, y)
    elif isinstance(a, str):
        assert a == b
    else:
        x, y = np.asarray(a), np.asarray(b)
        assert x.shape == y.shape and x.dtype == y.dtype, (x.dtype, y.dtype)
        assert np.array_equal(x, y, equal_nan=True)


def _reference_columns(e, e_ref, truth, *, confidence):
    """The separate passes, span by span: each computes its own influence."""
    parts = []
    for c0, c1 in coordinate_spans(*e.shape):
        a, b = e[:, c0:c1], e_ref[:, c0:c1]
        st = replicate_stats(np.asarray(a, dtype=np.float64), truth[c0:c1], confidence=confidence)
        st["ratio"], st["ratio_lo"], st["ratio_hi"] = paired_ratio(a, b, confidence=confidence)
        parts.append(st)
    return {k: np.concatenate([q[k] for q in parts]) for k in parts[0]}


@pytest.mark.parametrize("elements", [10**9, 400 * 4, 400 * 7])  # 1 span, 4 columns, 7
@pytest.mark.parametrize("dtypes", [("f8", "f8"), ("f4", "f8"), ("f8", "f4"), ("f4", "f4")])
@pytest.mark.parametrize("with_blocks", [False, True])
@pytest.mark.parametrize("same", [False, True])
def test_fused_statistics_equal_the_separate_passes(
    monkeypatch, elements, dtypes, with_blocks, same
):
    monkeypatch.setattr(statistics, "STATS_ELEMENTS", elements)
    rng = np.random.default_rng(7)
    r, p = 400, 23
    e = (rng.standard_normal((r, p)) * rng.uniform(0.1, 3.0, p)).astype(dtypes[0])
    e_ref = e if same else (rng.standard_normal((r, p)) * 2.0).astype(dtypes[1])
    truth = rng.standard_normal(p) * 0.01
    blocks = [("a", 0, 5), ("b", 5, 6), ("c", 6, 23)] if with_blocks else []
    parts = [
        chunk_stats(e, e_ref, truth, span, blocks, confidence=0.9, same=same)
        for span in coordinate_spans(r, p)
    ]
    columns, groups = join_chunks(parts, r, p, blocks, confidence=0.9)
    want = _reference_columns(e, e_ref, truth, confidence=0.9)
    assert len(parts) == len(coordinate_spans(r, p)) and len(want["variance"]) == p
    _equal(columns, want)
    _equal(groups, aggregate_groups(e, e_ref, blocks, confidence=0.9))
