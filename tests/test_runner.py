"""The runner: equality with measure_variance, executors, resuming, corruption, staleness."""

from __future__ import annotations

import signal
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import vartools as vt
from vartools.catalogue.registry import get_estimator
from vartools.core.optim import sgd
from vartools.core.rng import generator
from vartools.harness import compute, runner
from vartools.harness.experiment import Experiment, Trajectory
from vartools.harness.layout import Layout
from vartools.harness.loading import load_experiment
from vartools.harness.storage import CorruptFileError, read_cell

# time_per_estimate (and efficiency? no: 1 / (variance x n_evals)) is the only wall-clock
# column; every other column must be identical whatever the executor.
TIMING = ["time_per_estimate"]

SWEEP_FILE = """
from vartools.harness.experiment import Experiment, Scale
from vartools.harness.layout import Layout

EXPERIMENT = Experiment(
    name="tiny_sweep",
    description="tiny sweep for the tests",
    problem="liu_toy",
    points=[{"eta": 0.0}, {"eta": -1.5}],
    estimators=["sf", "sf+loo", "sf+ema"],
    n_samples=[1, 3],
    n_reps=500,
    layout=Layout(block_size=64, blocks_per_cell=3),
    warmup=5,
    quick=Scale(n_reps=300),
)
"""

TRAJ_FILE = """
from vartools.harness.experiment import Experiment, Scale, Trajectory
from vartools.harness.layout import Layout
from vartools.core.optim import rmsprop

EXPERIMENT = Experiment(
    name="tiny_traj",
    description="tiny trajectory for the tests",
    problem="rebar_toy",
    estimators=["sf", "sf+loo"],
    n_samples=[2],
    n_reps=200,
    layout=Layout(block_size=64, checkpoints_per_cell=2),
    trajectory=Trajectory(estimator="sf+ema", n=2, optimizer=rmsprop(0.05), steps=60, every=10,
                          ema_decay=0.9),
    quick=Scale(steps=30),
)
"""


@pytest.fixture
def exp_dir(tmp_path: Path) -> Path:
    d = tmp_path / "exps"
    d.mkdir()
    (d / "tiny_sweep.py").write_text(textwrap.dedent(SWEEP_FILE))
    (d / "tiny_traj.py").write_text(textwrap.dedent(TRAJ_FILE))
    return d


def _run(name, exp_dir, out, **kw):
    kw.setdefault("scale", "full")
    return runner.run_experiment(name, directory=exp_dir, out=out, progress=False, **kw)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        a.drop(columns=TIMING).reset_index(drop=True),
        b.drop(columns=TIMING).reset_index(drop=True),
        check_exact=True,
    )


def test_sweep_equals_measure_variance(exp_dir, tmp_path):
    rep = _run("tiny_sweep", exp_dir, tmp_path / "out")
    assert rep.complete and rep.cells_computed == rep.cells_total == 2 * 2 * 3
    exp = load_experiment("tiny_sweep", exp_dir)
    ests = [get_estimator(n) for n in ("sf", "sf+loo", "sf+ema")]
    for p, eta in enumerate((0.0, -1.5)):
        prob = vt.make_problem("liu_toy", eta=eta)
        for n in (1, 3):
            use = [e for e in ests if e.min_n <= n]
            want = vt.measure_variance(
                prob, use, n_samples=[n], n_reps=500, seed=exp.seed, warmup=5, block_size=64
            )
            got = rep.summary[(rep.summary["point"] == p) & (rep.summary["n"] == n)]
            assert list(got["at_eta"].unique()) == [eta]
            _same(got[list(want.columns)], want)
    # sf+loo needs n >= 2: it is absent at n = 1 and present at n = 3
    assert set(rep.summary.query("n == 1")["estimator"]) == {"sf", "sf+ema"}
    on_disk = pd.read_csv(tmp_path / "out" / "tiny_sweep" / "summary.csv")
    _same(on_disk, rep.summary)


def test_serial_and_processes_give_identical_tables(exp_dir, tmp_path):
    a = _run("tiny_sweep", exp_dir, tmp_path / "a", scale="quick")
    b = _run("tiny_sweep", exp_dir, tmp_path / "b", scale="quick", executor="processes", workers=2)
    assert b.cells_computed == b.cells_total > 2
    _same(a.summary, b.summary)
    c = _run("tiny_traj", exp_dir, tmp_path / "a")
    d = _run("tiny_traj", exp_dir, tmp_path / "b", executor="processes", workers=2)
    _same(c.summary, d.summary)
    pd.testing.assert_frame_equal(c.training, d.training, check_exact=True)


@pytest.mark.slow
def test_dask_local_cluster_gives_identical_tables(exp_dir, tmp_path):
    pytest.importorskip("dask.distributed")

    def hung(signum, frame):  # a hang fails the test instead of blocking the run
        raise TimeoutError("the Dask run took more than 300 s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(300)
    try:
        _dask_identical_tables(exp_dir, tmp_path)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _dask_identical_tables(exp_dir, tmp_path):
    a = _run("tiny_sweep", exp_dir, tmp_path / "a", scale="quick")
    b = _run("tiny_sweep", exp_dir, tmp_path / "b", scale="quick", executor="dask", workers=2)
    _same(a.summary, b.summary)


def test_interrupted_run_resumes_to_identical_results(exp_dir, tmp_path):
    full = _run("tiny_sweep", exp_dir, tmp_path / "full")
    out = tmp_path / "part"
    part = _run("tiny_sweep", exp_dir, out, max_cells=5)
    assert not part.complete and part.summary is None and part.cells_computed == 5
    assert not (out / "tiny_sweep" / "summary.csv").exists()
    rest = _run("tiny_sweep", exp_dir, out)
    assert rest.complete and rest.cells_reused == 5 and rest.cells_computed == 12 - 5
    _same(rest.summary, full.summary)


def test_a_cell_raising_keeps_finished_cells(exp_dir, tmp_path, monkeypatch):
    full = _run("tiny_sweep", exp_dir, tmp_path / "full")
    out = tmp_path / "crash"
    real = compute._measure
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt  # as Ctrl-C in the middle of the fourth cell
        return real(*args, **kwargs)

    monkeypatch.setattr(compute, "_measure", flaky)
    with pytest.raises(KeyboardInterrupt):
        _run("tiny_sweep", exp_dir, out)
    monkeypatch.setattr(compute, "_measure", real)
    cells = list((out / "tiny_sweep" / "cells").rglob("*.cell"))
    assert len(cells) == 3
    assert not list((out / "tiny_sweep" / "cells").rglob("*.tmp"))
    again = _run("tiny_sweep", exp_dir, out)
    assert again.cells_reused == 3 and again.cells_computed == 9
    _same(again.summary, full.summary)


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "garbage"])
def test_corrupted_cell_is_detected_and_recomputed(exp_dir, tmp_path, damage):
    out = tmp_path / "out"
    first = _run("tiny_sweep", exp_dir, out)
    cell = sorted((out / "tiny_sweep" / "cells").rglob("*.cell"))[4]
    data = cell.read_bytes()
    if damage == "flip":
        i = len(data) // 2
        data = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]
    elif damage == "truncate":
        data = data[: len(data) - 100]
    elif damage == "empty":
        data = b""
    else:
        data = b"not a cell file at all"
    cell.write_bytes(data)
    with pytest.raises(CorruptFileError):
        read_cell(cell)
    again = _run("tiny_sweep", exp_dir, out)
    assert again.cells_discarded == 1 and again.cells_computed == 1
    assert any("corrupt" in m for m in again.messages)
    _same(again.summary, first.summary)
    read_cell(cell)  # rewritten and valid


def test_changed_definition_does_not_reuse_cells(exp_dir, tmp_path):
    out = tmp_path / "out"
    exp = load_experiment("tiny_sweep", exp_dir)
    first = runner.run_experiment(exp, scale="full", out=out, progress=False)
    same = runner.run_experiment(exp, scale="full", out=out, progress=False)
    assert first.cells_computed == 12 and same.cells_reused == 12
    changed = Experiment(**{**exp.__dict__, "warmup": 6})  # same cells, other definition
    rep = runner.run_experiment(changed, scale="full", out=out, progress=False)
    assert rep.cells_reused == 0 and rep.cells_discarded == rep.cells_total == 12
    assert rep.messages == [
        "recomputing 12 stale cells (from a changed experiment definition or vartools source), "
        "e.g. block-p0-n1-0-3.cell"
    ]
    other_seed = runner.run_experiment(changed, scale="full", seed=7, out=out, progress=False)
    assert other_seed.cells_reused == 0  # another seed lives in another cell directory


def test_executor_refuses_an_object_that_differs_from_its_file(exp_dir, tmp_path):
    exp = load_experiment("tiny_sweep", exp_dir)
    changed = Experiment(**{**exp.__dict__, "warmup": 6})
    with pytest.raises(ValueError, match="differs"):
        runner.run_experiment(
            changed, executor="processes", directory=exp_dir, out=tmp_path, progress=False
        )


def test_training_follows_the_optimiser_exactly(tmp_path):
    """The trajectory is theta_{t+1} = theta_t - lr g_t with g_t from the training seed."""
    lr, steps = 0.5, 7
    exp = Experiment(
        name="sgd_check",
        description="sgd",
        problem="rebar_toy",
        estimators=["sf"],
        n_samples=[2],
        n_reps=50,
        layout=Layout(block_size=25),
        trajectory=Trajectory(estimator="sf", n=3, optimizer=sgd(lr), steps=steps, every=3),
    )
    rep = runner.run_experiment(exp, scale="full", out=tmp_path, progress=False)
    prob = vt.make_problem("rebar_toy")
    est = get_estimator("sf")
    rng = generator(0, prob.name, "train")
    theta = prob.dist.params.copy()
    want = {0: theta.copy()}
    for t in range(steps):
        g, _ = est(prob.with_params(theta), 3, rng=rng)
        theta = theta - lr * g
        want[t + 1] = theta.copy()
    tr = rep.training
    assert list(tr["step"]) == [0, 3, 6, 7]
    for _, row in tr.iterrows():
        assert row["theta.logits[0]"] == want[int(row["step"])][0]
        th = vt.make_problem("rebar_toy").with_params([row["theta.logits[0]"]])
        assert row["loss"] == pytest.approx(vt.exact_expectation(th), abs=1e-15)
        assert row["loss_exact"]
    # the measured exact variance at each checkpoint is the oracle at that checkpoint's theta
    s = rep.summary.query("coordinate == 'logits[0]'")
    for _, row in s.iterrows():
        th = prob.with_params([want[int(row["step"])][0]])
        assert row["exact_variance"] == pytest.approx(vt.exact_moments(th, est, 2)[1][0], rel=1e-12)
    assert tr["ema_variance"].isna().all()  # not requested


def test_ema_variance_matches_its_definition(exp_dir, tmp_path):
    rep = _run("tiny_traj", exp_dir, tmp_path, scale="quick")
    exp = load_experiment("tiny_traj", exp_dir).at_scale("quick")
    traj = exp.trajectory
    prob = exp.build_problem(0)
    est = traj.build_estimator()
    rng = generator(exp.seed, prob.name, "train")
    theta, state = prob.dist.params.copy(), est.init(prob)
    opt_state = traj.optimizer.init(theta)
    m = v = np.zeros(1)
    d = traj.ema_decay
    ema = {}
    for t in range(traj.steps):
        g, state = est(prob.with_params(theta), traj.n, rng=rng, state=state)
        m, v = d * m + (1 - d) * g, d * v + (1 - d) * g * g
        delta, opt_state = traj.optimizer.update(g, opt_state, t)
        theta = theta + delta
        mh, vh = m / (1 - d ** (t + 1)), v / (1 - d ** (t + 1))
        ema[t + 1] = float(np.mean(vh - mh**2))
    tr = rep.training.set_index("step")
    assert np.isnan(tr.loc[0, "ema_variance"])
    for step in (10, 20, 30):
        assert tr.loc[step, "ema_variance"] == pytest.approx(ema[step], rel=1e-12)


def test_raw_estimates_are_written_on_request(exp_dir, tmp_path):
    rep = _run("tiny_sweep", exp_dir, tmp_path, scale="quick", raw=True)
    with np.load(tmp_path / "tiny_sweep" / "raw.npz") as z:
        e = z["point1/step0/n3/sf+loo"]
    assert e.shape == (300, 3)
    row = rep.summary.query(
        "point == 1 and n == 3 and estimator == 'sf+loo' and coordinate == 'logits[2]'"
    )
    assert row["variance"].item() == pytest.approx(e[:, 2].var(ddof=1), rel=1e-12)


def test_meta_json_records_the_run(exp_dir, tmp_path):
    import json

    _run("tiny_sweep", exp_dir, tmp_path, scale="quick", command=["vartools", "run", "x"])
    meta = json.loads((tmp_path / "tiny_sweep" / "meta.json").read_text())
    assert meta["command"] == ["vartools", "run", "x"]
    assert meta["seed"] == 0 and meta["experiment"]["scale"] == "quick"
    assert {"numpy", "vartools", "python"} <= set(meta["versions"])
    assert {"revision", "dirty"} <= set(meta["git"])
    assert meta["timings"]["cells_total"] == 8
    assert "0x" not in json.dumps(meta["experiment"])  # no memory addresses in definitions


def test_bad_executor_and_duplicate_problem_names(tmp_path):
    exp = Experiment(
        name="dup",
        description="d",
        problem=lambda k: vt.make_problem("liu_toy"),
        points=[{"k": 1}, {"k": 2}],
        estimators=["sf"],
        n_samples=[2],
        n_reps=10,
    )
    with pytest.raises(ValueError, match="distinct problem name"):
        runner.run_experiment(exp, out=tmp_path, progress=False)
    with pytest.raises(ValueError, match="executor must be one of"):
        runner.run_experiment(exp, out=tmp_path, executor="threads", progress=False)
    with pytest.raises(ValueError, match="--executor dask"):
        runner.run_experiment(exp, out=tmp_path, scheduler="tcp://127.0.0.1:8786")


def test_missing_dask_gives_install_hint(monkeypatch, tmp_path, exp_dir):
    import builtins

    real_import = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name.startswith("dask"):
            raise ImportError("No module named 'dask'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    with pytest.raises(RuntimeError, match=r"pip install 'vartools\[dask\]'"):
        _run("tiny_sweep", exp_dir, tmp_path, executor="dask")


KILLER_FILE = """
import os
from pathlib import Path

import vartools as vt
from vartools.harness.experiment import Experiment
from vartools.harness.layout import Layout

MARK = Path(__file__).with_name("KILL")


def problem(eta):
    if eta == -2.0 and MARK.exists() and str(os.getpid()) != MARK.read_text():
        os._exit(1)  # a worker killed while computing a cell of this point
    return vt.make_problem("liu_toy", eta=eta)


EXPERIMENT = Experiment(
    name="killer",
    description="a worker dies on the last point",
    problem=problem,
    points=[{"eta": 0.0}, {"eta": 1.0}, {"eta": -2.0}],
    estimators=["sf", "sf+loo"],
    n_samples=[2],
    n_reps=256,
    layout=Layout(block_size=64, blocks_per_cell=1),
)
"""


def test_a_killed_worker_loses_nothing_finished(tmp_path):
    import os
    from concurrent.futures.process import BrokenProcessPool

    d = tmp_path / "exps"
    d.mkdir()
    (d / "killer.py").write_text(KILLER_FILE)
    want = runner.run_experiment(
        "killer", directory=d, out=tmp_path / "ref", scale="full", progress=False
    )
    (d / "KILL").write_text(str(os.getpid()))
    out = tmp_path / "out"
    with pytest.raises(BrokenProcessPool):
        runner.run_experiment(
            "killer",
            directory=d,
            out=out,
            scale="full",
            progress=False,
            executor="processes",
            workers=2,
        )
    finished = list((out / "killer" / "cells").rglob("*.cell"))
    for cell in finished:
        read_cell(cell)  # every file on disk is whole
    (d / "KILL").unlink()
    again = runner.run_experiment(
        "killer",
        directory=d,
        out=out,
        scale="full",
        progress=False,
        executor="processes",
        workers=2,
    )
    assert again.cells_reused == len(finished) and again.cells_discarded == 0
    assert again.cells_reused + again.cells_computed == 12
    _same(again.summary, want.summary)
