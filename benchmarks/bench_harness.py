"""Harness overhead: a sweep of 1,000 tiny cells on one core, time per cell outside the estimators.

Usage: python benchmarks/bench_harness.py [--cells 1000] [--repeats 3]

The experiment measures the score-function estimator on one Bernoulli with 2 replicates per
cell (block_size=2, blocks_per_cell=1), so almost all of the time is harness: building the
task, seeding the block, warm-up bookkeeping, writing the checksummed cell file (fsync,
os.replace), the progress bookkeeping and the final assembly and validation. The estimator
time is what run_block measured around each estimator call; the overhead is
(wall - estimator time) / cells. Target: < 5 ms per cell. Also reported: a resumed run
(every cell read back and verified from disk) and the same sweep with a tqdm progress bar.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from vartools.harness import runner
from vartools.harness.experiment import Experiment
from vartools.harness.layout import Layout
from vartools.harness.runner import run_experiment


def tiny(cells: int) -> Experiment:
    return Experiment(
        name="bench_harness",
        description="1,000 tiny cells: harness overhead",
        problem="rebar_toy",
        estimators=["sf"],
        n_samples=[1],
        n_reps=2 * cells,
        layout=Layout(block_size=2, blocks_per_cell=1),
        exact=False,
        warmup=0,
    )


def once(exp: Experiment, out: str, progress: bool = False) -> tuple[float, float, int, int]:
    t0 = time.perf_counter()
    rep = run_experiment(exp, scale="full", out=out, progress=progress, executor="serial")
    wall = time.perf_counter() - t0
    assert rep.complete
    return wall, rep.cell_seconds, rep.cells_computed, rep.cells_reused


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cells", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    exp = tiny(args.cells)
    fresh, resumed, with_bar, fsync_all = [], [], [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as out:
            wall, est, computed, _ = once(exp, out)
            assert computed == args.cells
            fresh.append(((wall - est) / args.cells, wall, est))
            wall2, _, computed2, reused = once(exp, out)
            assert computed2 == 0 and reused == args.cells
            resumed.append(wall2 / args.cells)
        with tempfile.TemporaryDirectory() as out:
            wall, est, _, _ = once(exp, out, progress=True)
            with_bar.append((wall - est) / args.cells)
        saved = runner.FSYNC_MIN_SECONDS
        runner.FSYNC_MIN_SECONDS = 0.0  # fsync every cell, however cheap
        try:
            with tempfile.TemporaryDirectory() as out:
                wall, est, _, _ = once(exp, out)
                fsync_all.append((wall - est) / args.cells)
        finally:
            runner.FSYNC_MIN_SECONDS = saved
    over = statistics.median(f[0] for f in fresh)
    wall = statistics.median(f[1] for f in fresh)
    est = statistics.median(f[2] for f in fresh)
    print(
        f"harness overhead, {args.cells} tiny cells, serial, one core (median of {args.repeats}):"
    )
    print(
        f"  fresh run:        {over * 1e3:.2f} ms per cell outside the estimators "
        f"(wall {wall:.2f} s, estimators {est:.3f} s)  target < 5 ms: "
        f"{'OK' if over < 5e-3 else 'MISSED'}"
    )
    print(f"  with progress bar: {statistics.median(with_bar) * 1e3:.2f} ms per cell")
    print(
        f"  fsync on every cell (default: only cells that took >= "
        f"{runner.FSYNC_MIN_SECONDS * 1e3:.0f} ms): {statistics.median(fsync_all) * 1e3:.2f} ms "
        "per cell"
    )
    print(
        f"  resumed run (all cells read and verified): "
        f"{statistics.median(resumed) * 1e3:.2f} ms per cell"
    )


if __name__ == "__main__":
    main()
