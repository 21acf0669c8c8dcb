"""Seed blocks: the one block computation behind ``measure_variance`` and the runner.

Replicates of (problem, n) are drawn in seed blocks of ``block_size``: one vectorised
call per (estimator, block) draws (size, n, *event) at once, so memory is bounded by the
block and there is no Python loop per replicate. Block b is seeded by the seed-tree node
(seed, problem name, n, b), and every compared estimator uses that same node (common
random numbers). The estimates therefore depend on the seed and the block size only:
not on which process computes which blocks, nor in which order.

This module also holds the exact quantities that go with a measurement (the true
gradient and each estimator's exact variance, where an oracle applies), so that
``vartools.measure.variance.measure_variance`` and the runner's
``vartools.harness.compute`` compute them with the same code.

Example:
    >>> import vartools as vt
    >>> prob = vt.make_problem("liu_toy", eta=0.0)
    >>> sf = vt.make_estimator(vt.score_function)
    >>> run = measure_blocks(prob, [sf], 4, range(0, 3), seed=0, block_size=100, n_reps=250)
    >>> run.estimates[0].shape
    (250, 3)
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from vartools.core.errors import (
    BudgetExceededError,
    NoOracleError,
    OracleFailedError,
    OracleWarning,
)
from vartools.core.problem import Problem
from vartools.core.rng import generator
from vartools.estimators.composed import Estimator
from vartools.measure.workers import SharedOutput
from vartools.oracles import exact as exact_mod

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "BlockPlan",
    "BlockResult",
    "BlockRun",
    "block_count",
    "block_spans",
    "exact_truth",
    "exact_variance",
    "measure_blocks",
    "run_block",
    "run_chunk",
    "warm_state",
]

#: Replicates per seed block (the unit of seeding and of vectorised work).
DEFAULT_BLOCK_SIZE = 256


@dataclass
class BlockResult:
    """Estimates of one seed block for several estimators.

    Attributes:
        estimates: estimator name -> (block_size, p) estimates.
        seconds: estimator name -> wall time of the block.
        n_evals: estimator name -> f evaluations per estimate.
    """

    estimates: dict[str, np.ndarray]
    seconds: dict[str, float]
    n_evals: dict[str, int]


@dataclass
class BlockRun:
    """The estimates of a range of consecutive seed blocks, per estimator (in order).

    Attributes:
        estimates: per estimator, the (R_blocks, p) estimates of the blocks, in block order.
        seconds: per estimator, the summed wall time of its calls.
        n_evals: per estimator, f evaluations per estimate.
    """

    estimates: list[np.ndarray]
    seconds: list[float]
    n_evals: list[int]


def block_count(n_reps: int, block_size: int) -> int:
    """The number of seed blocks that hold ``n_reps`` replicates (the last may be short)."""
    return -(-n_reps // block_size)


def block_spans(n_blocks: int, parts: int) -> list[tuple[int, int]]:
    """Split ``range(n_blocks)`` into ``min(parts, n_blocks)`` consecutive near-equal spans.

    The unit of work of the executors; the spans never change a number, only where the
    blocks are computed.
    """
    parts = max(1, min(parts, n_blocks))
    edges = [round(k * n_blocks / parts) for k in range(parts + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def warm_state(problem: Problem, estimator: Estimator, n: int, *, seed: int, warmup: int) -> Any:
    """The control-variate state after ``warmup`` single batches at the frozen parameters.

    The warm-up draws from the seed-tree node (seed, problem name, n, "warmup").
    """
    state = estimator.init(problem)
    if estimator.stateful and warmup > 0:
        rng = generator(seed, problem.name, n, "warmup")
        for _ in range(warmup):
            _, state = estimator(problem, n, rng=rng, state=state)
    return state


def run_block(
    problem: Problem,
    estimators: Sequence[Estimator],
    n: int,
    block: int,
    size: int,
    *,
    seed: int,
    states: Sequence[Any] | None = None,
) -> BlockResult:
    """Draw ``size`` replicate estimates of every estimator from seed block ``block``.

    Every estimator gets a generator for the same seed-tree node (common random
    numbers). ``states`` are the frozen control-variate states (default: initial).
    """
    out = BlockResult({}, {}, {})
    for i, est in enumerate(estimators):
        state = states[i] if states is not None else None
        rng = generator(seed, problem.name, n, block)
        t0 = time.perf_counter()
        batch, _ = est.batch(problem, n, rng=rng, reps=(size,), state=state)
        e = batch.estimate
        out.seconds[est.name] = time.perf_counter() - t0
        out.estimates[est.name] = e
        out.n_evals[est.name] = batch.n_evals
    return out


def measure_blocks(
    problem: Problem,
    estimators: Sequence[Estimator],
    n: int,
    blocks: range,
    *,
    seed: int,
    block_size: int,
    n_reps: int,
    states: Sequence[Any] | None = None,
) -> BlockRun:
    """The estimates of seed blocks ``blocks`` of (problem, n) for every estimator.

    Args:
        problem: the problem.
        estimators: the estimators (common random numbers: one seed node per block).
        n: samples per estimate.
        blocks: consecutive block indices (``range(lo, hi)``).
        seed: root of the seed tree.
        block_size: replicates per block; block b holds replicates
            [b block_size, min((b + 1) block_size, n_reps)).
        n_reps: replicates in all (the last block may be short).
        states: the frozen control-variate states (``warm_state``), one per estimator.

    Returns:
        A ``BlockRun``: per estimator, the (R_blocks, p) estimates in block order, the
        summed seconds and the f evaluations per estimate.
    """
    sizes = [min(block_size, n_reps - b * block_size) for b in blocks]
    for b, size in zip(blocks, sizes, strict=True):
        if size <= 0:
            raise ValueError(
                f"block {b} is past the last block of n_reps={n_reps} with "
                f"block_size={block_size}; pass blocks within "
                f"range({block_count(n_reps, block_size)})"
            )
    if not sizes:
        raise ValueError(f"blocks must not be empty, got {blocks!r}")
    # filled in place, block by block: the (R, p) estimates are never held twice (a list
    # of parts and their concatenation), which bounds memory for models with many
    # parameters
    out: list[np.ndarray] = []
    secs = [0.0] * len(estimators)
    evals: dict[str, int] = {}
    offset = 0
    for b, size in zip(blocks, sizes, strict=True):
        res = run_block(problem, estimators, n, b, size, seed=seed, states=states)
        for j, e in enumerate(estimators):
            est = res.estimates[e.name]
            if len(out) <= j:
                out.append(np.empty((sum(sizes), *est.shape[1:]), dtype=est.dtype))
            out[j][offset : offset + size] = est
            secs[j] += res.seconds[e.name]
        evals = res.n_evals
        offset += size
        del res
    return BlockRun(out, secs, [int(evals[e.name]) for e in estimators])


class BlockPlan(NamedTuple):
    """What every chunk of a ``measure_variance`` call shares (sent once per worker).

    Attributes:
        problems: the problems. estimators: the estimators.
        states: (problem index, n) -> the frozen control-variate states.
        seed, block_size, n_reps: as in ``measure_blocks``.
        out: a ``SharedOutput`` with the (n_reps, p) array (problem index, n, estimator
            index) that forked workers write into, or None to return the estimates.
    """

    problems: Sequence[Problem]
    estimators: Sequence[Estimator]
    states: Mapping[tuple[int, int], Sequence[Any]]
    seed: int
    block_size: int
    n_reps: int
    out: SharedOutput | None


def run_chunk(plan: BlockPlan, chunk: tuple[int, int, int, int]) -> BlockRun:
    """The seed blocks ``chunk = (problem index, n, lo, hi)`` of ``plan``: what a worker runs.

    With ``plan.out``, the estimates are written into it in place (rows from
    ``lo * block_size``) and only their dtype goes back, as empty (0, p) arrays.
    """
    i, n, lo, hi = chunk
    run = measure_blocks(
        plan.problems[i],
        plan.estimators,
        n,
        range(lo, hi),
        seed=plan.seed,
        block_size=plan.block_size,
        n_reps=plan.n_reps,
        states=plan.states[(i, n)],
    )
    if plan.out is None:
        return run
    first = lo * plan.block_size
    for j, e in enumerate(run.estimates):
        plan.out.array((i, n, j), e.dtype)[first : first + len(e)] = e
    return BlockRun([e[:0] for e in run.estimates], run.seconds, run.n_evals)


def exact_truth(problem: Problem) -> np.ndarray | None:
    """The exact gradient (p,) by the problem's oracle, or None without one.

    None also when no oracle applies to this problem (``NoOracleError``): the table then
    reports NaN truth, bias and MSE. An oracle that fails (``OracleFailedError``, e.g.
    quadrature that does not converge) or is skipped because its enumeration exceeds the
    budget without a closed form (``BudgetExceededError``, e.g. a non-separable f of 1024
    Bernoullis) gives None too, with an ``OracleWarning`` naming the cause. Any other error
    propagates.
    """
    if not exact_mod.has_oracle(problem):
        return None
    try:
        return exact_mod.exact_gradient(problem)
    except (OracleFailedError, BudgetExceededError) as exc:
        _warn_failed(f"the exact gradient of problem {problem.name!r}", exc)
        return None
    except NoOracleError:
        return None


def exact_variance(problem: Problem, estimator: Estimator, n: int, state: Any) -> np.ndarray:
    """The exact variance (p,) of ``estimator`` at (problem, n, state).

    NaN where no oracle applies (``NoOracleError``), with an ``OracleWarning`` when the
    oracle failed or was skipped over its budget; any other error propagates.
    """
    try:
        return exact_mod.exact_moments(problem, estimator, n, state=state)[1]
    except (OracleFailedError, BudgetExceededError) as exc:
        _warn_failed(f"the exact variance of {estimator.name!r} on problem {problem.name!r}", exc)
        return np.full(problem.dist.n_params, np.nan)
    except NoOracleError:
        return np.full(problem.dist.n_params, np.nan)


def _warn_failed(what: str, exc: Exception) -> None:
    """An oracle failed: the table shows NaN, and the user is told why (never aborted)."""
    why = "skipped" if isinstance(exc, BudgetExceededError) else "failed"
    warnings.warn(f"{what} is NaN in the table (oracle {why}): {exc}", OracleWarning, stacklevel=3)
