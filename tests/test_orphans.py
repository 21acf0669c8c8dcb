"""No orphan workers: when the main process is killed, its worker processes exit too."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import killed_leaves_no_orphans

ROOT = Path(__file__).resolve().parent.parent

SLOW = """
import time
from pathlib import Path

import numpy as np

import vartools as vt
from vartools.harness.experiment import Experiment
from vartools.harness.layout import Layout

STARTED = Path(__file__).with_name("started")


def f(b):
    STARTED.touch()  # a worker is computing
    time.sleep(1.0)
    return ((b - 0.45) ** 2).sum(-1)


def problem(eta):
    return vt.Problem(f"slow(eta={eta:g})", vt.Bernoulli(np.array([eta, 0.2])), f)


EXPERIMENT = Experiment(
    name="slow",
    description="every evaluation of f sleeps a second",
    problem=problem,
    points=[{"eta": 0.0}, {"eta": 1.0}],
    estimators=["sf"],
    n_samples=[2],
    n_reps=64 * 40,
    layout=Layout(block_size=64, blocks_per_cell=1),
    warmup=0,
)
"""


# the local Dask cluster's workers end with the main process by Dask's own nanny
# mechanism (this passed before the processes executor's fix too): a guard, kept slow
DASK = pytest.param("dask", marks=pytest.mark.slow)


@pytest.mark.parametrize("executor", ["processes", DASK])
def test_workers_exit_when_the_main_process_is_killed(tmp_path, executor):
    """``vartools run`` is SIGKILLed while its workers compute: none outlives it by 5 s."""
    if executor == "dask":
        pytest.importorskip("dask.distributed")
    d = tmp_path / "exps"
    d.mkdir()
    (d / "slow.py").write_text(textwrap.dedent(SLOW))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "vartools.cli.main", "--experiments", str(d), "run", "slow"]
    cmd += ["--scale", "full", "--executor", executor, "--workers", "2", "--no-progress"]
    cmd += ["--out", str(tmp_path / "out")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with killed_leaves_no_orphans(proc, (d / "started").exists, "worker computing"):
        pass
