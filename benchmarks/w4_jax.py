"""Benchmark W4: a JAX policy gradient, vartools' JAX path against two hand-written JAX references.

``python benchmarks/w4_jax.py [--rounds 9]``. States s ~ N(0, I_16), one per sample; a
tanh MLP 16-64-64-10 (p = 5,898) gives softmax probabilities over 10 actions;
f(s, a) = s[a] - 0.1 a; score function + RLOO at R = 2000 replicates of n = 16, float32.

- vartools: ``make_estimator(score_function, loo_baseline(), dtype="float32")`` on the
  JAX model of benchmarks/jax_policy.py (noise drawn by NumPy from the seed tree, the
  estimate by one VJP per replicate), called as a user would:
  ``est(problem, 16, rng=rng, reps=(2000,))``;
- reference (a), under one ``jax.jit``: jax.random states and actions, per-sample scores by
  ``vmap(grad(log pi))`` (an (R, n, p) array), contracted with the RLOO weights;
- reference (b), under one ``jax.jit``: the same draws, then per replicate the gradient of
  the surrogate sum_i w_i log pi(a_i | s_i) with the weights held fixed (one VJP).

The three are timed alternately within each round (order rotated per round); the ratio
is vartools' time over the faster reference's, per round, and the median over rounds is
printed last as ``W4 vartools/jax <ratio>``. A correctness gate first checks that
reference (b), fed vartools' own noise, gives vartools' estimates (float32 rounding).
JAX uses both cores for every contender.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from jax_policy import logits, policy_problem  # noqa: E402

import vartools as vt  # noqa: E402

SIZES = (16, 64, 64, 10)
R, N, D = 2000, 16, 16


def log_pi(params, s, a):
    return jax.nn.log_softmax(logits(params, s))[a]


def _draw(params, s, u):
    """Actions by the inverse CDF of u, f values and RLOO weights: (R, n) each."""
    cdf = jnp.cumsum(jax.nn.softmax(logits(params, s)), axis=-1)
    a = jnp.sum(cdf[..., :-1] <= u[..., None], axis=-1)
    fx = jnp.take_along_axis(s, a[..., None], axis=-1)[..., 0] - 0.1 * a
    w = fx - (fx.sum(-1, keepdims=True) - fx) / (N - 1)
    return a, w


def _flat(tree, r):
    return jnp.concatenate([g.reshape(r, -1) for g in jax.tree_util.tree_leaves(tree)], axis=1)


def estimate_a(params, s, u):
    a, w = _draw(params, s, u)
    per = jax.vmap(jax.vmap(jax.grad(log_pi), (None, 0, 0)), (None, 0, 0))(params, s, a)
    return jnp.einsum("rn,rnp->rp", w, _flat(per, R * N).reshape(R, N, -1)) / N


def estimate_b(params, s, u):
    a, w = _draw(params, s, u)

    def one(s_r, a_r, w_r):
        surrogate = lambda p: jnp.sum(w_r * jax.vmap(log_pi, (None, 0, 0))(p, s_r, a_r))  # noqa: E731
        return jax.grad(surrogate)(params)

    return _flat(jax.vmap(one)(s, a, w), R) / N


def with_jax_random(fn):
    def run(params, key):
        ks, ku = jax.random.split(key)
        s = jax.random.normal(ks, (R, N, D), dtype=jnp.float32)
        u = jax.random.uniform(ku, (R, N), dtype=jnp.float32)
        return fn(params, s, u)

    return jax.jit(run)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    prob = policy_problem(SIZES)
    assert prob.dist.n_params == 5898
    params32 = jax.tree_util.tree_map(lambda v: jnp.asarray(v, jnp.float32), prob.dist.param_tree)
    est = vt.make_estimator(vt.score_function, vt.loo_baseline(), dtype="float32")

    # correctness gate: reference (b) on vartools' own noise gives vartools' estimates
    noise = prob.dist.sample_noise(N, rng=np.random.default_rng(1), reps=(R,), dtype=np.float32)
    g_vt, _ = est(prob, N, rng=np.random.default_rng(1), reps=(R,))
    g_ref = np.asarray(jax.jit(estimate_b)(params32, noise[..., :D], noise[..., D]))
    scale = np.abs(g_ref).max()
    err = np.abs(g_vt - g_ref).max() / scale
    if not err < 1e-4:
        sys.exit(f"correctness gate failed: max relative difference {err:.2e}")
    print(f"gate: vartools == reference (b) on the same noise (max rel. diff {err:.1e})")

    ref_a, ref_b = with_jax_random(estimate_a), with_jax_random(estimate_b)
    seed = [0]

    def run_vt():
        seed[0] += 1
        return est(prob, N, rng=np.random.default_rng(seed[0]), reps=(R,))[0]

    def run_a():
        seed[0] += 1
        return ref_a(params32, jax.random.key(seed[0])).block_until_ready()

    def run_b():
        seed[0] += 1
        return ref_b(params32, jax.random.key(seed[0])).block_until_ready()

    contenders = {"vartools/jax": run_vt, "ref (a) vmap(grad)": run_a, "ref (b) VJP": run_b}
    for fn in contenders.values():  # compile and warm up
        fn()
        fn()
    times: dict[str, list[float]] = {k: [] for k in contenders}
    names = list(contenders)
    for i in range(args.rounds):
        for name in names[i % 3 :] + names[: i % 3]:
            t0 = time.perf_counter()
            contenders[name]()
            times[name].append(time.perf_counter() - t0)
    ratios = [
        v / min(a, b)
        for v, a, b in zip(
            times["vartools/jax"], times["ref (a) vmap(grad)"], times["ref (b) VJP"], strict=True
        )
    ]
    print(f"W4: R = {R}, n = {N}, p = 5898, float32, {args.rounds} rounds (median seconds)")
    for name, ts in times.items():
        print(f"  {name:22s} {statistics.median(ts):.4f}")
    print(f"  per-round ratios vartools / faster reference: {min(ratios):.2f} to {max(ratios):.2f}")
    print(f"W4 vartools/jax {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
