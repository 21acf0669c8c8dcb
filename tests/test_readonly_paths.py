"""Samples handed to user code on the relaxation and dependency-aware paths are read-only.

Issue 13 item 1 follow-up: straight-through and Gumbel-softmax with a user ``relaxed``
objective, and ``dependency_aware`` (``f.terms``), pass read-only arrays; a user
function that writes into its input gets the named error, and a well-behaved one
still works.
"""

from __future__ import annotations

import numpy as np
import pytest

import vartools as vt
from vartools.core.objectives import Objective, sum_of_terms
from vartools.estimators.relaxations import gumbel_softmax, straight_through

TABLE = np.arange(6.0).reshape(2, 3) / 6


def _val(y):
    return (TABLE * y).sum((-1, -2))


def _grad(y):
    return np.broadcast_to(TABLE, y.shape).copy()


def _val_inplace(y):
    y *= 2.0
    return _val(y)


def _grad_inplace(y):
    y[...] = TABLE
    return y


def _cat_problem():
    return vt.Problem("cat2x3", vt.Categorical(np.zeros((2, 3))), lambda z: _val(np.eye(3)[z]))


@pytest.mark.parametrize("make", [straight_through, lambda r: gumbel_softmax(0.5, r)])
@pytest.mark.parametrize(
    ("value", "grad", "who"),
    [(_val_inplace, _grad, "relaxed value"), (_val, _grad_inplace, "relaxed grad")],
)
def test_relaxed_objective_gets_read_only_samples(make, value, grad, who):
    est = vt.make_estimator(make(Objective(value, grad)))
    with pytest.raises(ValueError, match=rf"{who} of problem 'cat2x3' must not modify its input z"):
        est(_cat_problem(), 3, rng=np.random.default_rng(0), reps=(2,))


@pytest.mark.parametrize("make", [straight_through, lambda r: gumbel_softmax(0.5, r)])
def test_relaxed_objective_that_does_not_write_still_works(make):
    est = vt.make_estimator(make(Objective(_val, _grad)))
    g, _ = est(_cat_problem(), 3, rng=np.random.default_rng(0), reps=(2,))
    assert g.shape == (2, 6) and np.isfinite(g).all()


def test_dependency_aware_terms_get_read_only_samples():
    def terms(x):
        x -= 0.45
        return x**2

    prob = vt.Problem("sep3", vt.Bernoulli(np.zeros(3)), sum_of_terms(terms, [(0,), (1,), (2,)]))
    est = vt.make_estimator(vt.dependency_aware)
    with pytest.raises(
        ValueError, match=r"the terms of problem 'sep3' must not modify its input x"
    ):
        est(prob, 4, rng=np.random.default_rng(0), reps=(2,))
    ok = vt.Problem(
        "sep3",
        vt.Bernoulli(np.zeros(3)),
        sum_of_terms(lambda x: (x - 0.45) ** 2, [(0,), (1,), (2,)]),
    )
    g, _ = est(ok, 4, rng=np.random.default_rng(0), reps=(2,))
    assert g.shape == (2, 3)
