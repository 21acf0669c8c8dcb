"""One pipeline: measure_variance and the runner share the block code; executors change no number.

Exact checks only (no tolerance): the same seed tree gives the same bits whichever
executor, worker count or chunking computes the seed blocks.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from conftest import bern_problem, cat_problem, in_fresh_interpreter

import vartools as vt
from vartools.catalogue import sbn
from vartools.core.optim import sgd
from vartools.core.rng import generator
from vartools.harness.compute import _measure
from vartools.harness.experiment import Experiment
from vartools.measure.blocks import (
    block_count,
    block_spans,
    exact_truth,
    exact_variance,
    measure_blocks,
    warm_state,
)
from vartools.measure.executors import forks, map_chunks, resolve_workers
from vartools.measure.training import train
from vartools.measure.workers import SharedOutput

TIMING = {"time_per_estimate"}


def _closure_problem() -> vt.Problem:
    scale = 1.7  # a closure: only a forked worker (or cloudpickle) can run it

    def f(x: np.ndarray) -> np.ndarray:
        return scale * np.cos(x.sum(-1)) + x[..., 0] * x[..., 1]

    return vt.Problem("closure_normal2", vt.Normal(np.array([0.2, -0.4]), np.ones(2)), f)


def _estimators() -> list[vt.Estimator]:
    return [
        vt.make_estimator(vt.score_function),
        vt.make_estimator(vt.score_function, vt.loo_baseline()),
        vt.make_estimator(vt.score_function, vt.ema_baseline(0.8)),  # stateful: warm-up
    ]


def _assert_same_numbers(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    for col in a.columns:
        if col in TIMING:
            continue
        if pd.api.types.is_float_dtype(a[col]):
            x, y = a[col].to_numpy(), b[col].to_numpy()
            same = (x == y) | (np.isnan(x) & np.isnan(y))
            assert same.all(), f"column {col} differs at rows {np.flatnonzero(~same)[:5]}"
        else:
            assert a[col].tolist() == b[col].tolist(), f"column {col} differs"


def _measure_all(**kw) -> pd.DataFrame:
    return vt.measure_variance(
        [bern_problem(), cat_problem(), _closure_problem()],
        _estimators(),
        n_samples=[2, 5],
        n_reps=1100,  # 5 blocks of 256, the last one short
        seed=11,
        warmup=7,
        **kw,
    )


def _ran_in_a_fresh_interpreter(test_name: str) -> bool:
    """Run this module's ``test_name`` in a new interpreter when this one has loaded JAX.

    A spawned worker cannot receive the closure problem of ``_measure_all`` by pickle:
    the fork path is tested where it is taken (``conftest.in_fresh_interpreter``).
    """
    return in_fresh_interpreter(__file__, test_name)


def test_processes_give_the_serial_numbers_bit_for_bit():
    if _ran_in_a_fresh_interpreter("test_processes_give_the_serial_numbers_bit_for_bit"):
        return
    serial = _measure_all()
    par = _measure_all(executor="processes", workers=2)
    assert par.attrs["workers"] == 2 and serial.attrs["workers"] == 1
    _assert_same_numbers(serial, par)
    # the table is not trivially equal: ratios, truths and exact variances are there
    assert np.isfinite(serial["exact_variance"]).any()
    assert (serial.loc[serial["estimator"] != "sf", "ratio"] != 1.0).any()


def test_processes_with_three_workers_and_odd_blocks_agree():
    if _ran_in_a_fresh_interpreter("test_processes_with_three_workers_and_odd_blocks_agree"):
        return
    serial = _measure_all(block_size=97)
    par = _measure_all(block_size=97, executor="processes", workers=3)
    _assert_same_numbers(serial, par)


def test_chunks_cover_every_block_once_in_order():
    for n_blocks in (1, 2, 5, 79, 80):
        for parts in (1, 2, 3, 4, 200):
            spans = block_spans(n_blocks, parts)
            flat = [b for lo, hi in spans for b in range(lo, hi)]
            assert flat == list(range(n_blocks))
            assert all(hi > lo for lo, hi in spans)
            assert len(spans) == min(parts, n_blocks)


def test_block_chunks_concatenate_to_the_whole():
    prob, ests, seed = cat_problem(), _estimators(), 3
    states = [warm_state(prob, e, 4, seed=seed, warmup=5) for e in ests]
    kw = dict(seed=seed, block_size=64, n_reps=300, states=states)
    nb = block_count(300, 64)
    whole = measure_blocks(prob, ests, 4, range(nb), **kw)
    parts = [measure_blocks(prob, ests, 4, range(lo, hi), **kw) for lo, hi in ((0, 2), (2, nb))]
    for j in range(len(ests)):
        joined = np.concatenate([p.estimates[j] for p in parts])
        assert joined.shape == (300, prob.dist.n_params)
        assert np.array_equal(joined, whole.estimates[j])
    assert whole.n_evals == parts[1].n_evals


def test_measure_blocks_refuses_blocks_past_the_end():
    prob, ests = bern_problem(), _estimators()[:1]
    with pytest.raises(ValueError, match="past the last block"):
        measure_blocks(prob, ests, 2, range(0, 5), seed=0, block_size=100, n_reps=300)
    with pytest.raises(ValueError, match="must not be empty"):
        measure_blocks(prob, ests, 2, range(0, 0), seed=0, block_size=100, n_reps=300)


def test_the_runner_cell_and_measure_variance_compute_the_same_numbers():
    prob, ests = cat_problem(), _estimators()
    exp = Experiment(
        name="pipeline_same",
        description="runner vs measure_variance",
        problem=prob,
        estimators=ests,
        n_samples=[3],
        n_reps=700,
        warmup=9,
        seed=5,
    ).at_scale("full")
    arrays, meta = _measure(exp, prob, ests, 3, range(block_count(700, 256)), 5, True, "")
    table = vt.measure_variance(prob, ests, n_samples=3, n_reps=700, seed=5, warmup=9)
    assert np.array_equal(arrays["truth"], exact_truth(prob))
    for j, e in enumerate(ests):
        st = [
            warm_state(prob, e, 3, seed=5, warmup=9),
        ]
        assert np.array_equal(arrays[f"x{j}"], exact_variance(prob, e, 3, st[0]), equal_nan=True)
        rows = table[(table["estimator"] == e.name) & (table["kind"] == "coordinate")]
        assert np.array_equal(rows["mean"].to_numpy(), arrays[f"e{j}"].mean(axis=0))
        assert np.array_equal(rows["exact_variance"].to_numpy(), arrays[f"x{j}"], equal_nan=True)
        assert meta["n_evals"][j] == rows["n_evals"].iloc[0]


def test_executor_arguments_are_checked():
    prob, ests = bern_problem(), _estimators()[:1]
    with pytest.raises(ValueError, match="executor must be one of"):
        vt.measure_variance(prob, ests, n_samples=2, n_reps=10, seed=0, executor="threads")
    with pytest.raises(ValueError, match="workers must be None or 1"):
        vt.measure_variance(prob, ests, n_samples=2, n_reps=10, seed=0, workers=2)
    with pytest.raises(ValueError, match="workers must be a positive int"):
        resolve_workers("processes", 0)
    with pytest.raises(ValueError, match="scheduler is for executor='dask'"):
        map_chunks(lambda s, c: c, None, [1], executor="processes", scheduler="tcp://x:1")
    assert resolve_workers("processes", 3) == 3


@pytest.mark.slow
def test_dask_gives_the_serial_numbers_bit_for_bit():
    pytest.importorskip("dask.distributed")
    serial = _measure_all()
    par = _measure_all(executor="dask", workers=2)
    _assert_same_numbers(serial, par)


def test_shared_output_views_and_refuses_wider_dtypes():
    out = SharedOutput({"a": (3, 2), "b": (4,)})
    a = out.array("a", np.float64)
    a[:] = 7.0
    b = out.array("b", np.float32)
    b[:] = 1.5
    assert np.array_equal(out.array("a", np.float64), np.full((3, 2), 7.0))
    assert np.array_equal(out.array("b", np.float32), np.full(4, 1.5, dtype=np.float32))
    with pytest.raises(ValueError, match="pass itemsize=16"):
        out.array("a", np.complex128)
    assert forks("processes") == (sys.platform.startswith("linux") and "jax" not in sys.modules)
    assert not forks("serial") and not forks("dask")


def test_train_is_seeded_by_its_node_and_checkpoints_see_theta_before_the_update():
    seen: dict[int, np.ndarray] = {}

    def grad(step, theta, rng):
        return theta + rng.standard_normal(theta.shape)

    def run(key, record=False):
        return train(
            np.array([1.0, -2.0]),
            grad,
            sgd(0.1),
            steps=5,
            seed=3,
            key=key,
            checkpoints=[0, 5],
            on_checkpoint=(lambda s, th, sec: seen.__setitem__(s, th.copy())) if record else None,
        )

    a, b, c = run(("p", "train"), record=True), run(("p", "train")), run(("q", "train"))
    assert np.array_equal(a.theta, b.theta) and not np.array_equal(a.theta, c.theta)
    assert np.array_equal(seen[0], [1.0, -2.0]) and np.array_equal(seen[5], a.theta)
    # by hand: the same node, the same updates
    rng, theta = generator(3, "p", "train"), np.array([1.0, -2.0])
    for _ in range(5):
        theta = theta - 0.1 * (theta + rng.standard_normal(2))
    assert np.array_equal(theta, a.theta)
    with pytest.raises(ValueError, match="checkpoints must lie in"):
        train(np.zeros(1), grad, sgd(0.1), steps=2, seed=0, key=("k",), checkpoints=[3])


def test_train_sbn_takes_its_randomness_from_the_seed_tree_only(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("train_sbn must not call np.random.default_rng")

    monkeypatch.setattr(np.random, "default_rng", refuse)
    snaps, curve = sbn.train_sbn(6, seed=4, snapshots=(0, 6), elbo_every=3)
    again, curve2 = sbn.train_sbn(6, seed=4, snapshots=(6,), elbo_every=3)
    assert np.array_equal(snaps[6].w_enc, again[6].w_enc)
    assert curve == curve2 and [s for s, _ in curve] == [0, 3, 6]
    other, _ = sbn.train_sbn(6, seed=5, snapshots=(6,))
    assert not np.array_equal(other[6].w_enc, snaps[6].w_enc)
