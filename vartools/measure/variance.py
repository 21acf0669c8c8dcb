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
from vartools.measure.executors import SharedOutput, forks, map_chunks, resolve_workers
from vartools.measure.rows import (
    aggregate_groups,
    block_ranges,
    columnwise,
    reduce_kind,
    rows_mode,
)
from vartools.measure.schema import bias_flags
from vartools.measure.statistics import paired_ratio, replicate_stats

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
    "bias_flag",
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
    rows: str = "auto",
) -> pd.DataFrame:
    """The tidy table for one (problem, n) from the replicate estimates (R, p) of each estimator.

    ``rows``: "coordinates" (one row per coordinate plus the aggregates over all of them,
    coordinate "(mean)", "(trace)", "(max)"), "blocks" (the aggregates over all
    coordinates and per parameter block: kind "block_mean", "block_trace", "block_max",
    coordinate the block's name), "all" (both), or "auto" (default: "coordinates" up to
    ``MAX_COORDINATE_ROWS`` coordinates, else "blocks"; ``vartools.measure.rows``).
    Statistics of many coordinates are computed over chunks of columns, in bounded memory.
    """
    p = problem.dist.n_params
    mode = rows_mode(rows, p)
    names = list(problem.dist.param_names) if mode in ("coordinates", "all") else []
    blocks = block_ranges(problem) if mode in ("blocks", "all") else []
    ref = reference if reference is not None else estimators[0].name
    scale = float(np.abs(truth).max()) if truth is not None and len(truth) else 0.0
    out_rows: list[dict[str, Any]] = []
    for est in estimators:
        e = estimates[est.name]
        r = e.shape[0]
        e_ref = estimates[ref]
        st = columnwise(replicate_stats, [e, truth], p, confidence=confidence)
        ratio, rlo, rhi = columnwise(paired_ratio, [e, e_ref], p, confidence=confidence)
        exact_v = (exact_variances or {}).get(est.name, np.full(p, np.nan))
        # A detected bias (|bias| > z SE + a rounding tolerance, z = 5 corrected for p
        # coordinates; vartools.measure.schema.bias_flags):
        # coordinate rows, and aggregate rows when any of their coordinates is flagged.
        flag = bias_flags(st["bias"], st["bias_se"], scale, n_tests=p)
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
            out_rows.append(
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
                    "bias_flag": bool(flag[j]),
                }
            )
        groups = aggregate_groups(e, e_ref, blocks, confidence=confidence)
        for bname, prefix, b0, b1, a_all, a_ratio in groups:
            exact_agg = {k: reduce_kind(k, exact_v[b0:b1]) for k in ("mean", "trace", "max")}
            for kind, a in a_all.items():
                ratio_cols = (
                    {
                        "ratio": float(a_ratio[0]),
                        "ratio_lo": float(a_ratio[1]),
                        "ratio_hi": float(a_ratio[2]),
                    }
                    if kind == "mean"
                    else {"ratio": np.nan, "ratio_lo": np.nan, "ratio_hi": np.nan}
                )
                out_rows.append(
                    {
                        **common,
                        "coordinate": bname if prefix else f"({kind})",
                        "kind": prefix + kind,
                        **a,
                        "mean": np.nan,
                        "truth": np.nan,
                        "bias": np.nan,
                        "bias_se": np.nan,
                        "mse": reduce_kind(kind, st["mse"][b0:b1]),
                        "snr": np.nan,
                        "exact_variance": float(exact_agg[kind]),
                        **ratio_cols,
                        "bias_flag": bool(flag[b0:b1].any()),
                    }
                )
    df = pd.DataFrame(out_rows)
    df["efficiency"] = 1.0 / (df["variance"] * df["n_evals"])
    return df[COLUMNS]


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
    rows: str = "auto",
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
        rows: "coordinates", "blocks", "all" or "auto" (default): which rows the table
            holds (see ``summarize``); "auto" gives one row per coordinate up to
            ``vartools.measure.rows.MAX_COORDINATE_ROWS`` coordinates, else aggregate
            rows per parameter block.

    Returns:
        A tidy DataFrame: one row per (problem, estimator, n, coordinate), plus
        aggregate rows with coordinate "(mean)", "(max)" and "(trace)" (and per
        parameter block with kind "block_mean", "block_trace", "block_max"). Columns: see
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
    rows_mode(rows, 1)  # refuse a bad value before any work
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
                    rows=rows,
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
