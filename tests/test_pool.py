"""measure_variance's worker processes: the same numbers as serial, fresh definitions, no orphans.

The processes executor keeps its forked workers between calls and sends each call's
definitions by value, after checking the workers' copy of the program against the
parent's (``vartools.measure.pool``; more cases in tests/test_kept_pool.py). So a
redefined f is never served stale. One pool computes the seed blocks and then the
statistics (column spans) from the shared estimates. Every table must equal the
serial one bit for bit in every column but the timing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import in_fresh_interpreter, killed_leaves_no_orphans

import vartools as vt
from vartools.measure import statistics

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the forked (shared-memory) path is Linux's"
)


def _in_fresh_interpreter(test: str) -> bool:
    return in_fresh_interpreter(__file__, test)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for col in a.columns:
        if col == "time_per_estimate":
            continue
        if pd.api.types.is_float_dtype(a[col]):
            x, y = a[col].to_numpy(), b[col].to_numpy()
            ok = (x == y) | (np.isnan(x) & np.isnan(y))
            assert ok.all(), f"column {col} differs at rows {np.flatnonzero(~ok)[:5]}"
        else:
            assert a[col].tolist() == b[col].tolist(), f"column {col} differs"


def _ests():
    return [
        vt.make_estimator(vt.score_function),
        vt.make_estimator(vt.score_function, vt.loo_baseline()),
    ]


def _measure(prob, **kw):
    return vt.measure_variance(prob, _ests(), n_samples=[3, 5], n_reps=1100, seed=5, **kw)


def test_two_different_problems_in_a_row_match_serial():
    """Consecutive calls on different problems (a closure f each): no state leaks."""
    if _in_fresh_interpreter("test_two_different_problems_in_a_row_match_serial"):
        return
    a = vt.Problem("a", vt.Bernoulli(np.array([0.3, -1.0])), lambda b: (b - 0.45) ** 2 @ [1, 2])
    w = np.array([0.5, -2.0, 1.0])
    b = vt.Problem("b", vt.Normal(np.zeros(3), np.ones(3)), lambda x: np.cos(x) @ w)
    par_a, par_b = (
        _measure(a, executor="processes", workers=2),
        _measure(b, executor="processes", workers=2),
    )
    _same(_measure(a), par_a)
    _same(_measure(b), par_b)
    assert not np.array_equal(par_a["variance"].to_numpy()[:2], par_b["variance"].to_numpy()[:2])


def test_a_redefined_f_is_never_served_stale(tmp_path):
    """f redefined under the same name (a module edited and reloaded, or a notebook cell run
    again) between two calls: the second call computes with the new f."""
    if _in_fresh_interpreter("test_a_redefined_f_is_never_served_stale"):
        return
    import importlib

    mod = tmp_path / "user_f.py"
    mod.write_text("def f(b):\n    return ((b - 0.45) ** 2).sum(-1)\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import user_f

        def prob():
            return vt.Problem("edited", vt.Bernoulli(np.array([0.2, 0.7])), user_f.f)

        old = _measure(prob(), executor="processes", workers=2)
        time.sleep(0.01)
        mod.write_text("def f(b):\n    return ((b - 0.9) ** 3).sum(-1)\n")
        importlib.invalidate_caches()
        os.utime(mod, (time.time() + 5, time.time() + 5))  # a new mtime for the reload
        importlib.reload(user_f)
        new = _measure(prob(), executor="processes", workers=2)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("user_f", None)
    assert not np.array_equal(old["variance"].to_numpy(), new["variance"].to_numpy())
    # the new numbers are those of the new f, as serial computes them
    ref = vt.Problem(
        "edited", vt.Bernoulli(np.array([0.2, 0.7])), lambda b: ((b - 0.9) ** 3).sum(-1)
    )
    _same(_measure(ref), new)


def test_statistics_split_over_column_chunks_match_serial(monkeypatch):
    """Many columns: the workers compute the per-coordinate statistics chunk by chunk (the
    chunks serial uses) and the aggregates; the table equals serial's bit for bit."""
    if _in_fresh_interpreter("test_statistics_split_over_column_chunks_match_serial"):
        return
    monkeypatch.setattr(statistics, "STATS_ELEMENTS", 1100 * 4)  # 4 columns per chunk
    prob = vt.Problem(
        "wide", vt.Bernoulli(np.linspace(-1, 1, 13)), lambda b: ((b - 0.45) ** 2).sum(-1)
    )
    for rows in ("coordinates", "all"):
        _same(_measure(prob, rows=rows), _measure(prob, rows=rows, executor="processes", workers=2))
        _same(_measure(prob, rows=rows), _measure(prob, rows=rows, executor="processes", workers=3))


SLOW = """
import sys, time
from pathlib import Path
import numpy as np
import vartools as vt

STARTED = Path(sys.argv[1])

def f(b):
    STARTED.touch()
    time.sleep(1.0)
    return ((b - 0.45) ** 2).sum(-1)

prob = vt.Problem("slow", vt.Bernoulli(np.array([0.0, 0.2])), f)
vt.measure_variance(prob, vt.make_estimator(vt.score_function), n_samples=[2], n_reps=64 * 40,
                    block_size=64, seed=0, executor="processes", workers=2, truth=None,
                    exact=False)
"""


def test_measure_variance_workers_exit_when_the_main_process_is_killed(tmp_path):
    """A measure_variance on processes is SIGKILLed mid-block: no worker outlives it by 5 s."""
    script = tmp_path / "slow.py"
    script.write_text(textwrap.dedent(SLOW))
    started = tmp_path / "started"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(started)], env=env, stdout=subprocess.DEVNULL
    )
    with killed_leaves_no_orphans(proc, started.exists, "worker computing"):
        pass
