"""Run experiments: split them into seeded cells, execute them anywhere, cache and assemble.

This module holds the driver, ``run_experiment``. The rest lives in sibling modules:
``vartools.harness.executors`` (the serial, processes and Dask
executors), ``vartools.harness.cells`` (cell keys and tasks, the plan, seeding,
caching and resuming), ``vartools.harness.compute`` (the worker side: measuring seed
blocks, training trajectories) and ``vartools.harness.output`` (the summary and
training tables, raw estimates, provenance).

Executors. "serial" (in this process), "processes" (local worker processes) and
"dask" (a Dask distributed cluster: ``scheduler="tcp://HOST:PORT"``, or a local
cluster on loopback when no address is given; needs ``pip install
'vartools[dask]'``). Workers receive a small task tuple (experiments directory,
experiment name, scale, cell key, seed, fingerprint, the experiment's source texts
as the driver read them, parameters of the checkpoints): never generators or
estimators. They execute those texts, check that the fingerprint of what they loaded
is the task's (``vartools.harness.fingerprint``; else ``StaleDefinitionError``, and
the run fails with nothing written under that key) and return arrays.

Example:
    >>> import tempfile
    >>> from vartools.harness.experiment import Experiment
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

import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vartools.core.validation import nearest_name
from vartools.harness.cells import CellKey, CellTask, _load_cached, inputs_digest, plan_cells
from vartools.harness.compute import (
    _INLINE,
)
from vartools.harness.executors import _EXECUTE
from vartools.harness.experiment import Experiment
from vartools.harness.fingerprint import Sources, fingerprint, read_sources
from vartools.harness.loading import (
    default_experiments_dir,
    experiment_from_sources,
    experiment_hooks,
    experiment_names,
)
from vartools.harness.output import (
    _assemble_summary,
    _assemble_training,
    _git,
    _versions,
    _write_raw,
)
from vartools.harness.storage import (
    FSYNC_MIN_SECONDS,
    atomic_write_text,
    default_results_root,
    table_manifest,
    write_cell,
    write_json,
    write_table,
)
from vartools.measure.schema import SUMMARY, TRAINING

__all__ = [
    "EXECUTORS",
    "CellKey",
    "CellTask",
    "RunReport",
    "plan_cells",
    "run_experiment",
]

#: The executors ``run_experiment`` accepts.
EXECUTORS = ("serial", "processes", "dask")


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


def _prepare(
    experiment: str | Experiment, scale: str, directory: str | Path | None, executor: str
) -> tuple[Experiment, str | None, Sources | None]:
    """The experiment at ``scale``, its directory and its sources, each read once.

    A name is loaded from the sources read here, which the tasks then carry: the
    definition keyed is the one computed, whatever happens to the files meanwhile.
    """
    d = Path(directory) if directory is not None else default_experiments_dir()
    if isinstance(experiment, Experiment):
        exp = experiment.at_scale(scale)
        if executor == "serial":
            return exp, None, None
        sources = read_sources(d, exp.name)
        loaded = experiment_from_sources(sources, d).at_scale(scale)
        if fingerprint(loaded, sources).definition != fingerprint(exp, sources).definition:
            raise ValueError(
                f"executor {executor!r} rebuilds experiment {exp.name!r} from its file in "
                f"{d}, which differs from the Experiment object given; pass its name"
            )
        return loaded, str(d.resolve()), sources
    names = experiment_names(d)
    if experiment not in names:
        raise ValueError(
            f"unknown experiment {experiment!r} in {d.resolve()}; {nearest_name(experiment, names)}"
        )
    sources = read_sources(d, experiment)
    return experiment_from_sources(sources, d).at_scale(scale), str(d.resolve()), sources


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
    exp, dir_str, sources = _prepare(experiment, scale, directory, executor)
    root_seed = exp.seed if seed is None else int(seed)
    if root_seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    parts = fingerprint(exp, sources)
    fp = f"{parts.key}:{root_seed}"
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
            inputs = extra(key)
            cached, why = _load_cached(cell_dir / key.filename, key, fp, inputs_digest(**inputs))
            if cached is not None:
                results[key] = cached
                report.cells_reused += 1
                continue
            if why.startswith("stale"):
                stale.append(key.filename)
            elif why != "missing":
                report.messages.append(f"recomputing {key.filename}: {why}")
            report.cells_discarded += why != "missing"
            todo.append(
                CellTask(dir_str, exp.name, scale, key, root_seed, fp, parts, sources, **inputs)
            )
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
                meta = {
                    **meta,
                    "key": list(task.key),
                    "fingerprint": fp,
                    "inputs": inputs_digest(task.thetas, task.steps),
                }
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
    hooks = experiment_hooks(exp.name, directory, sources=sources)
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
        "tables": {  # read back by check_complete: a truncated table is an error
            name: table_manifest(t)
            for name, t in (("summary.csv", report.summary), ("training.csv", report.training))
            if t is not None
        },
    }
    write_json(out_dir / "meta.json", meta)
    report.files.append(out_dir / "meta.json")
    return report
