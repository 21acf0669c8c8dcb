"""Slow: the coverage-by-R table of docs/readme/measurement.md, and MIN_REPS, stay true.

Recomputes ``benchmarks/coverage.py``'s table (4000 runs per cell, seed 0: the
documented setting; vectorised, about 10-30 s) and checks, with z = 5 binomial standard
errors (SE = sqrt(c (1 - c) / runs)):

- every documented coverage agrees with the recomputed one (the two are the same
  computation, so they differ only if the code or NumPy's streams changed; the
  tolerance is z x sqrt(2) x SE plus the 0.0005 of rounding);
- at R = MIN_REPS the Bernoulli and Gaussian problems cover at least 0.93 - z SE;
- at the grid's R below MIN_REPS at least one of them covers less than 0.93 + z SE
  (MIN_REPS is not needlessly large), and at R = 2 nothing covers (zero-width intervals);
- the heavy-tailed problem undercovers at R = MIN_REPS (the documented caveat).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

from vartools.measure.variance import MIN_REPS

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import coverage as cov  # noqa: E402

Z = 5.0
RUNS = 4000
DOC = ROOT / "docs" / "readme" / "measurement.md"


def _documented() -> dict[int, list[float]]:
    rows = {}
    for line in DOC.read_text().splitlines():
        m = re.match(r"^\| (\d+) \|((?: [0-9.]+ ± [0-9.]+ \|)+)\s*$", line)
        if m:
            rows[int(m.group(1))] = [float(c.split("±")[0]) for c in m.group(2).split("|")[:-1]]
    return rows


def _se(c: float) -> float:
    return float(np.sqrt(max(c * (1 - c), 0.25 / RUNS) / RUNS))  # never 0 (c = 0 or 1)


@pytest.mark.slow
def test_documented_coverage_table_and_min_reps_hold():
    doc = _documented()
    assert sorted(doc) == list(cov.REPS), "the docs table must list every R of the grid"
    tab = cov.table(RUNS, seed=0)
    keys = list(cov.PROBLEMS)
    for i, r in enumerate(cov.REPS):
        for k, documented in zip(keys, doc[r], strict=True):
            c = tab[k][i][0]
            assert abs(c - documented) <= Z * np.sqrt(2) * _se(c) + 5e-4, (r, k, c, documented)
    at = {r: {k: tab[k][i][0] for k in keys} for i, r in enumerate(cov.REPS)}
    for k in ("liu_toy", "gauss_pathwise"):
        assert at[MIN_REPS][k] >= 0.93 - Z * _se(at[MIN_REPS][k]), (k, at[MIN_REPS][k])
    below = max(r for r in cov.REPS if r < MIN_REPS)
    assert (
        min(at[below][k] - 0.93 - Z * _se(at[below][k]) for k in ("liu_toy", "gauss_pathwise")) < 0
    )
    assert all(at[2][k] == 0.0 for k in keys)
    assert at[MIN_REPS]["gauss_sf"] + Z * _se(at[MIN_REPS]["gauss_sf"]) < 0.93
