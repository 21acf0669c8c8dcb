"""Where ``measure_variance`` computes its seed blocks: serial, local processes or Dask.

``map_chunks(fn, shared, chunks, executor=..., workers=...)`` calls ``fn(shared, chunk)``
for every chunk and returns the results in the order of ``chunks``, whatever the
executor, so the caller's numbers cannot depend on it. ``shared`` (the problems, the
estimators and their frozen states) is sent to each worker once, not with every chunk:

- "serial": in this process.
- "processes": a pool of ``workers`` local processes. On Linux the workers are forked
  (a forkserver or spawn worker would re-import NumPy and vartools, about 0.5 s each,
  which is more than many whole measurements), and kept warm between calls
  (``vartools.measure.pool``): each call sends ``shared`` to them by value with
  cloudpickle, so closures and lambdas work, and the workers' copy of the program is
  checked against the parent's before every call. A ``shared`` that cloudpickle cannot
  send is inherited instead, by a pool forked for that call. Elsewhere, and in a
  process that has loaded JAX (which must not fork), the workers are spawned and
  ``shared`` is sent by cloudpickle too: a problem that does not pickle fails with an
  error that says so. Each worker runs its BLAS single-threaded, so two workers do not oversubscribe
  two cores.
- "dask": a Dask distributed cluster (``scheduler="tcp://HOST:PORT"``, or a local
  cluster on loopback); ``shared`` is scattered once to every worker (cloudpickle).
  Needs ``pip install 'vartools[dask]'``.

Example:
    >>> map_chunks(lambda s, c: s + c, 10, [1, 2, 3], executor="serial")
    [11, 12, 13]
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any, NamedTuple

import cloudpickle

from vartools.measure.pool import PoolUnavailable, kept_pool
from vartools.measure.workers import (
    SharedOutput,
    blas_controller,
    exit_with_parent,
    keep_heap,
    limit_blas,
)

__all__ = [
    "DASK_MISSING",
    "EXECUTORS",
    "chunk_mapper",
    "dask_client",
    "forks",
    "map_chunks",
    "resolve_workers",
]

#: The executors ``measure_variance`` accepts (the runner's names).
EXECUTORS = ("serial", "processes", "dask")

DASK_MISSING = (
    "executor='dask' needs Dask distributed, which is an optional extra: "
    "pip install 'vartools[dask]'  (or: pip install 'dask[distributed]')"
)

_SHARED: dict[str, Any] = {}


def forks(executor: str) -> bool:
    """Whether ``executor``'s workers are forked from this process (share its memory).

    Only on Linux, and only while JAX is not loaded: JAX runs threads of its own, and
    forking a multithreaded process can deadlock (JAX warns so), so a process that has
    imported JAX spawns its workers instead (its problems are then pickled).
    """
    return executor == "processes" and sys.platform.startswith("linux") and "jax" not in sys.modules


def resolve_workers(executor: str, workers: int | None) -> int:
    """The worker count: 1 for "serial", else ``workers`` or the CPU count.

    Raises:
        ValueError: an unknown executor, or a worker count that is not a positive int.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise ValueError(f"workers must be a positive int or None (the CPU count), got {workers!r}")
    if executor == "serial":
        if workers not in (None, 1):
            raise ValueError(
                f"executor='serial' runs in this process, so workers must be None or 1, "
                f"got {workers!r}; pass executor='processes' to use {workers} workers"
            )
        return 1
    return workers or os.cpu_count() or 1


class _Pickled(NamedTuple):
    """``shared`` pickled by cloudpickle, for spawned workers (which unpickle it once)."""

    data: bytes


def _install(shared: Any, lifeline: Connection, keep_alive: Connection) -> None:
    keep_alive.close()  # a forked worker inherits the write end too: EOF needs it closed
    exit_with_parent(lifeline)
    keep_heap()
    _SHARED["value"] = pickle.loads(shared.data) if isinstance(shared, _Pickled) else shared
    limit_blas()


def _call(fn: Callable[[Any, Any], Any], chunk: Any) -> Any:
    return fn(_SHARED["value"], chunk)


Mapper = Callable[[Callable[[Any, Any], Any], Sequence[Any]], list[Any]]


@contextmanager
def _processes(shared: Any, workers: int, output: SharedOutput | None) -> Iterator[Mapper]:
    if forks("processes"):
        try:
            with kept_pool(shared, workers, output) as run:
                yield run
            return
        except PoolUnavailable:  # raised before anything ran: a pool of this call's own
            pass
    with _call_pool(shared, workers, output) as run:
        yield run


@contextmanager
def _call_pool(shared: Any, workers: int, output: SharedOutput | None) -> Iterator[Mapper]:
    """A pool for one call: forked (inheriting ``shared``) or spawned (pickling it)."""
    ctx: Any
    if forks("processes"):
        ctx = mp.get_context("fork")
        blas_controller()  # found before the fork, inherited by the workers
        if output is not None:
            output.own_buffer()  # mapped before the fork: shared with the workers
    else:  # spawn: macOS, Windows, or a process that has loaded JAX
        ctx = mp.get_context("spawn")
        try:  # by value: closures and lambdas as f work here too
            shared = _Pickled(cloudpickle.dumps(shared))
        except Exception as exc:
            raise TypeError(
                "executor='processes' here (not Linux, or JAX loaded) sends the problems and "
                "estimators to spawned workers with cloudpickle, and they do not pickle "
                f"({type(exc).__name__}: {exc}; an f holding a lock, an open file or a "
                "generator?): keep such objects out of them, or use executor='serial'"
            ) from exc
    lifeline, keep_alive = ctx.Pipe(duplex=False)
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=_install,
        initargs=(shared, lifeline, keep_alive),
    )

    def run(fn: Callable[[Any, Any], Any], chunks: Sequence[Any]) -> list[Any]:
        futures = [pool.submit(_call, fn, c) for c in chunks]
        return [f.result() for f in futures]

    try:
        yield run
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        keep_alive.close()  # after the shutdown: the workers have exited already
        lifeline.close()


@contextmanager
def dask_client(workers: int, scheduler: str | None) -> Iterator[Any]:
    """A Dask client of the cluster at ``scheduler``, or of a local cluster on loopback.

    The local cluster (``workers`` processes, one thread each) is closed on exit, with
    bounded timeouts: a worker that does not answer must not hang the caller. Shared by
    ``map_chunks`` and the runner's dask executor.

    Raises:
        RuntimeError: Dask distributed is not installed (with the pip command).
    """
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:
        raise RuntimeError(DASK_MISSING) from exc
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
        client = Client(cluster)
    try:
        yield client
    finally:
        client.close(timeout=30)
        if cluster is not None:
            cluster.close(timeout=30)


@contextmanager
def _dask(shared: Any, workers: int, scheduler: str | None) -> Iterator[Mapper]:
    with dask_client(workers, scheduler) as client:
        [handle] = client.scatter([shared], broadcast=True)

        def run(fn: Callable[[Any, Any], Any], chunks: Sequence[Any]) -> list[Any]:
            futures = [client.submit(fn, handle, c, pure=False) for c in chunks]
            return list(client.gather(futures))

        yield run


@contextmanager
def chunk_mapper(
    shared: Any,
    *,
    executor: str = "serial",
    workers: int | None = None,
    scheduler: str | None = None,
    output: SharedOutput | None = None,
) -> Iterator[Mapper]:
    """A ``run(fn, chunks)`` that maps ``fn(shared, c)`` over chunks, for several phases.

    The workers (and ``shared``) are set up once when the block is entered and serve
    every ``run`` inside it: ``measure_variance`` computes its seed blocks, then the
    statistics of those estimates, with one pool. Results come in the order of
    ``chunks``. Arguments as in ``map_chunks``; ``output`` (only where ``forks``) is the
    ``SharedOutput`` inside ``shared`` that the workers write into: it is given memory
    that they share for the duration of the block (its arrays are views of it, valid
    only inside the block).
    """
    n = resolve_workers(executor, workers)
    if scheduler is not None and executor != "dask":
        raise ValueError(f"scheduler is for executor='dask' only, got executor={executor!r}")
    if output is not None and not forks(executor):
        raise ValueError(
            f"output (shared memory) needs forked workers, which executor={executor!r} "
            "does not have here (forks(executor) is False)"
        )
    if executor == "serial":
        yield lambda fn, chunks: [fn(shared, c) for c in chunks]
    elif executor == "processes":
        with _processes(shared, n, output) as run:
            yield run
    else:
        with _dask(shared, n, scheduler) as run:
            yield run


def map_chunks(
    fn: Callable[[Any, Any], Any],
    shared: Any,
    chunks: Sequence[Any],
    *,
    executor: str = "serial",
    workers: int | None = None,
    scheduler: str | None = None,
) -> list[Any]:
    """``[fn(shared, c) for c in chunks]``, computed by ``executor`` (results in chunk order).

    Args:
        fn: the function (a module-level one for spawned workers and Dask).
        shared: what every call needs (sent once per worker).
        chunks: the work items (small, picklable).
        executor: "serial", "processes" or "dask".
        workers: worker processes (default: the CPU count; must be None or 1 for serial).
        scheduler: Dask scheduler address (default: a local cluster).

    Returns:
        The results, in the order of ``chunks``.
    """
    resolve_workers(executor, workers)
    if scheduler is not None and executor != "dask":
        raise ValueError(f"scheduler is for executor='dask' only, got executor={executor!r}")
    if not chunks:
        return []
    with chunk_mapper(shared, executor=executor, workers=workers, scheduler=scheduler) as run:
        return run(fn, chunks)
