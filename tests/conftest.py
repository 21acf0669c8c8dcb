"""Shared fixtures and helpers of the core test suite.

Every Monte Carlo check uses a fixed seed and a tolerance derived from a standard
error, |estimate - truth| <= z * SE, with z from a family-wise error of about 1e-6
(``Z_ONE`` for a single comparison, ``Z_HUNDRED`` for about a hundred). Exact checks
use enumeration or quadrature and ``ATOL``.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from scipy import stats

import vartools as vt
from vartools.core import objectives

#: Tolerance of exact (enumeration) identities.
ATOL = 1e-12
#: Two-sided normal quantile for a family-wise error of 1e-6: one comparison.
Z_ONE = float(stats.norm.isf(0.5e-6))
#: The same for about a hundred comparisons (Bonferroni).
Z_HUNDRED = float(stats.norm.isf(0.5e-8))


def bern_f(b: np.ndarray) -> np.ndarray:
    """A non-separable objective on 3 Bernoullis: products and a nonlinearity."""
    return (
        b[..., 0] * b[..., 1]
        + 2.0 * b[..., 1] * b[..., 2]
        - 0.7 * b[..., 0]
        + np.sin(b.sum(-1))
        + 0.3 * b[..., 2]
    )


def bern_problem(logits=(0.3, -1.1, 0.8)) -> vt.Problem:
    """Bernoulli problem with a non-separable f (p = 3)."""
    return vt.Problem("bern3", vt.Bernoulli(np.asarray(logits, dtype=float)), bern_f)


_TABLE = np.array([[0.4, -1.2, 2.0], [1.5, 0.1, -0.8]])


def cat_f(z: np.ndarray) -> np.ndarray:
    """Non-separable objective on a (2,) batch of 3-way categoricals."""
    v0 = _TABLE[0][z[..., 0]]
    v1 = _TABLE[1][z[..., 1]]
    return v0 + v1 + 1.3 * v0 * v1 + (z[..., 0] == z[..., 1])


def cat_problem(logits=None) -> vt.Problem:
    """Categorical problem: batch of 2 categoricals with 3 classes (p = 6)."""
    if logits is None:
        logits = np.array([[0.2, -0.5, 1.0], [-1.0, 0.4, 0.3]])
    return vt.Problem("cat2x3", vt.Categorical(np.asarray(logits, dtype=float)), cat_f)


def cat1_problem() -> vt.Problem:
    """One categorical with 4 classes (event shape ()), non-linear f."""
    table = np.array([1.0, -2.0, 0.5, 3.0])
    return vt.Problem(
        "cat4",
        vt.Categorical(np.array([0.1, -0.3, 0.7, -1.2])),
        lambda z: table[z] ** 2 - table[z],
    )


def normal_problem(cost: str, k: float, *, log_scale: bool = False, loc=1.0, scale=1.0):
    """A one-dimensional Normal problem with an objective of Mohamed et al. (2020)."""
    f = {
        "square": objectives.shifted_square,
        "bump": objectives.gaussian_bump,
        "cos": objectives.cosine,
    }[cost](k)
    dist = (
        vt.Normal.from_log_scale([loc], [np.log(scale)])
        if log_scale
        else vt.Normal(np.array([loc]), np.array([scale]))
    )
    return vt.Problem(f"gauss_{cost}_{k:g}_{'log' if log_scale else 'sd'}", dist, f)


def central_difference(fun: Callable[[np.ndarray], np.ndarray], theta: np.ndarray, h: float):
    """Central finite differences of fun (returning an array) in each entry of theta.

    Returns an array of shape (*fun(theta).shape, p).
    """
    theta = np.asarray(theta, dtype=float)
    cols = []
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = h
        cols.append((np.asarray(fun(theta + e)) - np.asarray(fun(theta - e))) / (2 * h))
    return np.stack(cols, axis=-1)


@pytest.fixture
def bern() -> vt.Problem:
    return bern_problem()


@pytest.fixture
def cat() -> vt.Problem:
    return cat_problem()


__all__ = [
    "ATOL",
    "Z_HUNDRED",
    "Z_ONE",
    "bern_f",
    "bern_problem",
    "cat1_problem",
    "cat_f",
    "cat_problem",
    "central_difference",
    "normal_problem",
]


def in_fresh_interpreter(module_file: str, test: str) -> bool:
    """Run ``test`` of ``module_file`` in a new interpreter when this one has loaded JAX.

    The processes executor forks only while JAX is not loaded (forking JAX's threads can
    deadlock) and spawns otherwise; once another test has imported JAX, a test of the
    fork path runs in a fresh process. Returns whether it did (and asserts it passed).
    """
    if "jax" not in sys.modules:
        return False
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"{module_file}::{test}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    return True


@contextlib.contextmanager
def killed_leaves_no_orphans(
    proc: subprocess.Popen, started: Callable[[], bool], what: str
) -> Iterator[None]:
    """SIGKILL ``proc`` once ``started()`` holds; no child of it may outlive it by 5 s.

    The body runs after the kill check; whatever happens, no process of the test is left
    behind.
    """
    import psutil

    children: list[psutil.Process] = []
    try:
        main = psutil.Process(proc.pid)
        deadline = time.monotonic() + 60
        while not started():
            assert time.monotonic() < deadline, f"no {what} within 60 s"
            assert proc.poll() is None, "the main process ended early"
            time.sleep(0.05)
        children = main.children(recursive=True)
        assert len(children) >= 2, children  # the workers (and a forkserver)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        _, alive = psutil.wait_procs(children, timeout=5)
        assert not alive, f"orphans 5 s after the main process was killed: {alive}"
        yield
    finally:  # never leave a process of the test behind, even when it fails
        proc.kill()
        proc.wait(10)
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
