"""The forked worker pool that ``measure_variance`` keeps between calls (Linux).

Why it lives on: a pool forked afresh at every call starts cold. Its workers fault in
their heaps, and while two of them do it at once they ran W1's first seed blocks at
about half speed. That alone held W1 (a half-second call) at 1.0-1.3x on two processes.
Warm workers ran the same blocks in 0.25 s against 0.52 s serial
(docs/readme/performance.md). So the first ``executor="processes"`` call forks the
workers, and later calls reuse them. One pool is kept per worker count.

Definitions by value, never stale. A worker forked earlier does not hold the objects
of a later call. Each call therefore sends its shared value (problems, estimators,
frozen states) once, pickled by cloudpickle. Closures and lambdas go by value. A
function or class importable by name goes by reference, and the worker looks it up in
its own copy of the program, which is the parent's program as it was at the fork.

Before the call uses the pool, the parent checks that this copy is still right. At the
fork it records every loaded module and the objects of its namespace. For each
function or class that goes by reference, every module of that package (``user_f``;
for vartools, every ``vartools.*`` module) must still hold the same objects. The
objects are compared by identity, not by value. These all count as changes: a module
edited and reloaded, a function redefined, a constant reassigned, a module imported
after the fork. The standard library is not checked. On any change, the pool is
replaced by a fresh fork, so a worker never computes with an older definition than the
parent's.

A value that cloudpickle cannot send falls back to a pool forked for that one call,
which inherits the value (``vartools.measure.executors``). An example is an f that
holds a lock or an open file.

The estimates go through shared memory, not pipes. The pool owns an anonymous
``MAP_SHARED`` arena, mapped before the fork. The call's ``SharedOutput`` arrays and
its pickled value are laid out in it, and a worker writes its rows in place. A call
that needs more than the arena holds replaces the pool with a larger one. A pool whose
arena grew past ``KEEP_BYTES`` is closed at the end of its call, so the pages of one
large measurement are not held afterwards. ``shutdown_workers()`` closes the pools
explicitly; interpreter exit closes it too, and the workers end with the main process
in any case (``vartools.measure.workers.exit_with_parent``).

One call at a time uses the pool. A second thread calling meanwhile gets a pool forked
for its own call. A call that ends in an error (or is interrupted) discards the pool
at once, so that none of its chunks still running can write into the next call's
arena.
"""

from __future__ import annotations

import atexit
import io
import itertools
import mmap
import multiprocessing as mp
import pickle
import sys
import threading
import types
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any

import cloudpickle

from vartools.measure.workers import (
    SharedOutput,
    blas_controller,
    exit_with_parent,
    keep_heap,
    limit_blas,
)

__all__ = ["KEEP_BYTES", "PoolUnavailable", "kept_pool", "shutdown_workers"]

#: A pool whose arena is larger than this (bytes) is closed at the end of its call.
KEEP_BYTES = 512 * 2**20
#: The smallest arena a pool is forked with (untouched pages cost no memory).
MIN_ARENA = 64 * 2**20

_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | {"builtins", "__main__"}
_IGNORED = frozenset({"__warningregistry__"})  # written by warnings; computes nothing
_MISSING = object()


class PoolUnavailable(Exception):
    """The kept pool cannot serve this call (the caller forks a pool of its own)."""


def _snapshot() -> dict[str, tuple[types.ModuleType, dict[str, Any]]]:
    """Every loaded module and its namespace (references to the objects, not copies)."""
    out = {}
    for name, mod in list(sys.modules.items()):
        if isinstance(mod, types.ModuleType):
            try:
                out[name] = (mod, dict(vars(mod)))
            except TypeError:  # pragma: no cover - a module object without a __dict__
                continue
    return out


def _by_name(obj: Any) -> str | None:
    """The module cloudpickle names ``obj`` by (a global reachable by name), else None."""
    mod_name = getattr(obj, "__module__", None)
    qual = getattr(obj, "__qualname__", None)
    if not isinstance(mod_name, str) or not isinstance(qual, str) or "<locals>" in qual:
        return None
    mod = sys.modules.get(mod_name)
    if mod is None or mod_name == "__main__":
        return None
    found: Any = mod
    for part in qual.split("."):
        found = getattr(found, part, None)
    return mod_name if found is obj else None


class _Pickler(cloudpickle.Pickler):
    """cloudpickle, with two additions for the kept pool.

    A ``SharedOutput`` goes as its layout (the worker binds it to its arena), and the
    packages of the globals sent by name are collected.
    """

    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.packages: set[str] = set()

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, SharedOutput):
            return ("output", obj.shapes, obj.itemsize)
        return None

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, (types.FunctionType, type)):
            mod = _by_name(obj)
            if mod is not None:
                self.packages.add(mod.partition(".")[0])
        return super().reducer_override(obj)


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, arena: mmap.mmap) -> None:
        super().__init__(file)
        self._arena = arena

    def persistent_load(self, pid: Any) -> Any:
        kind, shapes, itemsize = pid
        if kind != "output":  # pragma: no cover - only outputs are sent by layout
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        out = SharedOutput(shapes, itemsize)
        out.bind(self._arena)
        return out


def _dumps(value: Any) -> tuple[bytes, set[str]]:
    """``value`` pickled by cloudpickle, and the packages it names globals of."""
    buf = io.BytesIO()
    pickler = _Pickler(buf)
    try:
        pickler.dump(value)
    except Exception as exc:  # cloudpickle raises several kinds (TypeError, PicklingError, ...)
        raise PoolUnavailable(f"the value does not pickle: {type(exc).__name__}: {exc}") from exc
    return buf.getvalue(), pickler.packages


# ----------------------------------------------------------------------- the workers
_WORKER: dict[str, Any] = {}


def _start_worker(arena: mmap.mmap, lifeline: Connection, keep_alive: Connection) -> None:
    keep_alive.close()  # a forked worker inherits the write end too: EOF needs it closed
    exit_with_parent(lifeline)
    keep_heap()
    limit_blas()
    _WORKER.clear()
    _WORKER["arena"] = arena


def _task(token: int, where: tuple[int, int], task: bytes) -> Any:
    """One chunk, in a worker: load the call's value (once per call), run ``fn(value, c)``."""
    arena = _WORKER["arena"]
    if _WORKER.get("token") != token:
        _WORKER.pop("value", None)
        lo, hi = where
        _WORKER["value"] = _Unpickler(io.BytesIO(arena[lo:hi]), arena).load()
        _WORKER["token"] = token
    fn, chunk = _Unpickler(io.BytesIO(task), arena).load()
    return fn(_WORKER["value"], chunk)


def _noop(_: Any) -> None:
    return None


# ----------------------------------------------------------------------- the parent
class _Pool:
    """One forked pool: its workers, its arena and the program as it was at the fork."""

    def __init__(self, workers: int, arena_bytes: int) -> None:
        blas_controller()  # found before the fork, inherited by the workers
        self.workers = workers
        self.arena = mmap.mmap(-1, arena_bytes)  # MAP_SHARED | MAP_ANONYMOUS
        self.snapshot = _snapshot()
        self.checked: set[str] = set()  # packages found current in this call
        ctx = mp.get_context("fork")
        self._lifeline, self._keep_alive = ctx.Pipe(duplex=False)
        self.executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=ctx,
            initializer=_start_worker,
            initargs=(self.arena, self._lifeline, self._keep_alive),
        )
        # fork every worker now, from the program just recorded
        list(self.executor.map(_noop, range(workers)))

    def current(self, packages: set[str]) -> bool:
        """Whether every module of ``packages`` holds the same objects as at the fork.

        A package found current is not checked again until ``checked`` is reset (at the
        start of each call).
        """
        for pkg in packages - _STDLIB - self.checked:
            prefix = pkg + "."
            now = [n for n in list(sys.modules) if n == pkg or n.startswith(prefix)]
            then = [n for n in self.snapshot if n == pkg or n.startswith(prefix)]
            if len(now) != len(then) or set(now) != set(then):
                return False
            for name in now:
                mod, names = self.snapshot[name]
                if sys.modules.get(name) is not mod:
                    return False
                ns = vars(mod)
                for key, obj in names.items():
                    if ns.get(key, _MISSING) is not obj and key not in _IGNORED:
                        return False
                if len(ns) != len(names) and not set(ns).symmetric_difference(names) <= _IGNORED:
                    return False  # a name added since the fork
        self.checked.update(packages)
        return True

    def close(self) -> None:
        """Shut the workers down (they finish what they run) and unmap the arena."""
        self.executor.shutdown(wait=True, cancel_futures=True)
        self._keep_alive.close()  # after the shutdown: the workers have exited already
        self._lifeline.close()
        try:
            self.arena.close()
        except BufferError:  # arrays still view it: it is unmapped when they are freed
            pass

    def kill(self) -> None:
        """End the workers at once, mid-task too (their lifeline sees end-of-file)."""
        self._keep_alive.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self._lifeline.close()


_POOLS: dict[int, _Pool] = {}  # worker count -> its kept pool
_LOCK = threading.Lock()
_TOKENS = itertools.count(1)


def shutdown_workers() -> None:
    """Close the worker pools that ``measure_variance`` keeps (if any) and free their memory.

    One pool is kept per worker count. The next ``executor="processes"`` call forks a
    new one. Runs at interpreter exit too.
    """
    with _LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
        for pool in pools:
            pool.close()


atexit.register(shutdown_workers)


def _arena_size(needed: int) -> int:
    size = MIN_ARENA
    while size < needed:
        size *= 2
    return size


def _drop(pool: _Pool | None, *, kill: bool = False) -> None:
    if pool is not None:
        pool.kill() if kill else pool.close()
        if _POOLS.get(pool.workers) is pool:
            del _POOLS[pool.workers]


Mapper = Callable[[Callable[[Any, Any], Any], Sequence[Any]], list[Any]]


@contextmanager
def kept_pool(shared: Any, workers: int, output: SharedOutput | None = None) -> Iterator[Mapper]:
    """A ``run(fn, chunks)`` on the kept pool of ``workers`` forked processes.

    ``shared`` is sent once by value (the module's docstring says how, and why it cannot
    be stale); ``output`` (or None) is laid out at the start of the arena and bound to it
    for the call. The pool is forked anew when there is none, when it has another worker
    count, when its arena is too small, or when its copy of the program is not current
    for what is sent (then the estimates written so far are copied to the new arena).

    Raises:
        PoolUnavailable: before anything ran, when ``shared`` does not pickle even by
            cloudpickle, or another thread is using the pool.
    """
    if not _LOCK.acquire(blocking=False):
        raise PoolUnavailable("the kept pool is busy with another call")
    try:
        value, packages = _dumps(shared)
        if workers in _POOLS:
            _POOLS[workers].checked = set()  # check every package again in this call
        lo = -(-(0 if output is None else output.nbytes) // 64) * 64
        where = (lo, lo + len(value))
        sent: set[str] = set(packages)
        mine: list[_Pool] = []  # the pool this call has written its value into

        def ready() -> _Pool:
            """A pool holding this call's value, whose program is current for ``sent``."""
            if mine and mine[-1].current(sent):
                return mine[-1]
            pool = _POOLS.get(workers)
            if pool is None or pool in mine or len(pool.arena) < where[1] or not pool.current(sent):
                # the estimates of earlier runs of this call move to the new arena; the old
                # pool is closed first, so that no thread of it is running at the fork
                kept = mine[-1].arena[:lo] if mine and output is not None else None
                _drop(pool)
                _POOLS[workers] = pool = _Pool(workers, _arena_size(where[1]))
                if kept is not None:
                    pool.arena[:lo] = kept
            pool.arena[where[0] : where[1]] = value
            if output is not None:
                output.bind(pool.arena)
            mine.append(pool)
            return pool

        token = next(_TOKENS)

        def run(fn: Callable[[Any, Any], Any], chunks: Sequence[Any]) -> list[Any]:
            tasks = []
            for c in chunks:
                task, pkgs = _dumps((fn, c))
                sent.update(pkgs)
                tasks.append(task)
            pool = ready()
            futures = [pool.executor.submit(_task, token, where, t) for t in tasks]
            return [f.result() for f in futures]

        try:
            ready()
            yield run
        except BaseException:
            _drop(_POOLS.get(workers), kill=True)
            raise
        finally:
            if output is not None:
                output.buffer = None
            pool = _POOLS.get(workers)
            if pool is not None and len(pool.arena) > KEEP_BYTES:
                _drop(pool)
    finally:
        _LOCK.release()
