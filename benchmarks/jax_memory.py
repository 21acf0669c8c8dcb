"""Peak memory of measuring a JAX model with many parameters: ``python benchmarks/jax_memory.py``.

measure_variance of SF + RLOO (and, with --both, plain SF as the reference) at R = 2000
replicates of n = 16 samples for a tanh-MLP softmax policy 16-256-256-120 (p = 100,984
parameters; benchmarks/jax_policy.py), float32, runs in a fresh subprocess; the peak
resident set size (``resource.getrusage``) is printed. The per-sample scores
(R x n x p = 12.9 GB in float32) are never formed: each seed block's estimates are one
VJP per replicate (``JaxDistribution.score_dot``), the (R, p) estimates are filled in
place and the statistics run over column chunks. Last line: ``jax_memory peak_GiB <x>``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZES = (16, 256, 256, 120)

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {here!r})
import numpy as np
import vartools as vt
from jax_policy import policy_problem

prob = policy_problem({sizes!r})
ests = [vt.make_estimator(vt.score_function, vt.loo_baseline(), dtype="float32")]
if {both!r}:
    ests.insert(0, vt.make_estimator(vt.score_function, dtype="float32"))
t0 = time.perf_counter()
table = vt.measure_variance(prob, ests, n_samples=[16], n_reps={reps}, seed=0, exact=False)
secs = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
row = table.query("kind == 'mean'").iloc[-1]
print(json.dumps({{"p": prob.dist.n_params, "peak_bytes": peak, "seconds": secs,
                  "rows": len(table), "variance_mean": float(row["variance"])}}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--both", action="store_true", help="also measure plain SF (reference)")
    args = ap.parse_args()
    code = CHILD.format(here=str(HERE), sizes=SIZES, both=args.both, reps=args.reps)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if res.returncode:
        sys.exit(res.stderr)
    out = json.loads(res.stdout.strip().splitlines()[-1])
    gib = out["peak_bytes"] / 2**30
    print(
        f"p = {out['p']}, R = {args.reps}, n = 16, estimators = {2 if args.both else 1}: "
        f"{out['seconds']:.1f} s, {out['rows']} table rows, peak RSS {gib:.2f} GiB"
    )
    print(f"jax_memory peak_GiB {gib:.2f}")


if __name__ == "__main__":
    main()
