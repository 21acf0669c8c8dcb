"""Executors of the runner: where cells are computed (serial, local processes, Dask).

Each executor takes the cell tasks, the worker count and the Dask scheduler address
and yields ``(task, (arrays, meta))`` pairs as cells finish, in any order; each cell is
computed by ``vartools.harness.compute.compute_cell``, which workers import by that module
path. ``_EXECUTE`` maps the executor names of ``vartools.harness.runner.run_experiment`` to them.

No orphans: the processes executor's workers exit as soon as the main process dies,
even by SIGKILL (``vartools.measure.workers.exit_with_parent``, which
``measure_variance``'s process workers use too; the Dask client and local cluster come
from the same module's ``dask_client``). The workers of the local Dask cluster (no
``scheduler`` given) are Dask's nanny processes, which end with the main process on
their own; a cluster given by address is the user's and outlives the run by design.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from vartools.harness.cells import CellTask
from vartools.harness.compute import compute_cell
from vartools.measure.executors import DASK_MISSING, dask_client
from vartools.measure.workers import exit_with_parent

__all__ = ["DASK_MISSING"]


def _serial(tasks: Sequence[CellTask], workers: int | None, scheduler: str | None):

    for t in tasks:
        yield t, compute_cell(t)


def _processes(tasks: Sequence[CellTask], workers: int | None, scheduler: str | None):

    ctx = mp.get_context("forkserver" if sys.platform.startswith("linux") else "spawn")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(["vartools.harness.runner"])
    lifeline, keep_alive = ctx.Pipe(duplex=False)
    pool = ProcessPoolExecutor(
        max_workers=workers or os.cpu_count() or 1,
        mp_context=ctx,
        initializer=exit_with_parent,
        initargs=(lifeline,),
    )
    try:
        pending: dict[Future[Any], CellTask] = {pool.submit(compute_cell, t): t for t in tasks}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield pending.pop(fut), fut.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        keep_alive.close()  # after the shutdown: the workers have exited already
        lifeline.close()


def _dask(tasks: Sequence[CellTask], workers: int | None, scheduler: str | None):

    with dask_client(workers or os.cpu_count() or 1, scheduler) as client:
        from dask.distributed import as_completed

        futures = {client.submit(compute_cell, t, pure=False): t for t in tasks}
        try:
            for fut in as_completed(list(futures)):
                yield futures[fut], fut.result()
        finally:
            for fut in futures:
                fut.cancel()


_EXECUTE: dict[str, Callable[..., Iterator[tuple[CellTask, Any]]]] = {
    "serial": _serial,
    "processes": _processes,
    "dask": _dask,
}
