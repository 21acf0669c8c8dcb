"""Replicated variance measurement: ``measure_variance`` and its building blocks.

The variance of an estimator is measured across R independent replicates of the
whole estimator (never per-sample variance / n, which leave-one-out baselines
make wrong). Replicates are drawn in blocks of ``block_size``: one vectorised
call per (estimator, block) draws (block_size, n, *event) at once, so memory is
bounded by the block and there is no Python loop per replicate. Block b of
(problem, n) is seeded by the seed-tree node (seed, problem name, n, b) and every
compared estimator uses that same node (common random numbers), so the results
depend on the seed and the block size only: not on the order of the blocks, the
executor or the worker count, and growing ``n_reps`` keeps the earlier replicates.

Stateful reducers (moving-average baselines) are measured at a given state: the
state is warmed up for ``warmup`` batches at the frozen parameters, then every
replicate is drawn from that same state.

Example:
    >>> import vartools as vt
    >>> prob = vt.make_problem("liu_toy", eta=0.0)
    >>> sf = vt.make_estimator(vt.score_function)
    >>> loo = vt.make_estimator(vt.score_function, vt.loo_baseline())
    >>> t = vt.measure_variance(prob, [sf, loo], n_samples=[4], n_reps=2000, seed=0)
    >>> sorted(set(t["estimator"]))
    ['sf', 'sf+loo']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from vartools.core.problem import Problem
from vartools.core.rng import resolve_seed
from vartools.core.validation import as_finite_array, check_positive_int, short_repr
from vartools.estimators.composed import Estimator
from vartools.measure.blocks import (
    DEFAULT_BLOCK_SIZE,
    BlockPlan,
    block_count,
    block_spans,
    exact_truth,
    exact_variance,
    run_chunk,
    warm_state,
)
from vartools.measure.columns import by_columns, influence_by_columns
from vartools.measure.executors import SharedOutput, forks, map_chunks, resolve_workers
from vartools.measure.statistics import (
    Influence,
    aggregate_stats,
    paired_ratio,
    replicate_stats,
)

__all__ = ["COLUMNS", "measure_variance", "summarize"]

COLUMNS = [
    "problem",
    "estimator",
    "n",
    "coordinate",
    "kind",
    "mean",
    "truth",
    "bias",
    "bias_se",
    "variance",
    "variance_se",
    "variance_lo",
    "variance_hi",
    "exact_variance",
    "mse",
    "snr",
    "ratio",
    "ratio_lo",
    "ratio_hi",
    "n_evals",
    "time_per_estimate",
    "efficiency",
    "n_reps",
    "biased",
]


def summarize(
    problem: Problem,
    estimators: Sequence[Estimator],
    n: int,
    estimates: dict[str, np.ndarray],
    *,
    seconds: dict[str, float],
    n_evals: dict[str, int],
    truth: np.ndarray | None = None,
    exact_variances: dict[str, np.ndarray] | None = None,
    reference: str | None = None,
    confidence: float = 0.95,
    threads: int = 1,
) -> pd.DataFrame:
    """The tidy table for one (problem, n) from the replicate estimates (R, p) of each estimator.

    ``threads`` > 1 computes the per-coordinate statistics on that many threads, by
    spans of columns (``vartools.measure.columns``): the same numbers, bit for bit.
    """
    names = list(problem.dist.param_names)
    p = len(names)
    ref = reference if reference is not None else estimators[0].name
    rows: list[dict[str, Any]] = []
    # the moments every statistic needs, once per estimator (the same numbers as letting
    # each statistic recompute them): in the estimates' dtype for the paired ratios, in
    # float64 for the rest; the reference's are kept, the others only for their turn
    tr = None if truth is None else np.broadcast_to(np.asarray(truth, dtype=np.float64), (p,))
    ref_e = estimates[ref]
    ref_moments = influence_by_columns(ref_e, threads=threads)
    for est in estimators:
        e = estimates[est.name]
        r = e.shape[0]
        own = ref_moments if est.name == ref else influence_by_columns(e, threads=threads)
        m64 = (
            own
            if e.dtype == np.float64
            else influence_by_columns(e.astype(np.float64), threads=threads)
        )
        pair = (own, ref_moments)

        def coords(a: int, b: int, e: Any = e, m64: Any = m64, pair: Any = pair) -> dict:
            cols = slice(a, b)
            st = replicate_stats(
                e[:, cols],
                None if tr is None else tr[cols],
                confidence=confidence,
                moments=_cols(m64, cols),
            )
            ratio, lo, hi = paired_ratio(
                e[:, cols],
                ref_e[:, cols],
                confidence=confidence,
                moments=(_cols(pair[0], cols), _cols(pair[1], cols)),
            )
            return {**st, "ratio": ratio, "ratio_lo": lo, "ratio_hi": hi}

        st = by_columns(coords, p, threads=threads)
        ratio, rlo, rhi = st.pop("ratio"), st.pop("ratio_lo"), st.pop("ratio_hi")
        exact_v = (exact_variances or {}).get(est.name, np.full(p, np.nan))
        t_per = seconds[est.name] / r
        common = {
            "problem": problem.name,
            "estimator": est.name,
            "n": n,
            "n_evals": n_evals[est.name],
            "time_per_estimate": t_per,
            "n_reps": r,
            "biased": est.biased,
        }
        for j, name in enumerate(names):
            rows.append(
                {
                    **common,
                    "coordinate": name,
                    "kind": "coordinate",
                    **{k: float(v[j]) for k, v in st.items() if k != "mean_se"},
                    "truth": float(truth[j]) if truth is not None else np.nan,
                    "exact_variance": float(exact_v[j]),
                    "ratio": float(ratio[j]),
                    "ratio_lo": float(rlo[j]),
                    "ratio_hi": float(rhi[j]),
                }
            )
        agg = aggregate_stats(e, confidence=confidence, moments=m64)
        mratio = paired_ratio(e, estimates[ref], confidence=confidence, reduce="mean", moments=pair)
        exact_agg = {k: _reduce(k, exact_v) for k in ("mean", "trace", "max")}
        for kind, a in agg.items():
            ratio_cols = (
                {
                    "ratio": float(mratio[0]),
                    "ratio_lo": float(mratio[1]),
                    "ratio_hi": float(mratio[2]),
                }
                if kind == "mean"
                else {"ratio": np.nan, "ratio_lo": np.nan, "ratio_hi": np.nan}
            )
            mse = st["mse"]
            rows.append(
                {
                    **common,
                    "coordinate": f"({kind})",
                    "kind": kind,
                    **a,
                    "mean": np.nan,
                    "truth": np.nan,
                    "bias": np.nan,
                    "bias_se": np.nan,
                    "mse": _reduce(kind, mse),
                    "snr": np.nan,
                    "exact_variance": float(exact_agg[kind]),
                    **ratio_cols,
                }
            )
    df = pd.DataFrame(rows)
    df["efficiency"] = 1.0 / (df["variance"] * df["n_evals"])
    return df[COLUMNS]


def _cols(m: Influence, cols: slice) -> Influence:
    return Influence(m.mean[cols], m.var[cols], m.psi[:, cols])


def _reduce(kind: str, v: np.ndarray) -> float:
    return float(v.mean() if kind == "mean" else v.sum() if kind == "trace" else v.max())


def _as_list(value: Any, name: str, kind: type | tuple[type, ...]) -> list[Any]:
    if isinstance(value, kind):
        items = [value]
    else:
        try:
            items = list(value)
        except TypeError as exc:
            raise TypeError(
                f"{name} must be one of {kind} or a list of them, got {short_repr(value)}"
            ) from exc
    for item in items:
        if not isinstance(item, kind):
            raise TypeError(f"{name} must hold {kind} objects, got {short_repr(item)}")
    if not items:
        raise ValueError(f"{name} must not be empty")
    return items


def measure_variance(
    problems: Problem | Sequence[Problem],
    estimators: Estimator | Sequence[Estimator],
    *,
    n_samples: int | Sequence[int],
    n_reps: int = 2000,
    seed: int | None,
    reference: str | None = None,
    truth: Any = "auto",
    exact: bool = True,
    warmup: int = 50,
    block_size: int = DEFAULT_BLOCK_SIZE,
    confidence: float = 0.95,
    executor: str = "serial",
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Measure every estimator's variance on every problem and sample size.

    The seed blocks are computed by ``vartools.measure.blocks.measure_blocks``, the
    same code as the runner's cells, by the executor asked for. Block b of (problem, n)
    is seeded by the seed-tree node (seed, problem name, n, b), so the numbers are the
    same, bit for bit, for every executor and worker count (only the timing column
    ``time_per_estimate`` differs).

    Args:
        problems: a Problem or a list of them.
        estimators: an Estimator or a list; all share the replicate seeds.
        n_samples: samples per estimate, an int or a list.
        n_reps: independent replicate estimates per (problem, estimator, n).
        seed: root of the seed tree (None draws fresh entropy; store it for reuse).
        reference: name of the estimator ratios are taken against (default: the first).
        truth: the true gradient (p,), "auto" for the exact oracle where one applies,
            or None.
        exact: also compute each estimator's exact variance where an oracle applies.
        warmup: batches used to warm up stateful control variates before measuring.
        block_size: replicates per seed block (the unit of seeding and memory).
        confidence: level of the confidence intervals.
        executor: where the seed blocks are computed: "serial" (this process, the
            default), "processes" (local worker processes) or "dask" (see
            ``vartools.measure.executors``).
        workers: worker processes for "processes" and "dask" (default: the CPU count).
        scheduler: Dask scheduler address ("tcp://HOST:PORT"; default a local cluster).
        progress: show a progress bar (tqdm) over the (problem, n) pairs.

    Returns:
        A tidy DataFrame: one row per (problem, estimator, n, coordinate), plus
        aggregate rows with coordinate "(mean)", "(max)" and "(trace)". Columns: see
        ``vartools.measure.variance.COLUMNS`` and results/README.md.
    """
    problems = _as_list(problems, "problems", Problem)
    estimators = _as_list(estimators, "estimators", Estimator)
    ns = [
        check_positive_int(n, "n_samples")
        for n in _as_list(n_samples, "n_samples", (int, np.integer))
    ]
    n_reps = check_positive_int(n_reps, "n_reps", minimum=2)
    block_size = check_positive_int(block_size, "block_size")
    warmup = check_positive_int(warmup, "warmup", minimum=0)
    n_workers = resolve_workers(executor, workers)
    seed = resolve_seed(seed)
    names = [e.name for e in estimators]
    if len(set(names)) != len(names):
        raise ValueError(
            f"estimator names must be unique, got {names}; pass name=... to make_estimator"
        )
    if reference is not None and reference not in names:
        raise ValueError(f"reference must be one of the estimator names {names}, got {reference!r}")
    n_blocks = block_count(n_reps, block_size)
    states: dict[tuple[int, int], list[Any]] = {}
    for i, prob in enumerate(problems):
        for n in ns:
            for est in estimators:
                est.check(prob, n)
            states[(i, n)] = [warm_state(prob, e, n, seed=seed, warmup=warmup) for e in estimators]
    # serial: one chunk per (problem, n); in parallel, two chunks per worker and (problem,
    # n) keep every worker busy. The chunking never changes a number, only who computes it.
    spans = block_spans(n_blocks, 1 if n_workers == 1 else 2 * n_workers)
    tasks = [(i, n, lo, hi) for i in range(len(problems)) for n in ns for lo, hi in spans]
    shm = None
    if forks(executor):  # the workers write the estimates into shared memory: no pickling
        shm = SharedOutput(
            {
                (i, n, j): (n_reps, prob.dist.n_params)
                for i, prob in enumerate(problems)
                for n in ns
                for j in range(len(estimators))
            }
        )
    plan = BlockPlan(problems, estimators, states, seed, block_size, n_reps, shm)
    runs = map_chunks(
        run_chunk, plan, tasks, executor=executor, workers=workers, scheduler=scheduler
    )
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(problems) * len(ns), desc="summarising", unit="(problem, n)")
    tables = []
    for i, prob in enumerate(problems):
        t_arr = _resolve_truth(prob, truth)
        for n in ns:
            mine = [run for task, run in zip(tasks, runs, strict=True) if task[:2] == (i, n)]
            estimates = {
                name: _join([run.estimates[j] for run in mine])
                if shm is None
                else shm.array((i, n, j), mine[0].estimates[j].dtype)
                for j, name in enumerate(names)
            }
            secs = {name: sum(run.seconds[j] for run in mine) for j, name in enumerate(names)}
            evals = dict(zip(names, mine[-1].n_evals, strict=True))
            exact_v = (
                {
                    e.name: exact_variance(prob, e, n, s)
                    for e, s in zip(estimators, states[(i, n)], strict=True)
                }
                if exact
                else None
            )
            tables.append(
                summarize(
                    prob,
                    estimators,
                    n,
                    estimates,
                    seconds=secs,
                    n_evals=evals,
                    truth=t_arr,
                    exact_variances=exact_v,
                    reference=reference,
                    confidence=confidence,
                    threads=n_workers,
                )
            )
            if bar is not None:
                bar.update()
    if bar is not None:
        bar.close()
    out = pd.concat(tables, ignore_index=True)
    out.attrs["seed"] = seed
    out.attrs["block_size"] = block_size
    out.attrs["executor"] = executor
    out.attrs["workers"] = n_workers
    return out


def _join(parts: list[np.ndarray]) -> np.ndarray:
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _resolve_truth(problem: Problem, truth: Any) -> np.ndarray | None:
    if truth is None:
        return None
    if isinstance(truth, str):
        if truth != "auto":
            raise ValueError(f"truth must be 'auto', None or an array of length p, got {truth!r}")
        return exact_truth(problem)
    t = as_finite_array(truth, "truth")
    if t.shape != (problem.dist.n_params,):
        raise ValueError(
            f"truth must have shape ({problem.dist.n_params},) for problem {problem.name!r}, "
            f"got {t.shape}"
        )
    return t
