"""JAX problems in the harness: identical tables on the serial and processes executors,
and problems that pickle when their functions do."""

from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("jax")

import jax_models as jm  # noqa: E402

import vartools as vt  # noqa: E402
from vartools.harness import runner  # noqa: E402

JAX_FILE = """
import itertools

import jax
import jax.numpy as jnp
import numpy as np

import vartools.jax as vj
from vartools.harness.experiment import Experiment, Scale, Trajectory
from vartools.harness.layout import Layout
from vartools.core.optim import adam


def log_prob(params, x):
    lg = params["enc"]["w"] @ params["ctx"] + params["enc"]["b"]
    return jnp.sum(x * lg - jnp.logaddexp(0.0, lg))


def transform(params, u):
    lg = params["enc"]["w"] @ params["ctx"] + params["enc"]["b"]
    return (u > jax.nn.sigmoid(-lg)).astype(u.dtype)


def f(b):
    return (b[0] - 0.3) ** 2 + b[0] * b[1] - 0.5 * b[1] * b[2] + jnp.sin(jnp.sum(b))


def problem(shift):
    params = {
        "enc": {"w": np.array([[0.5, -0.2], [0.1, 0.3], [-0.4, 0.2]]), "b": np.full(3, shift)},
        "ctx": np.array([1.0, -1.0]),
    }
    support = np.array(list(itertools.product((0.0, 1.0), repeat=3)))
    dist = vj.distribution(params, log_prob, transform, event_shape=(3,), support=support)
    return vj.problem(f"jax_bern(shift={shift:g})", dist, f)


EXPERIMENT = Experiment(
    name="jax_sweep",
    description="a JAX-defined model in the harness",
    problem=problem,
    points=[{"shift": 0.0}, {"shift": -1.0}],
    estimators=["sf", "sf+loo", "sf+optbase"],
    n_samples=[2, 4],
    n_reps=300,
    layout=Layout(block_size=64, blocks_per_cell=2),
    warmup=3,
    quick=Scale(n_reps=200),
)

TRAJ = Experiment(
    name="jax_traj",
    description="training a JAX-defined model",
    problem=problem,
    points=[{"shift": 0.5}],
    estimators=["sf", "sf+loo"],
    n_samples=[3],
    n_reps=128,
    layout=Layout(block_size=64),
    trajectory=Trajectory(estimator="sf+loo", n=4, optimizer=adam(0.05), steps=20, every=10),
)
"""


@pytest.fixture
def exp_dir(tmp_path: Path) -> Path:
    d = tmp_path / "exps"
    d.mkdir()
    (d / "jax_sweep.py").write_text(textwrap.dedent(JAX_FILE))
    traj = JAX_FILE.replace("EXPERIMENT = Experiment(", "_SWEEP = Experiment(").replace(
        "TRAJ = Experiment(", "EXPERIMENT = Experiment("
    )
    (d / "jax_traj.py").write_text(textwrap.dedent(traj))
    return d


def _run(name, exp_dir, out, **kw):
    return runner.run_experiment(name, directory=exp_dir, out=out, progress=False, **kw)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        a.drop(columns=["time_per_estimate"]).reset_index(drop=True),
        b.drop(columns=["time_per_estimate"]).reset_index(drop=True),
        check_exact=True,
    )


def test_serial_and_processes_give_identical_tables(exp_dir, tmp_path):
    a = _run("jax_sweep", exp_dir, tmp_path / "a", scale="full")
    b = _run("jax_sweep", exp_dir, tmp_path / "b", scale="full", executor="processes", workers=2)
    assert b.cells_computed == b.cells_total > 2
    _same(a.summary, b.summary)
    coords = a.summary.query("kind == 'coordinate'")
    assert np.isfinite(coords["truth"]).all()  # the JAX model's support gives the oracle
    c = _run("jax_traj", exp_dir, tmp_path / "a", scale="full")
    d = _run("jax_traj", exp_dir, tmp_path / "b", scale="full", executor="processes", workers=2)
    _same(c.summary, d.summary)
    pd.testing.assert_frame_equal(c.training, d.training, check_exact=True)


def test_sweep_equals_measure_variance(exp_dir, tmp_path):
    from vartools.harness.loading import load_experiment

    rep = _run("jax_sweep", exp_dir, tmp_path, scale="quick")
    exp = load_experiment("jax_sweep", exp_dir).at_scale("quick")
    prob = exp.build_problem(1)
    table = vt.measure_variance(
        prob,
        exp.build_estimators(),
        n_samples=[4],
        n_reps=200,
        seed=exp.seed,
        block_size=64,
        warmup=3,
    )
    sub = rep.summary.query("point == 1 and n == 4")
    np.testing.assert_array_equal(sub["variance"].to_numpy(), table["variance"].to_numpy())


def test_problems_pickle_and_give_the_same_estimates():
    prob = jm.bern_problem()
    est = vt.make_estimator(vt.score_function, vt.loo_baseline())
    g, _ = est(prob, 4, rng=np.random.default_rng(0), reps=(50,))
    prob2 = pickle.loads(pickle.dumps(prob))
    g2, _ = est(prob2, 4, rng=np.random.default_rng(0), reps=(50,))
    np.testing.assert_array_equal(g2, g)
    moved = prob2.with_params(prob.dist.params + 0.1)
    assert moved.dist.model is prob2.dist.model  # with_params shares the compiled kernels
