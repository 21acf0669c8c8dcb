"""Benchmark suite of issue 8: ``python benchmarks/run.py`` (``--help`` for options).

For each workload (benchmarks/workloads.py) it times, interleaved in one run and in a
shuffled order every round, one full computation of R replicate estimates by:

- vartools in float64 and in its opt-in float32 mode (public API:
  ``est(problem, n, rng=..., reps=(R,))``),
- the hand-vectorised NumPy reference in float64 and float32,
- PyTorch (vectorised, float32) and JAX (jit + vmap, float32) when installed,
- the random-number floor (drawing the same random numbers and nothing else),

then prints medians and the ratios measured round by round (median of the per-round
ratios). storchastic, a Python loop per replicate, is timed on fewer replicates and
scaled to R (marked "x R/r").

Correctness gates (a fast wrong answer fails the run, exit status 1):
- vartools and the reference, fed the same random numbers, give the same estimates
  (max relative difference <= 1e-9 in float64, 1e-4 in float32);
- the mean over coordinates of the replicate variance of the float32 mode, of PyTorch
  and of JAX (independent random numbers) agrees with the float64 reference within
  z = 4.9 standard errors (fourth-moment SE of each, combined), and so does each
  coordinate's mean (the bias check) within z = 5.7 (about a hundred comparisons).

Then ``--memory`` measures the peak resident memory of R = 100,000 replicates of W1
in fresh subprocesses, and ``--blocks`` compares measure_variance's seed blocks of
256 replicates with one block of R.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from workloads import WORKLOADS, Workload  # noqa: E402

import vartools as vt  # noqa: E402
from vartools.measure.statistics import aggregate_stats  # noqa: E402

Z_ONE, Z_MANY = 4.9, 5.7


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def contenders(w: Workload, r: int, variant: str, fw: dict[str, dict[str, Any]]) -> dict:
    """name -> (seed -> estimates) for one workload."""
    est64 = w.estimator[variant]("float64")
    est32 = w.estimator[variant]("float32")
    ref = w.reference[variant]
    out: dict[str, Callable[[int], Any]] = {
        "vartools f64": lambda s: est64(w.problem, w.n, rng=np.random.default_rng(s), reps=(r,))[0],
        "numpy f64": lambda s: ref(np.random.default_rng(s), r, np.float64),
        "vartools f64 unchunked": lambda s: est64(
            w.problem, w.n, rng=np.random.default_rng(s), reps=(r,), chunk=0
        )[0],
        "vartools f32": lambda s: est32(w.problem, w.n, rng=np.random.default_rng(s), reps=(r,))[0],
        "numpy f32": lambda s: ref(np.random.default_rng(s), r, np.float32),
        "RNG floor f64": lambda s: w.floor(np.random.default_rng(s), r, np.float64),
        "RNG floor f32": lambda s: w.floor(np.random.default_rng(s), r, np.float32),
    }
    if w.reference[variant] is w.reference[next(iter(w.reference))]:  # the main estimator
        for label, runs in fw.items():
            if w.key in runs:
                out[label] = lambda s, f=runs[w.key]: f(r, s)
    return out


def check(w: Workload, variant: str, r: int, fw: dict[str, dict[str, Any]]) -> list[str]:
    """Correctness gates; returns a list of failures (empty when all pass)."""
    fails = []
    seed = 12345
    for dt, tol in (("float64", 1e-9), ("float32", 1e-4)):
        est = w.estimator[variant](dt)
        g = est(w.problem, w.n, rng=np.random.default_rng(seed), reps=(r,))[0]
        ref = w.reference[variant](np.random.default_rng(seed), r, np.dtype(dt).type)
        rel = float(np.abs(g - ref).max() / np.abs(ref).max())
        if not rel <= tol:
            fails.append(f"{w.key}/{variant} {dt}: vartools != reference (rel diff {rel:.2e})")
    ref = w.reference[variant](np.random.default_rng(seed + 1), r, np.float64)
    others = {
        "vartools f32": w.estimator[variant]("float32")(
            w.problem, w.n, rng=np.random.default_rng(seed + 2), reps=(r,)
        )[0]
    }
    if w.reference[variant] is w.reference[next(iter(w.reference))]:
        for label, runs in fw.items():
            if w.key in runs and "storchastic" not in label:
                others[label] = runs[w.key](r, seed + 3)
    a_ref = aggregate_stats(ref)["mean"]
    for label, e in others.items():
        e = np.asarray(e, dtype=np.float64)
        a = aggregate_stats(e)["mean"]
        z = (a["variance"] - a_ref["variance"]) / np.hypot(a["variance_se"], a_ref["variance_se"])
        if abs(z) > Z_ONE:
            fails.append(f"{w.key}/{variant} {label}: mean variance off by {z:.1f} SE")
        se = np.sqrt(e.var(0, ddof=1) / e.shape[0] + ref.var(0, ddof=1) / r)
        zb = np.abs(e.mean(0) - ref.mean(0)) / np.where(se > 0, se, np.inf)
        if zb.max() > Z_MANY:
            fails.append(f"{w.key}/{variant} {label}: a mean is off by {zb.max():.1f} SE")
    return fails


def bench(w: Workload, variant: str, r: int, rounds: int, fw: dict) -> dict[str, Any]:
    cands = contenders(w, r, variant, fw)
    for fn in cands.values():  # warm up (JIT compilation, allocator, caches)
        fn(0)
    times: dict[str, list[float]] = {k: [] for k in cands}
    order = np.random.default_rng(7)
    for rnd in range(rounds):
        names = list(cands)
        order.shuffle(names)
        for name in names:
            times[name].append(_timed(lambda name=name, rnd=rnd: cands[name](1000 + rnd)))
    t = {k: np.asarray(v) for k, v in times.items()}

    def ratio(a: str, b: str) -> float:
        return float(np.median(t[a] / t[b])) if a in t and b in t else float("nan")

    return {
        "median_ms": {k: float(np.median(v) * 1e3) for k, v in t.items()},
        "ratios": {
            "vartools f64 / numpy f64": ratio("vartools f64", "numpy f64"),
            "unchunked / numpy f64": ratio("vartools f64 unchunked", "numpy f64"),
            "vartools f32 / numpy f32": ratio("vartools f32", "numpy f32"),
            "vartools f32 / PyTorch": ratio("vartools f32", "PyTorch"),
            "vartools f32 / JAX": ratio("vartools f32", "JAX"),
            "vartools f64 / RNG floor f64": ratio("vartools f64", "RNG floor f64"),
        },
    }


def storch_times(r_small: int, r: int) -> dict[str, float]:
    from frameworks import make_storchastic

    runs = make_storchastic(WORKLOADS)
    out = {}
    for key, fn in runs.items():
        fn(2, 0)
        ts = [_timed(lambda fn=fn: fn(r_small, 1)) for _ in range(3)]
        out[key] = float(np.median(ts) * 1e3 * r / r_small)
    return out


MEMORY_SNIPPET = """
import sys, tracemalloc, numpy as np
sys.path.insert(0, {here!r})
from workloads import WORKLOADS
import vartools as vt


def hwm_mib():
    # VmHWM (peak RSS of this process image; ru_maxrss would survive exec from a big parent)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024


w = WORKLOADS["W1"]
est = w.estimator["rloo"]({dtype!r})
base = hwm_mib()
tracemalloc.start()
if {mode!r} == "call":
    g = est(w.problem, w.n, rng=np.random.default_rng(0), reps=({r},), chunk={chunk})[0]
    assert g.shape == ({r}, 200)
else:
    t = vt.measure_variance(w.problem, est, n_samples=w.n, n_reps={r}, seed=0, exact=False,
                            truth=None)
traced = tracemalloc.get_traced_memory()[1] / 2**20
print(base, hwm_mib(), traced)
"""


def memory(r: int) -> list[dict[str, Any]]:
    rows = []
    cases = [
        ("est(...) chunked (default)", "call", "float64", None),
        ("est(...) chunked, float32", "call", "float32", None),
        ("measure_variance, blocks of 256", "measure", "float64", None),
    ]
    if r <= 20_000:
        cases.append(("est(...) unchunked (chunk=0)", "call", "float64", 0))
    for label, mode, dtype, chunk in cases:
        code = MEMORY_SNIPPET.format(here=str(HERE), mode=mode, dtype=dtype, r=r, chunk=chunk)
        t0 = time.perf_counter()
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        secs = time.perf_counter() - t0
        if res.returncode != 0:
            rows.append({"case": label, "error": res.stderr.strip().splitlines()[-1]})
            continue
        base, peak, traced = map(float, res.stdout.split())
        rows.append(
            {
                "case": label,
                "R": r,
                "rss_after_import_MiB": round(base, 1),
                "peak_rss_MiB": round(peak, 1),
                "peak_traced_alloc_MiB": round(traced, 1),
                "s": round(secs, 2),
            }
        )
    return rows


def blocks(r: int, rounds: int) -> dict[str, float]:
    w = WORKLOADS["W1"]
    est = w.estimator["rloo"]("float64")
    out: dict[str, list[float]] = {"block_size=256": [], f"block_size={r}": []}
    for _ in range(rounds):
        for bs in (256, r):
            out[f"block_size={bs}"].append(
                _timed(
                    lambda bs=bs: vt.measure_variance(
                        w.problem,
                        est,
                        n_samples=w.n,
                        n_reps=r,
                        seed=0,
                        exact=False,
                        truth=None,
                        block_size=bs,
                    )
                )
            )
    return {k: float(np.median(v) * 1e3) for k, v in out.items()}


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "vartools": vt.__version__,
    }
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in lscpu.splitlines():
            key = line.split(":")[0].strip()
            if key in ("Model name", "CPU(s)", "Thread(s) per core", "L2 cache", "L3 cache"):
                info[key] = line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            f"{p.get('internal_api')} {p.get('version')} ({p.get('num_threads')} threads)"
            for p in threadpool_info()
        ]
    except ImportError:
        pass
    from importlib import metadata

    for dist in ("torch", "jax", "storchastic"):
        try:
            info[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            info[dist] = None
    return info


COLUMNS = [
    "vartools f64",
    "numpy f64",
    "vartools f64 unchunked",
    "vartools f32",
    "numpy f32",
    "PyTorch",
    "JAX",
    "storchastic",
    "RNG floor f64",
    "RNG floor f32",
]


def table(results: dict[str, Any]) -> str:
    cols = [c for c in COLUMNS if any(c in v["median_ms"] for v in results.values())]
    lines = ["| workload | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for key, v in results.items():
        cells = []
        for c in cols:
            ms = v["median_ms"].get(c)
            cells.append("-" if ms is None else f"{ms:.1f}")
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    lines += ["", "| workload | " + " | ".join(next(iter(results.values()))["ratios"]) + " |"]
    lines.append("|---" * (len(next(iter(results.values()))["ratios"]) + 1) + "|")
    for key, v in results.items():
        lines.append(f"| {key} | " + " | ".join(f"{x:.2f}" for x in v["ratios"].values()) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2000, help="replicate estimates R per run")
    ap.add_argument("--rounds", type=int, default=9, help="interleaved timing rounds")
    ap.add_argument("--workloads", default="W1,W2,W3")
    ap.add_argument("--no-frameworks", action="store_true", help="skip PyTorch and JAX")
    ap.add_argument(
        "--storchastic",
        type=int,
        default=0,
        metavar="r",
        help="time storchastic on r replicates (scaled to R); 0 skips it",
    )
    ap.add_argument(
        "--memory",
        type=int,
        default=0,
        metavar="R",
        help="peak-memory check with R replicates of W1 (e.g. 100000)",
    )
    ap.add_argument("--blocks", action="store_true", help="block_size 256 vs one block")
    ap.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = ap.parse_args(argv)

    fw: dict[str, dict[str, Any]] = {}
    if not args.no_frameworks:
        from frameworks import make_jax, make_torch

        fw = {"PyTorch": make_torch(WORKLOADS), "JAX": make_jax(WORKLOADS)}
        fw = {k: v for k, v in fw.items() if v}
    info = machine()
    print("machine:", json.dumps(info))
    results: dict[str, Any] = {}
    failures: list[str] = []
    for key in args.workloads.split(","):
        w = WORKLOADS[key]
        for variant in w.reference:
            label = key if len(w.reference) == 1 else f"{key} ({variant})"
            failures += check(w, variant, args.reps, fw)
            results[label] = bench(w, variant, args.reps, args.rounds, fw)
            print(label, json.dumps(results[label]["median_ms"]), flush=True)
    if args.storchastic:
        st = storch_times(args.storchastic, args.reps)
        for key, ms in st.items():
            for label in results:
                if label in (key, f"{key} (loo)"):  # the variant storchastic approximates
                    results[label]["median_ms"]["storchastic"] = ms
    print(f"\nR = {args.reps} replicates, medians of {args.rounds} interleaved rounds (ms)")
    if args.storchastic:
        print(f"storchastic: {args.storchastic} replicates timed, scaled x R/r")
    print(table(results))
    extra: dict[str, Any] = {}
    if args.blocks:
        extra["blocks"] = blocks(args.reps, max(3, args.rounds // 2))
        print("\nmeasure_variance W1, block sizes (ms):", extra["blocks"])
    if args.memory:
        extra["memory"] = memory(args.memory)
        print("\npeak memory (MiB):")
        for row in extra["memory"]:
            print("  ", row)
    print("\ncorrectness:", "all checks passed" if not failures else "FAILED")
    for f in failures:
        print("  ", f)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": info,
                    "reps": args.reps,
                    "rounds": args.rounds,
                    "results": results,
                    "failures": failures,
                    **extra,
                },
                indent=2,
            )
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
