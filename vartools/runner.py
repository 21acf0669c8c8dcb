"""Run experiments: split them into seeded cells, execute them anywhere, cache and assemble.

Cells. A frozen-parameter sweep is split into cells of (point, n, a range of seed
blocks); a training trajectory into one training cell per point, then
measurement cells of (point, n, a range of checkpoints). Block b of (problem, n)
is seeded by the seed-tree node (seed, problem name, n, b) exactly as in
``measure_variance`` (checkpoints of a trajectory add the checkpoint's step to
the node), so a cell's numbers do not depend on which process computes it, in
which order, or how many workers there are; the summary of a (point, n) is
``summarize`` over its concatenated blocks, the same numbers ``measure_variance``
gives.

Executors. "serial" (in this process), "processes" (local worker processes) and
"dask" (a Dask distributed cluster: ``scheduler="tcp://HOST:PORT"``, or a local
cluster on loopback when no address is given; needs ``pip install
'vartools[dask]'``). Workers receive a small task tuple (experiments directory,
experiment name, scale, cell key, seed, fingerprint, parameters of the
checkpoints): never generators or estimators. They rebuild the experiment from
its file and return arrays.

Caching and resuming. Every finished cell is written (atomically, with a sha256
checksum and the experiment's fingerprint) to
``results/<experiment>/cells/<scale>-seed<seed>/`` as soon as it arrives. A rerun
skips cells whose file verifies and whose fingerprint matches; a corrupted or
partial file, or one from a changed definition, is recomputed, never trusted.

Example:
    >>> import tempfile
    >>> from vartools.experiment import Experiment
    >>> exp = Experiment(name="doc_demo", description="SF vs RLOO", problem="liu_toy",
    ...                  estimators=["sf", "sf+loo"], n_samples=[4], n_reps=600)
    >>> with tempfile.TemporaryDirectory() as out:
    ...     report = run_experiment(exp, scale="full", out=out, progress=False)
    >>> report.complete, report.cells_computed
    (True, 1)
    >>> sorted(set(report.summary["estimator"]))
    ['sf', 'sf+loo']
"""

from __future__ import annotations

import io
import multiprocessing as mp
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from vartools import exact as exact_mod
from vartools._version import __version__
from vartools.estimators import Estimator
from vartools.experiment import (
    Experiment,
    default_experiments_dir,
    experiment_hooks,
    fingerprint,
    load_experiment,
    n_blocks,
)
from vartools.problems import Problem
from vartools.results import (
    FSYNC_MIN_SECONDS,
    SUMMARY,
    TRAINING,
    CorruptFileError,
    atomic_write_bytes,
    atomic_write_text,
    default_results_root,
    read_cell,
    write_cell,
    write_json,
    write_table,
)
from vartools.rng import generator, seed_node
from vartools.variance import COLUMNS, run_block, summarize, warm_state

__all__ = [
    "EXECUTORS",
    "CellKey",
    "CellTask",
    "RunReport",
    "compute_cell",
    "plan_cells",
    "run_experiment",
]

#: The executors ``run_experiment`` accepts.
EXECUTORS = ("serial", "processes", "dask")

#: Largest number of parameters stored as theta.* columns of the training table.
MAX_THETA_COLUMNS = 32


class CellKey(NamedTuple):
    """Identifies one cell.

    Attributes:
        kind: "block" (sweep), "train" or "measure" (trajectory).
        point: index of the parameter point.
        n: samples per estimate (for "train": per training step).
        lo: first seed block ("block") or checkpoint index ("measure"); 0 for "train".
        hi: one past the last.
    """

    kind: str
    point: int
    n: int
    lo: int
    hi: int

    @property
    def filename(self) -> str:
        """The cell's file name."""
        return f"{self.kind}-p{self.point}-n{self.n}-{self.lo}-{self.hi}.cell"


class CellTask(NamedTuple):
    """Everything a worker needs: plain, picklable values only."""

    directory: str | None
    experiment: str
    scale: str
    key: CellKey
    seed: int
    fingerprint: str
    thetas: tuple[tuple[float, ...], ...] | None = None
    steps: tuple[int, ...] | None = None


# ----------------------------------------------------------------- worker side


@dataclass
class _Built:
    exp: Experiment
    estimators: list[Estimator]
    problems: dict[int, Problem] = field(default_factory=dict)

    def problem(self, point: int) -> Problem:
        if point not in self.problems:
            self.problems[point] = self.exp.build_problem(point)
        return self.problems[point]


_BUILT: dict[tuple[Any, ...], _Built] = {}
_INLINE: dict[tuple[str, str], Experiment] = {}


def _built(task: CellTask) -> _Built:
    key = (task.directory, task.experiment, task.scale, task.fingerprint)
    b = _BUILT.get(key)
    if b is None:
        if task.directory is None:
            exp = _INLINE[(task.experiment, task.fingerprint)]
        else:
            exp = load_experiment(task.experiment, task.directory).at_scale(task.scale)
        b = _Built(exp, exp.build_estimators())
        if len(_BUILT) > 16:
            _BUILT.clear()
        _BUILT[key] = b
    return b


def _applicable(estimators: Sequence[Estimator], n: int) -> list[Estimator]:
    return [e for e in estimators if e.min_n <= n]


def _truth(problem: Problem) -> np.ndarray | None:
    if not exact_mod.has_oracle(problem):
        return None
    try:
        return exact_mod.exact_gradient(problem)
    except (ValueError, TypeError):
        return None


def _exact_variance(problem: Problem, est: Estimator, n: int, state: Any) -> np.ndarray:
    try:
        return exact_mod.exact_moments(problem, est, n, state=state)[1]
    except (ValueError, TypeError):
        return np.full(problem.dist.n_params, np.nan)


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
    states = [warm_state(problem, e, n, seed=seed, warmup=exp.warmup) for e in ests]
    parts: list[list[np.ndarray]] = [[] for _ in ests]
    secs = [0.0] * len(ests)
    evals: dict[str, int] = {}
    for b in blocks:
        size = min(exp.block_size, exp.n_reps - b * exp.block_size)
        res = run_block(problem, ests, n, b, size, seed=seed, states=states)
        for j, e in enumerate(ests):
            parts[j].append(res.estimates[e.name])
            secs[j] += res.seconds[e.name]
        evals = res.n_evals
    arrays = {f"{prefix}e{j}": np.concatenate(parts[j]) for j in range(len(ests))}
    meta: dict[str, Any] = {"seconds": secs, "n_evals": [int(evals[e.name]) for e in ests]}
    if with_exact:
        t = _truth(problem)
        if t is not None:
            arrays[f"{prefix}truth"] = t
        for j, (e, s) in enumerate(zip(ests, states, strict=True)):
            arrays[f"{prefix}x{j}"] = _exact_variance(problem, e, n, s)
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
        except (ValueError, TypeError):
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
    theta = np.array(problem.dist.params, dtype=np.float64)
    opt_state = opt.init(theta)
    est_state = est.init(problem)
    rng = generator(task.seed, problem.name, "train")
    checkpoints = set(traj.checkpoints())
    thetas, losses, exact_flags, emas = [], [], [], []
    m = v = np.zeros_like(theta)
    decay = traj.ema_decay
    t0 = time.perf_counter()
    for step in range(traj.steps + 1):
        prob = problem.with_params(theta)
        if step in checkpoints:
            loss, is_exact = _loss(exp, prob, task.seed, step)
            thetas.append(theta.copy())
            losses.append(loss)
            exact_flags.append(is_exact)
            if decay is not None and step > 0:
                m_hat, v_hat = m / (1 - decay**step), v / (1 - decay**step)
                emas.append(float(np.mean(np.maximum(v_hat - m_hat**2, 0.0))))
            else:
                emas.append(np.nan)
        if step == traj.steps:
            break
        g, est_state = est(prob, traj.n, rng=rng, state=est_state)
        if traj.extra_grad is not None:
            g = g + np.asarray(traj.extra_grad(prob), dtype=np.float64)
        if decay is not None:
            m = decay * m + (1 - decay) * g
            v = decay * v + (1 - decay) * g * g
        delta, opt_state = opt.update(-g if traj.maximize else g, opt_state, step)
        theta = theta + delta
    arrays = {
        "theta": np.array(thetas),
        "loss": np.array(losses),
        "loss_exact": np.array(exact_flags),
        "ema": np.array(emas),
    }
    return arrays, {
        "seconds_train": time.perf_counter() - t0,
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


# ------------------------------------------------------------------ executors


def _serial(tasks: Sequence[CellTask], workers: int | None, scheduler: str | None):
    for t in tasks:
        yield t, compute_cell(t)


def _processes(tasks: Sequence[CellTask], workers: int | None, scheduler: str | None):
    ctx = mp.get_context("forkserver" if sys.platform.startswith("linux") else "spawn")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(["vartools.runner"])
    pool = ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1, mp_context=ctx)
    try:
        pending: dict[Future[Any], CellTask] = {pool.submit(compute_cell, t): t for t in tasks}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield pending.pop(fut), fut.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


DASK_MISSING = (
    "the dask executor needs Dask distributed, which is an optional extra: "
    "pip install 'vartools[dask]'  (or: pip install 'dask[distributed]')"
)


def _dask(tasks: Sequence[CellTask], workers: int | None, scheduler: str | None):
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as exc:
        raise RuntimeError(DASK_MISSING) from exc
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
        client = Client(cluster)
    try:
        futures = {client.submit(compute_cell, t, pure=False): t for t in tasks}
        for fut in as_completed(list(futures)):
            yield futures[fut], fut.result()
    finally:
        for fut in list(futures) if "futures" in locals() else []:
            fut.cancel()
        client.close()
        if cluster is not None:
            cluster.close()


_EXECUTE: dict[str, Callable[..., Iterator[tuple[CellTask, Any]]]] = {
    "serial": _serial,
    "processes": _processes,
    "dask": _dask,
}


# -------------------------------------------------------------------- driver


@dataclass
class RunReport:
    """What a run did.

    Attributes:
        experiment: name. scale, seed: as run. out_dir: results/<experiment>/.
        complete: whether every cell finished and the tables were written.
        cells_total, cells_computed, cells_reused, cells_discarded: cell counts
            (discarded: corrupted, partial or stale files that were recomputed).
        seconds: wall time. cell_seconds: summed compute time of new cells.
        summary, training: the tables (None when incomplete or not applicable).
        files: the files written.
    """

    experiment: str
    scale: str
    seed: int
    out_dir: Path
    complete: bool = False
    cells_total: int = 0
    cells_computed: int = 0
    cells_reused: int = 0
    cells_discarded: int = 0
    seconds: float = 0.0
    cell_seconds: float = 0.0
    summary: pd.DataFrame | None = None
    training: pd.DataFrame | None = None
    files: list[Path] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


def plan_cells(exp: Experiment, phase: str = "measure") -> list[CellKey]:
    """The cells of ``exp`` (resolved at a scale) for phase "train" or "measure"."""
    ests = exp.build_estimators()

    def cells(kind: str, count: int, per_cell: int) -> list[CellKey]:
        """Per point and applicable n, ``count`` seed blocks or checkpoints in runs of per_cell."""
        return [
            CellKey(kind, p, n, lo, min(count, lo + per_cell))
            for p in range(len(exp.points))
            for n in exp.n_samples
            if _applicable(ests, n)
            for lo in range(0, count, per_cell)
        ]

    if exp.trajectory is None:
        return cells("block", n_blocks(exp), exp.blocks_per_cell)
    if phase == "train":
        return [CellKey("train", p, exp.trajectory.n, 0, 1) for p in range(len(exp.points))]
    return cells("measure", len(exp.trajectory.checkpoints()), exp.checkpoints_per_cell)


def _versions(executor: str) -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version(), "vartools": __version__}
    names = ["numpy", "scipy", "pandas", "matplotlib", "tqdm"]
    if executor == "dask":
        names += ["dask", "distributed"]
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def _git() -> dict[str, Any]:
    root = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        return {"revision": rev, "dirty": bool(dirty)}
    except (OSError, subprocess.SubprocessError):
        return {"revision": None, "dirty": None}


def _load_cached(path: Path, key: CellKey, fp: str) -> tuple[Any, str]:
    """(result or None, reason) for a cell file."""
    if not path.exists():
        return None, "missing"
    try:
        arrays, meta = read_cell(path)
    except CorruptFileError as exc:
        return None, f"corrupt: {exc}"
    if meta.get("fingerprint") != fp or tuple(meta.get("key", ())) != tuple(key):
        return None, "stale (the experiment definition or vartools changed)"
    return (arrays, meta), "ok"


def _prepare(
    experiment: str | Experiment, scale: str, directory: str | Path | None, executor: str
) -> tuple[Experiment, str | None]:
    if isinstance(experiment, Experiment):
        exp = experiment.at_scale(scale)
        if executor != "serial":
            d = Path(directory) if directory is not None else default_experiments_dir()
            loaded = load_experiment(exp.name, d).at_scale(scale)
            if fingerprint(loaded, d) != fingerprint(exp, d):
                raise ValueError(
                    f"executor {executor!r} rebuilds experiment {exp.name!r} from its file in "
                    f"{d}, which differs from the Experiment object given; pass its name"
                )
            return exp, str(d.resolve())
        return exp, None
    d = Path(directory) if directory is not None else default_experiments_dir()
    return load_experiment(experiment, d).at_scale(scale), str(d.resolve())


def run_experiment(
    experiment: str | Experiment,
    *,
    scale: str = "quick",
    seed: int | None = None,
    executor: str = "serial",
    workers: int | None = None,
    scheduler: str | None = None,
    out: str | Path | None = None,
    directory: str | Path | None = None,
    raw: bool = False,
    progress: bool = True,
    max_cells: int | None = None,
    command: Sequence[str] | None = None,
) -> RunReport:
    """Run an experiment (by name, or an Experiment for the serial executor).

    Args:
        experiment: a name from the experiments directory, or an Experiment object
            (other executors need it to be the one in its file).
        scale: "quick" or "full".
        seed: root seed (default: the experiment's).
        executor: "serial", "processes" or "dask".
        workers: worker processes (default: the CPU count).
        scheduler: Dask scheduler address; None starts a local cluster on loopback.
        out: results root; the experiment writes ``out/<name>/`` (default:
            ``results`` for the full scale, ``results/quick`` for the quick one).
        directory: experiments directory (default ``default_experiments_dir()``).
        raw: also write the replicate estimates (``raw.npz``).
        progress: show a progress bar with ETA (tqdm, on stderr).
        max_cells: compute at most this many new cells, then stop (incomplete run).
        command: the command line to record in meta.json (default: sys.argv).

    Returns:
        A RunReport; tables are written only when every cell is done.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {list(EXECUTORS)}, got {executor!r}")
    if scale not in ("quick", "full"):
        raise ValueError(f"scale must be 'quick' or 'full', got {scale!r}")
    if scheduler is not None and executor != "dask":
        raise ValueError(
            f"a scheduler address ({scheduler!r}) only applies to executor 'dask', got "
            f"executor {executor!r}; pass --executor dask"
        )
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise ValueError(f"workers must be a positive integer or None, got {workers!r}")
    t_start = time.perf_counter()
    exp, dir_str = _prepare(experiment, scale, directory, executor)
    root_seed = exp.seed if seed is None else int(seed)
    if root_seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    fp = fingerprint(exp, Path(dir_str) if dir_str else None)
    fp = f"{fp}:{root_seed}"
    if dir_str is None:
        _INLINE[(exp.name, fp)] = exp
    out_dir = Path(out if out is not None else default_results_root(scale)) / exp.name
    cell_dir = out_dir / "cells" / f"{scale}-seed{root_seed}"
    report = RunReport(exp.name, scale, root_seed, out_dir)
    ests = exp.build_estimators()
    problems = [exp.build_problem(p) for p in range(len(exp.points))]
    names = [p.name for p in problems]
    if len(set(names)) != len(names):
        raise ValueError(
            f"experiment {exp.name!r}: the points give problems with repeated names {names}; "
            "each point needs a distinct problem name (seeds hang off it): put the point's "
            "values in the name"
        )
    results: dict[CellKey, tuple[dict[str, np.ndarray], dict[str, Any]]] = {}
    budget = [max_cells]

    def run_phase(keys: list[CellKey], extra: Callable[[CellKey], dict[str, Any]]) -> bool:
        todo: list[CellTask] = []
        stale = []
        for key in keys:
            cached, why = _load_cached(cell_dir / key.filename, key, fp)
            if cached is not None:
                results[key] = cached
                report.cells_reused += 1
                continue
            if why.startswith("stale"):
                stale.append(key.filename)
            elif why != "missing":
                report.messages.append(f"recomputing {key.filename}: {why}")
            report.cells_discarded += why != "missing"
            todo.append(CellTask(dir_str, exp.name, scale, key, root_seed, fp, **extra(key)))
        if stale:
            report.messages.append(
                f"recomputing {len(stale)} stale cells (from a changed experiment definition "
                f"or vartools source), e.g. {stale[0]}"
            )
        report.cells_total += len(keys)
        if budget[0] is not None:
            stop = len(todo) > budget[0]
            todo = todo[: budget[0]]
            budget[0] -= len(todo)
        else:
            stop = False
        bar = None
        if progress and todo:
            from tqdm.auto import tqdm

            bar = tqdm(
                total=len(keys),
                initial=len(keys) - len(todo),
                desc=exp.name,
                unit="cell",
                dynamic_ncols=True,
                leave=False,
            )
        try:
            for task, (arrays, meta) in _EXECUTE[executor](todo, workers, scheduler):
                meta = {**meta, "key": list(task.key), "fingerprint": fp}
                spent = float(np.sum(meta.get("seconds", 0.0))) + float(
                    meta.get("seconds_train", 0.0)
                )
                write_cell(
                    cell_dir / task.key.filename, arrays, meta, fsync=spent >= FSYNC_MIN_SECONDS
                )
                results[task.key] = (arrays, meta)
                report.cells_computed += 1
                report.cell_seconds += spent
                if bar is not None:
                    bar.update()
        finally:
            if bar is not None:
                bar.close()
        return not stop

    ok = True
    thetas: dict[int, np.ndarray] = {}
    steps = exp.trajectory.checkpoints() if exp.trajectory is not None else (0,)
    if exp.trajectory is not None:
        ok = run_phase(plan_cells(exp, "train"), lambda k: {})
        if ok:
            for p in range(len(exp.points)):
                thetas[p] = results[CellKey("train", p, exp.trajectory.n, 0, 1)][0]["theta"]

    def extra(key: CellKey) -> dict[str, Any]:
        if key.kind != "measure":
            return {}
        th = thetas[key.point][key.lo : key.hi]
        return {
            "thetas": tuple(tuple(float(v) for v in row) for row in th),
            "steps": tuple(steps[key.lo : key.hi]),
        }

    if ok:
        ok = run_phase(plan_cells(exp, "measure"), extra)
    report.seconds = time.perf_counter() - t_start
    if not ok:
        report.messages.append(
            f"stopped after {report.cells_computed} new cells (max_cells); rerun to resume"
        )
        return report
    report.summary = _assemble_summary(exp, problems, ests, results, steps)
    write_table(out_dir / "summary.csv", report.summary, SUMMARY)
    report.files.append(out_dir / "summary.csv")
    if exp.trajectory is not None:
        report.training = _assemble_training(exp, problems, results, steps)
        write_table(out_dir / "training.csv", report.training, TRAINING)
        report.files.append(out_dir / "training.csv")
    if raw:
        _write_raw(out_dir / "raw.npz", exp, ests, results, steps)
        report.files.append(out_dir / "raw.npz")
    hooks = experiment_hooks(exp.name, directory)
    extra_tables: dict[str, pd.DataFrame] = {}
    if hooks.tables is not None:  # the experiment's own tables (exact curves, ...)
        extra_tables = dict(hooks.tables(exp, report.summary))
    elif hooks.exact_table is not None:
        extra_tables = {"exact": hooks.exact_table(exp.scale)}
    for key, table in extra_tables.items():
        if key in ("summary", "training", "meta") or not key.isidentifier():
            raise ValueError(
                f"experiment {exp.name!r}: tables() returned the key {key!r}; use a plain "
                "name other than summary, training and meta"
            )
        atomic_write_text(out_dir / f"{key}.csv", table.to_csv(index=False))
        report.files.append(out_dir / f"{key}.csv")
    report.complete = True
    report.seconds = time.perf_counter() - t_start
    meta = {
        "experiment": exp.describe(),
        "command": list(command) if command is not None else list(sys.argv),
        "seed": root_seed,
        "seed_entropy": root_seed,
        "fingerprint": fp,
        "versions": _versions(executor),
        "git": _git(),
        "host": {"node": platform.node(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "executor": {"name": executor, "workers": workers, "scheduler": scheduler},
        "timings": {
            "wall_seconds": report.seconds,
            "cell_seconds": report.cell_seconds,
            "cells_total": report.cells_total,
            "cells_computed": report.cells_computed,
            "cells_reused": report.cells_reused,
            "cells_discarded": report.cells_discarded,
        },
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "files": [p.name for p in report.files],
    }
    write_json(out_dir / "meta.json", meta)
    report.files.append(out_dir / "meta.json")
    return report


def _block_estimates(
    exp: Experiment, results: dict[CellKey, Any], point: int, n: int
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Concatenate the block cells of (point, n): the arrays of one measurement."""
    nb = n_blocks(exp)
    keys = [
        CellKey("block", point, n, lo, min(nb, lo + exp.blocks_per_cell))
        for lo in range(0, nb, exp.blocks_per_cell)
    ]
    names = results[keys[0]][1]["estimators"]
    arrays: dict[str, np.ndarray] = {}
    for j in range(len(names)):
        arrays[f"e{j}"] = np.concatenate([results[k][0][f"e{j}"] for k in keys])
    first = results[keys[0]][0]
    for k, v in first.items():
        if not k.startswith("e"):
            arrays[k] = v
    secs = [sum(results[k][1]["seconds"][j] for k in keys) for j in range(len(names))]
    return arrays, {
        "estimators": names,
        "seconds": secs,
        "n_evals": results[keys[-1]][1]["n_evals"],
    }


def _measurements(exp: Experiment, results: dict[CellKey, Any], steps: Sequence[int]):
    """Yield (point, step index, step, n, arrays, meta) for every measurement."""
    for p in range(len(exp.points)):
        for n in exp.n_samples:
            if exp.trajectory is None:
                key0 = CellKey("block", p, n, 0, min(n_blocks(exp), exp.blocks_per_cell))
                if key0 not in results:
                    continue
                arrays, meta = _block_estimates(exp, results, p, n)
                yield p, 0, 0, n, arrays, meta
                continue
            nc = len(steps)
            for lo in range(0, nc, exp.checkpoints_per_cell):
                key = CellKey("measure", p, n, lo, min(nc, lo + exp.checkpoints_per_cell))
                if key not in results:
                    continue
                arrays, meta = results[key]
                for i in range(key.hi - key.lo):
                    pre = f"c{i}_"
                    sub = {k[len(pre) :]: v for k, v in arrays.items() if k.startswith(pre)}
                    yield (
                        p,
                        lo + i,
                        steps[lo + i],
                        n,
                        sub,
                        {
                            "estimators": meta["estimators"],
                            "seconds": meta["seconds"][i],
                            "n_evals": meta["n_evals"][i],
                        },
                    )


def _assemble_summary(
    exp: Experiment,
    problems: list[Problem],
    ests: list[Estimator],
    results: dict[CellKey, Any],
    steps: Sequence[int],
) -> pd.DataFrame:
    by_name = {e.name: e for e in ests}
    tables = []
    for p, _ci, step, n, arrays, meta in _measurements(exp, results, steps):
        names = meta["estimators"]
        used = [by_name[nm] for nm in names]
        ref = exp.reference if exp.reference in names else None
        exact_v = (
            {nm: arrays[f"x{j}"] for j, nm in enumerate(names) if f"x{j}" in arrays}
            if exp.exact
            else None
        )
        table = summarize(
            problems[p],
            used,
            n,
            {nm: arrays[f"e{j}"] for j, nm in enumerate(names)},
            seconds=dict(zip(names, meta["seconds"], strict=True)),
            n_evals=dict(zip(names, meta["n_evals"], strict=True)),
            truth=arrays.get("truth"),
            exact_variances=exact_v,
            reference=ref,
        )
        lead = {
            "experiment": exp.name,
            "scale": exp.scale,
            "point": p,
            "step": step,
            **exp.point_columns(p),
        }
        if exp.summary_rows == "aggregates":
            keep = (table["kind"] != "coordinate") | table["coordinate"].isin(exp.coordinates)
            table = table[keep].reset_index(drop=True)
        for i, (k, v) in enumerate(lead.items()):
            table.insert(i, k, v)
        tables.append(table)
    df = pd.concat(tables, ignore_index=True)
    front = [c for c in df.columns if c not in COLUMNS]
    return df[front + COLUMNS]


def _assemble_training(
    exp: Experiment, problems: list[Problem], results: dict[CellKey, Any], steps: Sequence[int]
) -> pd.DataFrame:
    traj = exp.trajectory
    assert traj is not None
    rows = []
    for p, prob in enumerate(problems):
        arrays, meta = results[CellKey("train", p, traj.n, 0, 1)]
        pnames = prob.dist.param_names
        for i, step in enumerate(steps):
            row: dict[str, Any] = {
                "experiment": exp.name,
                "scale": exp.scale,
                "point": p,
                "step": int(step),
                **exp.point_columns(p),
                "problem": prob.name,
                "estimator": meta["estimator"],
                "optimizer": meta["optimizer"],
                "loss": float(arrays["loss"][i]),
                "loss_exact": bool(arrays["loss_exact"][i]),
                "ema_variance": float(arrays["ema"][i]),
            }
            if len(pnames) <= MAX_THETA_COLUMNS:
                row.update(
                    {f"theta.{nm}": float(arrays["theta"][i, j]) for j, nm in enumerate(pnames)}
                )
            rows.append(row)
    return pd.DataFrame(rows)


def _write_raw(
    path: Path,
    exp: Experiment,
    ests: list[Estimator],
    results: dict[CellKey, Any],
    steps: Sequence[int],
) -> None:
    arrays: dict[str, np.ndarray] = {}
    for p, _ci, step, n, arr, meta in _measurements(exp, results, steps):
        for j, nm in enumerate(meta["estimators"]):
            e = arr[f"e{j}"]
            if e.ndim != 2 or not np.isfinite(e).all():
                raise ValueError(f"raw estimates of {nm!r} at point {p}, n={n} are malformed")
            arrays[f"point{p}/step{step}/n{n}/{nm}"] = e
    buf = io.BytesIO()
    np.savez_compressed(buf, allow_pickle=False, **arrays)
    atomic_write_bytes(path, buf.getvalue())
