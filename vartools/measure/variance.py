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

import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

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
from vartools.measure.column_stats import chunk_stats, coordinate_spans, join_chunks
from vartools.measure.executors import chunk_mapper, forks, resolve_workers
from vartools.measure.rows import block_ranges, rows_mode
from vartools.measure.statistics import z_value
from vartools.measure.summary import summarize
from vartools.measure.workers import SharedOutput

__all__ = [
    "MIN_REPS",
    "SmallRepsWarning",
    "measure_variance",
]

#: Fewest replicates ``measure_variance`` accepts without ``allow_small_reps=True``: the
#: smallest R at which the measured coverage of the nominal 95% variance interval reached
#: 93% on both a Bernoulli (liu_toy, SF, n = 4: 0.938 +- 0.004 at R = 50) and a Gaussian
#: problem (pathwise, n = 4: 0.930 +- 0.004 at R = 100); 4000 runs each,
#: benchmarks/coverage.py, table in docs/readme/measurement.md. Heavy-tailed estimates
#: need more (SF on the Gaussian problem: 0.855 at R = 100, 0.934 at R = 1000).
MIN_REPS = 100


class SmallRepsWarning(UserWarning):
    """``n_reps`` below ``MIN_REPS`` was allowed: the intervals undercover."""


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
    allow_small_reps: bool = False,
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
        allow_small_reps: accept ``n_reps`` below ``MIN_REPS`` (100), with a
            ``SmallRepsWarning``: the 95% intervals then cover far less than 95% (about
            0.84 at R = 10 on liu_toy; see docs/readme/measurement.md).

    Raises:
        ValueError: ``n_reps`` below ``MIN_REPS`` without ``allow_small_reps=True``
            (and any other bad argument, named).

    Returns:
        A tidy DataFrame: one row per (problem, estimator, n, coordinate), plus
        aggregate rows with coordinate "(mean)", "(max)" and "(trace)" (and per
        parameter block with kind "block_mean", "block_trace", "block_max"). Columns: see
        ``vartools.measure.summary.COLUMNS`` and results/README.md.
    """
    problems = _as_list(problems, "problems", Problem)
    estimators = _as_list(estimators, "estimators", Estimator)
    ns = [
        check_positive_int(n, "n_samples")
        for n in _as_list(n_samples, "n_samples", (int, np.integer))
    ]
    n_reps = check_positive_int(n_reps, "n_reps", minimum=2)
    if not isinstance(allow_small_reps, bool):
        raise TypeError(f"allow_small_reps must be True or False, got {allow_small_reps!r}")
    block_size = check_positive_int(block_size, "block_size")
    warmup = check_positive_int(warmup, "warmup", minimum=0)
    rows_mode(rows, 1)  # refuse a bad value before any work
    n_workers = resolve_workers(executor, workers)
    z_value(confidence)  # refuse a bad level before any work
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
    truths = [_resolve_truth(prob, truth) for prob in problems]
    _check_small_reps(n_reps, allow_small_reps)  # after the other arguments' errors
    ref = names.index(reference) if reference is not None else 0
    # serial: one chunk per (problem, n); in parallel, four chunks per worker and (problem,
    # n), handed out as workers free up, keep every worker busy. The chunking never changes
    # a number, only who computes it.
    spans = block_spans(n_blocks, 1 if n_workers == 1 else 4 * n_workers)
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
    plan = _Plan(
        BlockPlan(problems, estimators, states, seed, block_size, n_reps, shm),
        truths,
        ref,
        confidence,
        [
            block_ranges(prob) if rows_mode(rows, prob.dist.n_params) in ("blocks", "all") else []
            for prob in problems
        ],
    )
    with chunk_mapper(
        plan, executor=executor, workers=workers, scheduler=scheduler, output=shm
    ) as run:
        runs = run(_blocks_task, tasks)
        # the statistics: in the workers when they see the estimates (shared memory),
        # column chunk by column chunk, else below in this process (the same numbers)
        stats: dict[tuple[int, int], dict[str, tuple[dict[str, np.ndarray], list[Any]]]] = {}
        if shm is not None:
            dtypes = {
                t[:2]: [e.dtype.str for e in r.estimates] for t, r in zip(tasks, runs, strict=True)
            }
            jobs: list[tuple[Any, ...]] = []
            for i, prob in enumerate(problems):
                for n in ns:
                    for j in range(len(estimators)):
                        dt = (dtypes[(i, n)][j], dtypes[(i, n)][ref])
                        jobs += [
                            (i, n, j, dt, span)
                            for span in coordinate_spans(n_reps, prob.dist.n_params)
                        ]
            done = run(_stats_task, jobs)
            for i, prob in enumerate(problems):
                for n in ns:
                    stats[(i, n)] = {}
                    for j, name in enumerate(names):
                        mine = [
                            r for job, r in zip(jobs, done, strict=True) if job[:3] == (i, n, j)
                        ]
                        stats[(i, n)][name] = join_chunks(
                            mine,
                            n_reps,
                            prob.dist.n_params,
                            plan.groups[i],
                            confidence=confidence,
                        )
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(problems) * len(ns), desc="summarising", unit="(problem, n)")
    tables = []
    for i, prob in enumerate(problems):
        for n in ns:
            mine = [run for task, run in zip(tasks, runs, strict=True) if task[:2] == (i, n)]
            # with shared memory the workers computed the statistics (``stats``), and
            # ``summarize`` needs only the replicate count and dtype: a zero of that
            # dtype broadcast to (R, p) (no memory; the shared memory is the pool's)
            estimates = {
                name: _join([run.estimates[j] for run in mine])
                if shm is None
                else np.broadcast_to(
                    np.zeros((), mine[0].estimates[j].dtype), (n_reps, prob.dist.n_params)
                )
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
                    truth=truths[i],
                    exact_variances=exact_v,
                    reference=reference,
                    confidence=confidence,
                    rows=rows,
                    precomputed=stats.get((i, n)),
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


def _check_small_reps(n_reps: int, allow: bool) -> None:
    """Refuse ``n_reps`` below ``MIN_REPS`` unless allowed, and warn when allowed."""
    if n_reps >= MIN_REPS:
        return
    why = (
        f"n_reps={n_reps} is below {MIN_REPS}: the 95% variance intervals of so few replicates "
        "cover the true variance far less often than 95% (measured: 0.00 at R = 2, about "
        "0.84 at R = 10, 0.92 at R = 30; docs/readme/measurement.md)"
    )
    if not allow:
        raise ValueError(
            f"{why}; pass n_reps >= {MIN_REPS} (the default is 2000), or "
            "allow_small_reps=True to measure anyway"
        )
    warnings.warn(f"{why}; measuring anyway (allow_small_reps=True)", SmallRepsWarning, 3)


class _Plan(NamedTuple):
    """What the workers of one ``measure_variance`` call share (sent once per worker)."""

    blocks: BlockPlan
    truths: list[np.ndarray | None]  # per problem
    ref: int  # the reference estimator's index
    confidence: float
    groups: list[list[tuple[str, int, int]]]  # per problem: the parameter blocks' rows


def _blocks_task(plan: _Plan, chunk: tuple[int, int, int, int]) -> Any:
    return run_chunk(plan.blocks, chunk)


def _stats_task(plan: _Plan, job: tuple[Any, ...]) -> Any:
    """One column span's ``chunk_stats`` of estimator j at (problem i, n), from shared memory."""
    i, n, j, (dt, dt_ref), span = job
    out = plan.blocks.out
    assert out is not None  # only the forked workers, which see the shared output
    e, e_ref = out.array((i, n, j), dt), out.array((i, n, plan.ref), dt_ref)
    return chunk_stats(
        e,
        e_ref,
        plan.truths[i],
        span,
        plan.groups[i],
        confidence=plan.confidence,
        same=j == plan.ref,
    )


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
