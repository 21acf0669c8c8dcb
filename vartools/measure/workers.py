"""What every local worker process of vartools does when it starts, and the memory it shares.

Shared by ``measure_variance``'s pools (``vartools.measure.executors`` and the
long-lived pool of ``vartools.measure.pool``) and by the runner's processes executor
(``vartools.harness.executors``):

- ``exit_with_parent``: the worker ends as soon as the main process dies, SIGKILL
  included (no orphans);
- ``keep_heap``: glibc keeps the worker's freed memory for its next seed block;
- ``limit_blas``: one BLAS thread per worker, so two workers do not oversubscribe two
  cores;
- ``SharedOutput``: output arrays in shared memory, which forked workers write into.
"""

from __future__ import annotations

import mmap
import os
import sys
import threading
from collections.abc import Hashable
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

__all__ = ["SharedOutput", "blas_controller", "exit_with_parent", "keep_heap", "limit_blas"]

_FOUND: dict[str, Any] = {}
_LIMITS: list[Any] = []  # the active BLAS limit of this worker (kept alive)


def exit_with_parent(lifeline: Connection) -> None:
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


def blas_controller() -> Any:
    """threadpoolctl's controller (None without threadpoolctl), found once per process.

    Finding it is the slow part (it scans the loaded libraries); forked workers inherit it
    when the parent calls this before forking.
    """
    if "controller" not in _FOUND:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn and SciPy
            _FOUND["controller"] = None
        else:
            _FOUND["controller"] = ThreadpoolController()
    return _FOUND["controller"]


def limit_blas() -> None:
    """Run this process's BLAS on one thread (the workers share the cores)."""
    controller = blas_controller()
    if controller is not None:
        _LIMITS.append(controller.limit(limits=1, user_api="blas"))


def keep_heap() -> None:
    """Let glibc's malloc keep freed memory in the heap (for a worker process only).

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


class SharedOutput:
    """Output arrays in anonymous shared memory, which forked workers write into.

    Returning large arrays from a worker pickles them through a pipe, which on our
    2-core test machine moved about 50-100 MB/s: 2 x 160 MB took 3.5-6.5 s, far more
    than computing them. Memory mapped before the workers fork is shared instead: a
    worker writes its rows in place and the parent reads them without a copy.

    The arrays are laid out from offset 0 of a buffer: the kept pool's arena, which its
    workers inherited (``bind``; ``vartools.measure.pool``), or else a mapping of its own,
    made at the first ``array`` or ``own_buffer`` call (before the fork).

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
        self.nbytes = total
        self.buffer: Any = None

    def own_buffer(self) -> None:
        """Map a buffer of its own (MAP_SHARED | MAP_ANONYMOUS) unless one is bound."""
        if self.buffer is None:
            self.buffer = mmap.mmap(-1, max(self.nbytes, 1))

    def bind(self, buffer: Any) -> None:
        """Lay the arrays out at the start of ``buffer`` (at least ``nbytes`` long)."""
        if len(buffer) < self.nbytes:
            raise ValueError(f"buffer of {len(buffer)} bytes, {self.nbytes} needed")
        self.buffer = buffer

    def array(self, key: Hashable, dtype: Any) -> np.ndarray:
        """The output array ``key`` seen as ``dtype`` (a view of the shared memory)."""
        dt = np.dtype(dtype)
        if dt.itemsize > self.itemsize:
            raise ValueError(
                f"output {key!r} has dtype {dt} ({dt.itemsize} bytes), but "
                f"{self.itemsize} bytes per element were reserved; pass itemsize={dt.itemsize}"
            )
        self.own_buffer()
        return np.ndarray(self.shapes[key], dtype=dt, buffer=self.buffer, offset=self.offsets[key])
