"""Where ``measure_variance`` computes its seed blocks: serial, local processes or Dask.

``map_chunks(fn, shared, chunks, executor=..., workers=...)`` calls ``fn(shared, chunk)``
for every chunk and returns the results in the order of ``chunks``, whatever the
executor, so the caller's numbers cannot depend on it. ``shared`` (the problems, the
estimators and their frozen states) is sent to each worker once, not with every chunk:

- "serial": in this process.
- "processes": a pool of ``workers`` local processes. On Linux the pool forks, so the
  workers inherit ``shared`` without pickling it: problems whose objective is a
  closure or a lambda work, and a worker starts in milliseconds (a forkserver or spawn
  worker would re-import NumPy and vartools, about 0.5 s each, which is more than many
  whole measurements). Elsewhere, and in a process that has loaded JAX (which must not
  fork), the workers are spawned and ``shared`` is pickled: a problem that does not
  pickle fails with an error that says so. Each worker runs its BLAS single-threaded,
  so two workers do not oversubscribe two cores.
- "dask": a Dask distributed cluster (``scheduler="tcp://HOST:PORT"``, or a local
  cluster on loopback); ``shared`` is scattered once to every worker (cloudpickle).
  Needs ``pip install 'vartools[dask]'``.

Example:
    >>> map_chunks(lambda s, c: s + c, 10, [1, 2, 3], executor="serial")
    [11, 12, 13]
"""

from __future__ import annotations

import mmap
import multiprocessing as mp
import os
import pickle
import sys
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

__all__ = ["EXECUTORS", "SharedOutput", "forks", "map_chunks", "resolve_workers"]

#: The executors ``measure_variance`` accepts (the runner's names).
EXECUTORS = ("serial", "processes", "dask")

_DASK_MISSING = (
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


class SharedOutput:
    """Output arrays in anonymous shared memory, which forked workers write into.

    Returning large arrays from a worker pickles them through a pipe, which on our
    2-core test machine moved about 50-100 MB/s: 2 x 160 MB took 3.5-6.5 s, far more
    than computing them. Memory mapped before the pool forks is shared instead: a
    worker writes its rows in place and the parent reads them without a copy. Only for
    executors that fork (``forks``); create it before the pool.

    Args:
        shapes: key -> the shape of that output array.
        itemsize: bytes reserved per element (8: float64; a float32 array uses half).
    """

    def __init__(self, shapes: dict[Hashable, tuple[int, ...]], itemsize: int = 8) -> None:
        self.shapes = dict(shapes)
        self.itemsize = itemsize
        self.offsets: dict[Hashable, int] = {}
        total = 0
        for key, shape in self.shapes.items():
            self.offsets[key] = total
            total += int(np.prod(shape, dtype=np.int64)) * itemsize
        self.buffer = mmap.mmap(-1, max(total, 1))  # MAP_SHARED | MAP_ANONYMOUS

    def array(self, key: Hashable, dtype: Any) -> np.ndarray:
        """The output array ``key`` seen as ``dtype`` (a view of the shared memory)."""
        dt = np.dtype(dtype)
        if dt.itemsize > self.itemsize:
            raise ValueError(
                f"output {key!r} has dtype {dt} ({dt.itemsize} bytes), but "
                f"{self.itemsize} bytes per element were reserved; pass itemsize={dt.itemsize}"
            )
        return np.ndarray(self.shapes[key], dtype=dt, buffer=self.buffer, offset=self.offsets[key])


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


def _install(shared: Any) -> None:
    _SHARED["value"] = shared
    try:  # one BLAS thread per worker: the workers share the cores
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn and SciPy
        return
    _SHARED["limits"] = threadpool_limits(limits=1, user_api="blas")


def _call(fn: Callable[[Any, Any], Any], chunk: Any) -> Any:
    return fn(_SHARED["value"], chunk)


def _processes(fn: Callable[[Any, Any], Any], shared: Any, chunks: Sequence[Any], workers: int):
    ctx: Any
    if forks("processes"):
        ctx = mp.get_context("fork")
    else:  # spawn: macOS, Windows, or a process that has loaded JAX
        ctx = mp.get_context("spawn")
        try:
            pickle.dumps(shared)
        except Exception as exc:
            raise TypeError(
                "executor='processes' here (not Linux, or JAX loaded) sends the problems and "
                "estimators to spawned workers by pickle, and they do not pickle (a lambda or "
                "closure as f?): "
                "define them at module level, or use executor='dask' (cloudpickle)"
            ) from exc
    with ProcessPoolExecutor(
        max_workers=min(workers, len(chunks)),
        mp_context=ctx,
        initializer=_install,
        initargs=(shared,),
    ) as pool:
        futures = [pool.submit(_call, fn, c) for c in chunks]
        return [f.result() for f in futures]


def _dask(
    fn: Callable[[Any, Any], Any],
    shared: Any,
    chunks: Sequence[Any],
    workers: int,
    scheduler: str | None,
):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:
        raise RuntimeError(_DASK_MISSING) from exc
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
        [handle] = client.scatter([shared], broadcast=True)
        futures = [client.submit(fn, handle, c, pure=False) for c in chunks]
        return client.gather(futures)
    finally:
        client.close(timeout=30)  # bounded: a worker that does not answer must not hang us
        if cluster is not None:
            cluster.close(timeout=30)


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
        fn: a module-level function (workers import it by name).
        shared: what every call needs (sent once per worker).
        chunks: the work items (small, picklable).
        executor: "serial", "processes" or "dask".
        workers: worker processes (default: the CPU count; must be None or 1 for serial).
        scheduler: Dask scheduler address (default: a local cluster).

    Returns:
        The results, in the order of ``chunks``.
    """
    workers = resolve_workers(executor, workers)
    if scheduler is not None and executor != "dask":
        raise ValueError(f"scheduler is for executor='dask' only, got executor={executor!r}")
    if executor == "serial" or not chunks:
        return [fn(shared, c) for c in chunks]
    if executor == "processes":
        return _processes(fn, shared, chunks, workers)
    return _dask(fn, shared, chunks, workers, scheduler)
