"""The worker pool measure_variance keeps between calls: reused, never stale, never stuck.

``vartools.measure.pool`` forks the workers at the first ``executor="processes"`` call
and reuses them. Each call sends its problems and estimators by value, and the workers'
copy of the program is checked against the parent's first. These tests pin four
things. The pool is reused. Every change a worker could miss forks a new pool: a
reloaded module, a reassigned constant, a module imported after the fork. What cannot
be sent by value still works, through a pool of its own. Errors and concurrent callers
leave no pool behind that could write into the next call's memory.
"""

from __future__ import annotations

import importlib
import sys
import threading
import types
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
from conftest import in_fresh_interpreter

import vartools as vt
from vartools.measure import pool
from vartools.measure.executors import map_chunks

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the kept (forked) pool is Linux's"
)


def _in_fresh_interpreter(test: str) -> bool:
    return in_fresh_interpreter(__file__, test)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    cols = [c for c in a.columns if c != "time_per_estimate"]
    pd.testing.assert_frame_equal(a[cols], b[cols], check_exact=True)


def _measure(prob: vt.Problem, **kw) -> pd.DataFrame:
    ests = [
        vt.make_estimator(vt.score_function),
        vt.make_estimator(vt.score_function, vt.loo_baseline()),
    ]
    return vt.measure_variance(prob, ests, n_samples=[3], n_reps=1100, seed=11, **kw)


def _pids() -> set[int]:
    """The kept pool's worker pids (forked by a small call if there is no pool).

    The forked children of this process: same command line (a forkserver or a Dask
    worker that another test left running has its own).
    """
    assert map_chunks(lambda s, c: s + c, 1, [1, 2], executor="processes", workers=2) == [2, 3]
    me = psutil.Process()
    return {c.pid for c in me.children() if c.is_running() and c.cmdline() == me.cmdline()}


def _module(tmp_path: Path, name: str, source: str):
    (tmp_path / f"{name}.py").write_text(source)
    importlib.invalidate_caches()
    return importlib.import_module(name)


@pytest.fixture
def on_path(tmp_path):
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in [n for n in sys.modules if n.startswith("kept_")]:
        sys.modules.pop(name, None)


def test_the_pool_is_kept_between_calls_and_closed_on_request():
    if _in_fresh_interpreter("test_the_pool_is_kept_between_calls_and_closed_on_request"):
        return
    first = _pids()
    assert len(first) == 2
    assert _pids() == first  # the same two workers: no fork
    pool.shutdown_workers()
    assert 2 not in pool._POOLS
    assert _pids().isdisjoint(first)  # a new pool


def test_a_reassigned_constant_of_a_user_module_forks_a_new_pool(on_path):
    """f reads a module-level constant: reassigned in the parent after the workers were
    forked, the next call must compute with the new value (as serial does)."""
    if _in_fresh_interpreter("test_a_reassigned_constant_of_a_user_module_forks_a_new_pool"):
        return
    mod = _module(
        on_path,
        "kept_user_const",
        "SHIFT = 0.45\ndef f(b):\n    return ((b - SHIFT) ** 2).sum(-1)\n",
    )
    prob = vt.Problem("const", vt.Bernoulli(np.array([0.2, -0.7])), mod.f)
    old = _measure(prob, executor="processes", workers=2)
    before = _pids()
    mod.SHIFT = 0.9
    new = _measure(prob, executor="processes", workers=2)
    assert _pids().isdisjoint(before)  # the pool was forked again
    _same(_measure(prob), new)
    assert not np.array_equal(old["variance"].to_numpy(), new["variance"].to_numpy())


def test_a_module_imported_after_the_fork_is_sent_correctly(on_path):
    """f lives in a module the workers' copy of the program never loaded."""
    if _in_fresh_interpreter("test_a_module_imported_after_the_fork_is_sent_correctly"):
        return
    _pids()  # a pool exists
    mod = _module(on_path, "kept_user_late", "def f(b):\n    return ((b - 0.3) ** 3).sum(-1)\n")
    prob = vt.Problem("late", vt.Bernoulli(np.array([0.5, 0.1, -0.2])), mod.f)
    _same(_measure(prob), _measure(prob, executor="processes", workers=2))


def test_a_closure_created_after_the_fork_goes_by_value():
    if _in_fresh_interpreter("test_a_closure_created_after_the_fork_goes_by_value"):
        return
    warm = vt.Problem("warm", vt.Bernoulli(np.array([0.3])), lambda b: b.sum(-1))
    _measure(warm, executor="processes", workers=2)  # the lazy imports of a first call
    before = _pids()
    for shift in (0.1, 0.8):  # two closures of the same code, different cells
        prob = vt.Problem(
            "closure",
            vt.Bernoulli(np.array([0.3, -1.0])),
            lambda b, s=shift: ((b - s) ** 2).sum(-1),
        )
        _same(_measure(prob), _measure(prob, executor="processes", workers=2))
    assert _pids() == before  # no refork was needed


def test_a_value_cloudpickle_cannot_send_runs_on_a_pool_of_its_own():
    """f holds a lock (not picklable): the call forks a pool that inherits it."""
    if _in_fresh_interpreter("test_a_value_cloudpickle_cannot_send_runs_on_a_pool_of_its_own"):
        return
    lock = threading.Lock()

    def f(b):
        with lock:
            return ((b - 0.45) ** 2).sum(-1)

    with pytest.raises(pool.PoolUnavailable, match="does not pickle"):
        pool._dumps(f)
    warm = vt.Problem("warm", vt.Bernoulli(np.array([0.3])), lambda b: b.sum(-1))
    _measure(warm, executor="processes", workers=2)  # the lazy imports of a first call
    before = _pids()
    prob = vt.Problem("locked", vt.Bernoulli(np.array([0.3, -1.0])), f)
    _same(_measure(prob), _measure(prob, executor="processes", workers=2))
    assert _pids() == before  # the kept pool was neither used nor replaced


def test_an_error_in_a_worker_propagates_and_discards_the_pool():
    if _in_fresh_interpreter("test_an_error_in_a_worker_propagates_and_discards_the_pool"):
        return
    before = _pids()

    def bad(b):
        raise RuntimeError("f failed in a worker")

    prob = vt.Problem("bad", vt.Bernoulli(np.array([0.3])), bad)
    with pytest.raises(RuntimeError, match="f failed in a worker"):
        vt.measure_variance(
            prob,
            vt.make_estimator(vt.score_function),
            n_samples=2,
            n_reps=1000,
            seed=0,
            truth=None,
            exact=False,
            executor="processes",
            workers=2,
        )
    assert 2 not in pool._POOLS  # discarded: none of its chunks can write later
    good = vt.Problem("good", vt.Bernoulli(np.array([0.3, -1.0])), lambda b: b.sum(-1) ** 2)
    _same(_measure(good), _measure(good, executor="processes", workers=2))
    assert _pids().isdisjoint(before)


def test_two_threads_measuring_at_once_both_get_the_serial_numbers():
    if _in_fresh_interpreter("test_two_threads_measuring_at_once_both_get_the_serial_numbers"):
        return
    probs = [
        vt.Problem("t0", vt.Bernoulli(np.array([0.3, -1.0])), lambda b: ((b - 0.2) ** 2).sum(-1)),
        vt.Problem("t1", vt.Normal(np.zeros(2), np.ones(2)), lambda x: np.cos(x).sum(-1)),
    ]
    out: dict[int, pd.DataFrame] = {}

    def work(k: int) -> None:
        out[k] = _measure(probs[k], executor="processes", workers=2)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(2):
        _same(_measure(probs[k]), out[k])


def test_a_pool_that_grew_past_keep_bytes_is_closed_after_its_call(monkeypatch):
    if _in_fresh_interpreter("test_a_pool_that_grew_past_keep_bytes_is_closed_after_its_call"):
        return
    monkeypatch.setattr(pool, "KEEP_BYTES", 1024)  # any arena is larger
    prob = vt.Problem("big", vt.Bernoulli(np.array([0.3, -1.0])), lambda b: b.sum(-1) ** 2)
    _same(_measure(prob), _measure(prob, executor="processes", workers=2))
    assert 2 not in pool._POOLS


def test_estimates_written_before_a_refork_are_carried_to_the_new_arena(on_path):
    """Between the seed blocks and the statistics, a chunk function from a module the
    workers do not hold forces a new pool: the estimates already written must move."""
    if _in_fresh_interpreter("test_estimates_written_before_a_refork_are_carried_to_the_new_arena"):
        return
    from vartools.measure.executors import chunk_mapper
    from vartools.measure.workers import SharedOutput

    out = SharedOutput({"x": (4, 3)})
    writer = _module(
        on_path,
        "kept_writer",
        "import numpy as np\n"
        "def write(out, row):\n"
        "    out.array('x', np.float64)[row] = row + 1.0\n",
    )
    with chunk_mapper(out, executor="processes", workers=2, output=out) as run:
        run(writer.write, [0, 1])
        reader = _module(
            on_path,
            "kept_reader",
            "import numpy as np\n"
            "def read(out, row):\n"
            "    return out.array('x', np.float64)[row].copy()\n",
        )
        rows = run(reader.read, [0, 1, 2])
    assert [r.tolist() for r in rows] == [[1.0] * 3, [2.0] * 3, [0.0] * 3]


def test_spawned_workers_receive_closures_by_cloudpickle(monkeypatch):
    """Where the workers are spawned (a process that has loaded JAX; macOS, Windows), the
    problems go by cloudpickle too: a closure f works, with the serial numbers."""
    monkeypatch.setitem(sys.modules, "jax", sys.modules.get("jax") or types.ModuleType("jax"))
    shift = 0.35
    prob = vt.Problem(
        "spawned", vt.Bernoulli(np.array([0.3, -1.0])), lambda b: ((b - shift) ** 2).sum(-1)
    )
    _same(_measure(prob), _measure(prob, executor="processes", workers=2))
    lock = threading.Lock()

    def held(b):
        with lock:
            return b.sum(-1)

    locked = vt.Problem("locked", vt.Bernoulli(np.array([0.3])), held)
    with pytest.raises(TypeError, match="do not pickle.*executor='serial'"):
        _measure(locked, executor="processes", workers=2)
