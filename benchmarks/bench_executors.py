"""measure_variance on 2 worker processes against serial: ``python benchmarks/bench_executors.py``.

For each workload of benchmarks/workloads.py (W1-W3, float64, every estimator the
workload defines, measured together as one ``measure_variance`` call), it times the
whole call at R = 20,000 replicates with ``executor="serial"``, with
``executor="processes", workers=2`` and with ``executor="processes", workers=1``,
interleaved round by round in a shuffled order, and prints the median times and the
median of the per-round speed-ups of 2 processes over serial (serial time / 2-process
time) and over 1 process (1-process time / 2-process time). The target is a speed-up of
at least 1.7 on 2 processes.

Why both: the 1-process run uses the same kept, warm worker machinery as the 2-process
run, so its ratio measures the parallel scaling alone, while the ratio over serial also
includes what the kept workers save on memory (next paragraph).

Machine ceiling: each round also times a pure-CPU job (a NumPy loop on a small array,
no memory traffic) twice in this process and once in each of 2 forked processes. Its
speed-up is what the machine gives two processes at that moment: about 2 on two idle
cores, about 1.1 when another user's job holds one of the two cores.

Kept workers: the processes executor forks its workers at its first call and keeps them
(``vartools.measure.pool``), so the first processes call of the run also starts the pool;
its time is printed apart ("first call"), and it counts in round 0 like any other. The
serial calls' kernel (system) CPU time is printed too: a serial call allocates its
(R, p) arrays afresh in this process, and their page faults can cost more than the
arithmetic (W3), where the kept workers reuse their memory.

Correctness gate: in every round, the two tables must be equal in every column but the
timing column ``time_per_estimate`` (exact equality, NaN = NaN); otherwise the run exits
with status 1. ``--require X`` also exits with status 1 when a workload's median
speed-up (over serial, or over 1 process) is below X. The load average is printed before
and after: the ratios mean little on a machine that other jobs keep busy.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from workloads import WORKLOADS  # noqa: E402

import vartools as vt  # noqa: E402

TIMING = ("time_per_estimate",)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> list[str]:
    """The non-timing columns in which two tables differ (exact comparison)."""
    bad = []
    for col in a.columns:
        if col in TIMING:
            continue
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if pd.api.types.is_float_dtype(a[col]):
            ok = (x == y) | (np.isnan(x) & np.isnan(y))
        else:
            ok = x == y
        if not np.all(ok):
            bad.append(col)
    return bad


def _spin(_: Any = None) -> float:
    """A pure-CPU job: NumPy on a 100 x 100 array, 60,000 times (no memory traffic)."""
    a = np.random.default_rng(0).random((100, 100))
    total = 0.0
    for _ in range(60_000):
        total += float((a * a).sum())
    return total


def _ceiling() -> float:
    """The speed-up two forked processes get on ``_spin`` now (serial time / parallel time)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    t0 = time.perf_counter()
    _spin(), _spin()
    serial = time.perf_counter() - t0
    with ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as pool:
        list(pool.map(_spin, [0]))  # start the workers outside the timing
        t0 = time.perf_counter()
        list(pool.map(_spin, [0, 1]))
        par = time.perf_counter() - t0
    return serial / par


def _run(
    key: str, reps: int, executor: str, workers: int | None
) -> tuple[float, float, pd.DataFrame]:
    """(wall seconds, kernel CPU seconds of this process, table) of one call."""
    w = WORKLOADS[key]
    ests = [make("float64") for make in w.estimator.values()]
    sys0 = resource.getrusage(resource.RUSAGE_SELF).ru_stime
    t0 = time.perf_counter()
    table = vt.measure_variance(
        w.problem,
        ests,
        n_samples=w.n,
        n_reps=reps,
        seed=2026,
        executor=executor,
        workers=workers,
    )
    wall = time.perf_counter() - t0
    return wall, resource.getrusage(resource.RUSAGE_SELF).ru_stime - sys0, table


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=20_000, help="replicates R (default 20000)")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--workloads", nargs="+", default=sorted(WORKLOADS), help="W1 W2 W3")
    ap.add_argument("--seed", type=int, default=0, help="seed of the round order shuffle")
    ap.add_argument("--require", type=float, default=None, help="fail below this speed-up")
    ap.add_argument("--json", type=Path, default=None, help="also write the timings here")
    args = ap.parse_args(argv)

    load0 = os.getloadavg()
    print(f"load average before: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")
    print(f"R = {args.reps}, {args.rounds} rounds, processes: {args.workers} workers")
    order = random.Random(args.seed)
    contenders = [("serial", "serial", None), ("processes", "processes", args.workers)]
    if args.workers != 1:
        contenders.append(("one process", "processes", 1))
    times: dict[str, dict[str, list[float]]] = {
        k: {c: [] for c, _, _ in contenders} for k in args.workloads
    }
    kernel: dict[str, list[float]] = {k: [] for k in args.workloads}
    first: tuple[str, float] | None = None
    status, identical = 0, True
    ceilings: list[float] = []
    for rnd in range(args.rounds):
        jobs = [(k, c) for k in args.workloads for c in contenders]
        order.shuffle(jobs)
        tables: dict[tuple[str, str], pd.DataFrame] = {}
        for key, (label, ex, wk) in jobs:
            secs, ksecs, table = _run(key, args.reps, ex, wk)
            times[key][label].append(secs)
            if ex == "serial":
                kernel[key].append(ksecs)
            elif first is None:
                first = (key, secs)
            tables[(key, label)] = table
        for key in args.workloads:
            for label, _, _ in contenders[1:]:
                bad = _same(tables[(key, "serial")], tables[(key, label)])
                if bad:
                    print(f"round {rnd}: {key}: serial and {label} differ in {bad}")
                    status, identical = 1, False
        ceilings.append(_ceiling())
        line = ", ".join(
            f"{k} " + "/".join(f"{times[k][c][-1]:.2f}" for c, _, _ in contenders) + " s"
            for k in args.workloads
        )
        names = "/".join(c for c, _, _ in contenders)
        print(f"round {rnd}: {names} {line}; pure-CPU ceiling {ceilings[-1]:.2f}x")
    one = len(contenders) == 3
    print()
    print(
        "| workload | serial (median s) | of which kernel (median s) | 2 processes (median s) "
        "| speed-up over serial: median (min-max) |"
        + (" 1 process (median s) | speed-up over 1 process: median (min-max) |" if one else "")
    )
    print("|---|---|---|---|---|" + ("---|---|" if one else ""))
    out: dict[str, Any] = {"reps": args.reps, "rounds": args.rounds, "workers": args.workers}
    for key in args.workloads:
        s, p = np.array(times[key]["serial"]), np.array(times[key]["processes"])
        ratio = s / p
        med = float(np.median(ratio))
        row = (
            f"| {key} | {np.median(s):.3f} | {np.median(kernel[key]):.3f} | {np.median(p):.3f} "
            f"| {med:.2f} ({ratio.min():.2f}-{ratio.max():.2f}) |"
        )
        out[key] = {
            "serial": s.tolist(),
            "serial_kernel": kernel[key],
            "processes": p.tolist(),
            "speedup": med,
        }
        if one:
            q = np.array(times[key]["one process"])
            r1 = q / p
            med1 = float(np.median(r1))
            row += f" {np.median(q):.3f} | {med1:.2f} ({r1.min():.2f}-{r1.max():.2f}) |"
            out[key].update(one_process=q.tolist(), speedup_over_one=med1)
            if args.require is not None and med1 < args.require:
                status = 1
        print(row)
        if args.require is not None and med < args.require:
            status = 1
    if first is not None:
        print(f"first processes call ({first[0]}, forks the kept workers): {first[1]:.3f} s")
        out["first_call"] = list(first)
    print(f"pure-CPU ceiling of 2 processes (median of rounds): {np.median(ceilings):.2f}x")
    out["ceiling"] = ceilings
    load1 = os.getloadavg()
    print(f"load average after: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    print("tables identical in every non-timing column:", "yes" if identical else "NO")
    out["load"] = [load0, load1]
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=2))
    return status


if __name__ == "__main__":
    sys.exit(main())
