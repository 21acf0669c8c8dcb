"""Coverage of the 95% variance interval by replicate count R: ``python benchmarks/coverage.py``.

For each problem below and each R, ``runs`` independent measurements of R replicates
are drawn at once (one vectorised estimator call of ``runs * R`` replicates, reshaped
to (runs, R)), and each run's interval (``vartools.measure.statistics.replicate_stats``,
the interval ``measure_variance`` reports) is checked against the exact variance of
the first coordinate. The coverage is the fraction of covering runs, with its
binomial standard error sqrt(c (1 - c) / runs).

Problems (one coordinate each, the first):
- ``liu_toy``: liu_toy(eta=0), score function, n = 4 (Bernoulli; exact by enumeration).
- ``gauss_pathwise``: Normal(1, 1), f = (x - 0.5)^2, pathwise, n = 4: Gaussian-like
  estimates (exact by quadrature).
- ``gauss_sf``: the same problem with the score function, n = 4: heavier tails (the
  estimate is a cubic of a normal; exact by quadrature).

The table of docs/readme/measurement.md comes from ``--runs 4000`` and seed 0, and
``MIN_REPS`` of ``vartools.measure.variance`` from it; tests/test_coverage.py (slow)
recomputes it.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np

import vartools as vt
from vartools.core import objectives
from vartools.measure.statistics import replicate_stats

#: The R of the table.
REPS = (2, 3, 5, 10, 15, 20, 30, 40, 50, 75, 100, 200, 500, 1000, 2000)


def _liu() -> tuple[vt.Problem, vt.Estimator, int]:
    return vt.make_problem("liu_toy", eta=0.0), vt.make_estimator(vt.score_function), 4


def _gauss(base: Callable) -> Callable[[], tuple[vt.Problem, vt.Estimator, int]]:
    def make() -> tuple[vt.Problem, vt.Estimator, int]:
        prob = vt.Problem(
            "gauss_square",
            vt.Normal(np.array([1.0]), np.array([1.0])),
            objectives.shifted_square(0.5),
        )
        return prob, vt.make_estimator(base), 4

    return make


PROBLEMS: dict[str, Callable[[], tuple[vt.Problem, vt.Estimator, int]]] = {
    "liu_toy": _liu,
    "gauss_pathwise": _gauss(vt.pathwise),
    "gauss_sf": _gauss(vt.score_function),
}

#: Largest replicates x runs drawn by one estimator call (memory bound).
_CHUNK = 400_000


def coverage(key: str, reps: int, runs: int, seed: int = 0) -> tuple[float, float]:
    """(coverage, binomial SE) of the 95% interval of coordinate 0 over ``runs`` runs of R."""
    prob, est, n = PROBLEMS[key]()
    exact_var = float(vt.exact_moments(prob, est, n)[1][0])
    rng = np.random.default_rng([seed, reps, sorted(PROBLEMS).index(key)])
    per = max(1, _CHUNK // reps)  # runs per estimator call
    covered = 0
    done = 0
    while done < runs:
        m = min(per, runs - done)
        batch, _ = est.batch(prob, n, rng=rng, reps=(m * reps,))
        e = np.asarray(batch.estimate)[:, 0].reshape(m, reps).T  # (R, runs): a run per column
        st = replicate_stats(e)
        covered += int(np.sum((st["variance_lo"] <= exact_var) & (exact_var <= st["variance_hi"])))
        done += m
    c = covered / runs
    return c, float(np.sqrt(c * (1 - c) / runs))


def table(runs: int, seed: int = 0, reps: tuple[int, ...] = REPS) -> dict[str, list[float]]:
    """key -> [(coverage, se) per R]."""
    return {k: [coverage(k, r, runs, seed) for r in reps] for k in PROBLEMS}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    tab = table(args.runs, args.seed)
    print("| R | " + " | ".join(PROBLEMS) + " |")
    print("|---" * (len(PROBLEMS) + 1) + "|")
    for i, r in enumerate(REPS):
        cells = [f"{tab[k][i][0]:.3f} ± {tab[k][i][1]:.3f}" for k in PROBLEMS]
        print(f"| {r} | " + " | ".join(cells) + " |")
    print(f"({args.runs} runs per cell, seed {args.seed}, {time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
