"""Executors of the runner: where cells are computed (serial, local processes, Dask).

Each executor takes the cell tasks, the worker count and the Dask scheduler address
and yields ``(task, (arrays, meta))`` pairs as cells finish, in any order; each cell is
computed by ``vartools.harness.compute.compute_cell``, which workers import by that module
path. ``_EXECUTE`` maps the executor names of ``vartools.harness.runner.run_experiment`` to them.

No orphans: the processes executor's workers exit as soon as the main process dies,
even by SIGKILL (``_exit_with_parent``). The workers of the local Dask cluster (no
``scheduler`` given) are Dask's nanny processes, which end with the main process on
their own; a cluster given by address is the user's and outlives the run by design.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing.connection import Connection
from typing import Any

from vartools.harness.cells import CellTask
from vartools.harness.compute import compute_cell

__all__ = ["DASK_MISSING"]


def _serial(tasks: Sequence[CellTask], workers: int | None, scheduler: str | None):

    for t in tasks:
        yield t, compute_cell(t)


def _exit_with_parent(lifeline: Connection) -> None:
    """Worker initializer: exit at once when the main process dies (no orphans).

    ``lifeline`` is the read end of a pipe whose only write end the main process holds.
    When the main process ends in any way, SIGKILL included, the kernel closes that end
    and a daemon thread here sees end-of-file and ends the worker with ``os._exit``;
    polling the parent's pid would not do, since a forkserver's children have the
    forkserver as parent, and it works alike under the spawn start method (macOS,
    Windows), where ``prctl(PR_SET_PDEATHSIG)`` does not exist.
    """

    def watch() -> None:
        try:
            lifeline.recv_bytes()  # nothing is ever sent: returns only at end-of-file
        except (EOFError, OSError):
            pass
        os._exit(1)

    threading.Thread(target=watch, name="vartools-lifeline", daemon=True).start()


def _processes(tasks: Sequence[CellTask], workers: int | None, scheduler: str | None):

    ctx = mp.get_context("forkserver" if sys.platform.startswith("linux") else "spawn")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(["vartools.harness.runner"])
    lifeline, keep_alive = ctx.Pipe(duplex=False)
    pool = ProcessPoolExecutor(
        max_workers=workers or os.cpu_count() or 1,
        mp_context=ctx,
        initializer=_exit_with_parent,
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
        # bounded shutdown: a worker that does not answer must not hang the run
        client.close(timeout=30)
        if cluster is not None:
            cluster.close(timeout=30)


_EXECUTE: dict[str, Callable[..., Iterator[tuple[CellTask, Any]]]] = {
    "serial": _serial,
    "processes": _processes,
    "dask": _dask,
}
