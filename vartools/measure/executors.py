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
import threading
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

__all__ = [
    "DASK_MISSING",
    "EXECUTORS",
    "SharedOutput",
    "chunk_mapper",
    "dask_client",
    "exit_with_parent",
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


def exit_with_parent(lifeline: Connection) -> None:
    """Worker initializer: exit at once when the main process dies (no orphans).

    ``lifeline`` is the read end of a pipe whose only write end the main process holds.
    When the main process ends in any way, SIGKILL included, the kernel closes that end
    and a daemon thread here sees end-of-file and ends the worker with ``os._exit``;
    polling the parent's pid would not do, since a forkserver's children have the
    forkserver as parent, and it works alike under the spawn start method (macOS,
    Windows), where ``prctl(PR_SET_PDEATHSIG)`` does not exist. Used by these executors
    and by the runner's (``vartools.harness.executors``).
    """

    def watch() -> None:
        try:
            lifeline.recv_bytes()  # nothing is ever sent: returns only at end-of-file
        except (EOFError, OSError):
            pass
        os._exit(1)

    threading.Thread(target=watch, name="vartools-lifeline", daemon=True).start()


def _blas_controller() -> Any:
    """threadpoolctl's controller (None without threadpoolctl), found once in the parent.

    Finding it is the slow part (it scans the loaded libraries); forked workers inherit it.
    """
    if "controller" not in _SHARED:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn and SciPy
            _SHARED["controller"] = None
        else:
            _SHARED["controller"] = ThreadpoolController()
    return _SHARED["controller"]


def _keep_heap() -> None:
    """Let glibc's malloc keep freed memory in the heap (a worker's own, short-lived).

    By default arrays above a dynamic threshold get fresh pages from mmap at every
    allocation and give them back when freed, so every seed block faults its arrays in
    again. Measured on W1 at R = 20,000 (2 workers): 62,800 minor page faults in the
    workers per call, 19,200 with these settings, and 12% less worker CPU time. The
    parent process is left as it is.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 512 * 2**20)  # M_MMAP_THRESHOLD: no mmap below 512 MiB
        libc.mallopt(-1, 1024 * 2**20)  # M_TRIM_THRESHOLD: keep up to 1 GiB of free heap
    except (OSError, AttributeError):  # pragma: no cover - not glibc (musl): leave it
        pass


def _install(shared: Any, lifeline: Connection, keep_alive: Connection) -> None:
    keep_alive.close()  # a forked worker inherits the write end too: EOF needs it closed
    exit_with_parent(lifeline)
    _keep_heap()
    _SHARED["value"] = shared
    controller = _SHARED.get("controller")
    if controller is None:  # spawned: find the libraries here
        controller = _blas_controller()
    if controller is not None:  # one BLAS thread per worker: the workers share the cores
        _SHARED["limits"] = controller.limit(limits=1, user_api="blas")


def _call(fn: Callable[[Any, Any], Any], chunk: Any) -> Any:
    return fn(_SHARED["value"], chunk)


Mapper = Callable[[Callable[[Any, Any], Any], Sequence[Any]], list[Any]]


@contextmanager
def _processes(shared: Any, workers: int) -> Iterator[Mapper]:
    ctx: Any
    if forks("processes"):
        ctx = mp.get_context("fork")
        _blas_controller()  # found before the fork, inherited by the workers
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
) -> Iterator[Mapper]:
    """A ``run(fn, chunks)`` that maps ``fn(shared, c)`` over chunks, for several phases.

    The workers (and ``shared``) are set up once when the block is entered and serve
    every ``run`` inside it: ``measure_variance`` computes its seed blocks, then the
    statistics of those estimates, with one pool. Results come in the order of
    ``chunks``. Arguments as in ``map_chunks``.
    """
    n = resolve_workers(executor, workers)
    if scheduler is not None and executor != "dask":
        raise ValueError(f"scheduler is for executor='dask' only, got executor={executor!r}")
    if executor == "serial":
        yield lambda fn, chunks: [fn(shared, c) for c in chunks]
    elif executor == "processes":
        with _processes(shared, n) as run:
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
        fn: a module-level function (workers import it by name).
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
