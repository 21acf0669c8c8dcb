"""Worker side of the runner: build an experiment once per process, measure and train cells.

``compute_cell`` dispatches a cell to these helpers; it is the one function a worker runs. A worker
rebuilds the experiment from the task's plain values (``_built``: executed from the
source texts the task carries, or the in-process object registered in ``_INLINE`` by
the serial executor), checks that its fingerprint is the task's (else
``StaleDefinitionError``), caches it per process, and returns arrays: ``_measure`` runs the seed
blocks of (problem, n) for every applicable estimator (plus the exact truth and
variances when asked, all by ``vartools.measure.blocks``, the code of
``measure_variance``), ``_train`` runs a training trajectory with the one training
loop (``vartools.measure.training.train``) and records its checkpoints. Seeds come
from the seed tree only (``measure_blocks``' block nodes,
``_checkpoint_seed`` for a checkpoint), never from the process or the order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vartools.core.errors import NoOracleError
from vartools.core.problem import Problem
from vartools.core.rng import generator, seed_node
from vartools.estimators.composed import Estimator
from vartools.harness.cells import CellTask, _applicable
from vartools.harness.experiment import Experiment, n_blocks
from vartools.harness.fingerprint import (
    Fingerprint,
    check_fingerprint,
    fingerprint,
    vartools_digest,
)
from vartools.harness.loading import experiment_from_sources, load_sources
from vartools.measure.blocks import exact_truth, exact_variance, measure_blocks, warm_state
from vartools.measure.training import train
from vartools.oracles import exact as exact_mod

__all__ = ["compute_cell"]


@dataclass
class _Built:
    exp: Experiment
    estimators: list[Estimator]
    problems: dict[int, Problem] = field(default_factory=dict)

    def problem(self, point: int) -> Problem:
        if point not in self.problems:
            self.problems[point] = self.exp.build_problem(point)
        return self.problems[point]


# Snapshot the digest of the vartools sources now, when this process imports them (a
# forkserver that preloads the runner hands the snapshot to the workers it forks).
vartools_digest()

_BUILT: dict[tuple[Any, ...], _Built] = {}
_INLINE: dict[tuple[str, str], Experiment] = {}


def _built(task: CellTask) -> _Built:
    """The task's experiment, built from the task's own sources and checked against its key.

    The experiment is executed from the source texts the driver read and keyed (never
    from this machine's files), and its fingerprint is recomputed here, from what was
    loaded and this process's vartools sources: a mismatch raises
    ``StaleDefinitionError`` before anything is computed. Built experiments are cached
    per process by (sources, scale, key); the sources are compared as texts, so a cache
    hit is the same definition.
    """
    key = (task.sources, task.experiment, task.scale, task.fingerprint, task.parts)
    b = _BUILT.get(key)
    if b is None:
        if task.directory is None or task.sources is None:
            exp = _INLINE[(task.experiment, task.fingerprint)]
        else:
            exp = experiment_from_sources(task.sources, task.directory).at_scale(task.scale)
        check_fingerprint(fingerprint(exp, task.sources), Fingerprint(*task.parts), exp.name)
        b = _Built(exp, exp.build_estimators())
        if len(_BUILT) > 16:
            _BUILT.clear()
        _BUILT[key] = b
    elif task.sources is not None and task.directory is not None:
        load_sources(task.sources, task.directory)  # its local modules current again
    return b


def _measure(
    exp: Experiment,
    problem: Problem,
    ests: list[Estimator],
    n: int,
    blocks: range,
    seed: int,
    with_exact: bool,
    prefix: str,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    # the same block computation, truth and exact variance as measure_variance
    states = [warm_state(problem, e, n, seed=seed, warmup=exp.warmup) for e in ests]
    run = measure_blocks(
        problem,
        ests,
        n,
        blocks,
        seed=seed,
        block_size=exp.layout.block_size,
        n_reps=exp.n_reps,
        states=states,
    )
    arrays = {f"{prefix}e{j}": e for j, e in enumerate(run.estimates)}
    meta: dict[str, Any] = {"seconds": run.seconds, "n_evals": run.n_evals}
    if with_exact:
        t = exact_truth(problem)
        if t is not None:
            arrays[f"{prefix}truth"] = t
        for j, (e, s) in enumerate(zip(ests, states, strict=True)):
            arrays[f"{prefix}x{j}"] = exact_variance(problem, e, n, s)
    return arrays, meta


def _checkpoint_seed(seed: int, problem: Problem, step: int) -> int:
    return int(seed_node(seed, problem.name, "checkpoint", step).generate_state(1, np.uint64)[0])


def _loss(exp: Experiment, problem: Problem, seed: int, step: int) -> tuple[float, bool]:
    traj = exp.trajectory
    assert traj is not None
    if traj.loss is not None:
        return float(traj.loss(problem)), True
    if problem.dist.enumerable or exact_mod.has_oracle(problem):
        try:
            return float(exact_mod.exact_expectation(problem)), True
        except NoOracleError:
            pass
    rng = generator(seed, problem.name, "loss", step)
    x = problem.dist.sample(traj.loss_samples, rng=rng)
    return float(problem.evaluate(x).mean()), False


def _train(task: CellTask, b: _Built) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    exp = b.exp
    traj = exp.trajectory
    assert traj is not None
    problem = b.problem(task.key.point)
    est = traj.build_estimator()
    opt = traj.optimizer
    thetas, losses, exact_flags, emas = [], [], [], []
    zeros = np.zeros(problem.dist.n_params)
    carry: dict[str, Any] = {"state": est.init(problem), "m": zeros, "v": zeros}
    decay = traj.ema_decay

    def gradient(step: int, theta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        prob = problem.with_params(theta)
        g, carry["state"] = est(prob, traj.n, rng=rng, state=carry["state"])
        if traj.extra_grad is not None:
            g = g + np.asarray(traj.extra_grad(prob), dtype=np.float64)
        if decay is not None:
            carry["m"] = decay * carry["m"] + (1 - decay) * g
            carry["v"] = decay * carry["v"] + (1 - decay) * g * g
        return -g if traj.maximize else g

    def checkpoint(step: int, theta: np.ndarray, seconds: float) -> None:
        loss, is_exact = _loss(exp, problem.with_params(theta), task.seed, step)
        thetas.append(theta.copy())
        losses.append(loss)
        exact_flags.append(is_exact)
        if decay is not None and step > 0:
            m_hat = carry["m"] / (1 - decay**step)
            v_hat = carry["v"] / (1 - decay**step)
            emas.append(float(np.mean(np.maximum(v_hat - m_hat**2, 0.0))))
        else:
            emas.append(np.nan)

    run = train(
        problem.dist.params,
        gradient,
        opt,
        steps=traj.steps,
        seed=task.seed,
        key=(problem.name, "train"),
        checkpoints=traj.checkpoints(),
        on_checkpoint=checkpoint,
    )
    arrays = {
        "theta": np.array(thetas),
        "loss": np.array(losses),
        "loss_exact": np.array(exact_flags),
        "ema": np.array(emas),
    }
    return arrays, {
        "seconds_train": run.seconds,
        "estimator": est.name,
        "optimizer": opt.name,
    }


def compute_cell(task: CellTask) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Compute one cell from its task: ``(arrays, meta)``. Runs in any worker."""
    b = _built(task)
    exp, key = b.exp, task.key
    if key.kind == "train":
        return _train(task, b)
    problem = b.problem(key.point)
    ests = _applicable(b.estimators, key.n)
    names = [e.name for e in ests]
    if key.kind == "block":
        arrays, meta = _measure(
            exp,
            problem,
            ests,
            key.n,
            range(key.lo, key.hi),
            task.seed,
            exp.exact and key.lo == 0,
            "",
        )
        return arrays, {**meta, "estimators": names}
    if key.kind == "measure":
        assert task.thetas is not None and task.steps is not None
        arrays, meta = {}, {"seconds": [], "n_evals": [], "estimators": names}
        for i, (theta, step) in enumerate(zip(task.thetas, task.steps, strict=True)):
            prob = problem.with_params(np.array(theta))
            seed = _checkpoint_seed(task.seed, problem, step)
            a, m = _measure(exp, prob, ests, key.n, range(n_blocks(exp)), seed, exp.exact, f"c{i}_")
            arrays.update(a)
            meta["seconds"].append(m["seconds"])
            meta["n_evals"].append(m["n_evals"])
        return arrays, meta
    raise ValueError(f"unknown cell kind {key.kind!r}")
