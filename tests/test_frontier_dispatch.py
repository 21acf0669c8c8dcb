"""Frontier estimators dispatch by distribution capability, never by class (issues 12, 15).

A distribution that implements the capabilities an estimator needs works with it,
whatever its class; one that lacks them is refused with an error naming the estimator,
the distribution and the missing capability.
"""

from __future__ import annotations

import numpy as np
import pytest

import vartools as vt
from vartools.catalogue.registry import estimator_names, get_estimator
from vartools.catalogue.settings import make_problem
from vartools.core.capabilities import Capabilities
from vartools.core.errors import NotSupportedError
from vartools.core.objectives import Objective
from vartools.core.problem import Problem
from vartools.distributions.discrete.bernoulli import Bernoulli
from vartools.distributions.discrete.categorical import Categorical
from vartools.distributions.uniform_noise import UniformNoise

#: Registered frontier estimators (issue 15) and the family name their errors use.
FRONTIER = {
    "vimco": "vimco",
    "unordered_set3": "unordered_set",
    "double_cv": "double_cv",
    "rodeo": "rodeo",
    "rodeo_mlp": "rodeo",
    "rebar": "rebar",
    "rebar_frozen": "rebar",
    "relax": "relax",
}


def _clone(cls: type, name: str) -> type:
    """A distribution class with cls's methods but not a subclass of it (a user's own class)."""
    body = {k: v for k, v in vars(cls).items() if k not in ("__dict__", "__weakref__")}
    body["__qualname__"] = name
    return type(name, (UniformNoise,), body)


UserCategorical = _clone(Categorical, "UserCategorical")
UserBernoulli = _clone(Bernoulli, "UserBernoulli")


class NoRebarBernoulli(Bernoulli):
    """A Bernoulli without REBAR's coupled noise (the capability switched off)."""

    conditional_relaxation = Capabilities.conditional_relaxation


class NoLayoutCategorical(Categorical):
    """A Categorical without the one-hot layout Double CV and RODEO need."""

    one_hot_layout = Capabilities.one_hot_layout


def _normal() -> Problem:
    return Problem(
        "normal",
        vt.Normal([0.0, 0.3], [1.0, 2.0]),
        Objective(lambda x: (x**2).sum(-1), lambda x: 2 * x),
    )


PROBLEMS = {
    "normal": _normal,
    "bernoulli": lambda: make_problem("liu_toy", eta=0.3),
    "categorical_relaxed": lambda: make_problem("cat_onehot"),
    "categorical_plain": lambda: make_problem("cat_table", n_vars=2, n_classes=3),
    "multi_sample": lambda: make_problem("iwae_toy", k=3),
}

#: Which (problem, estimator) pairs work; every other pair must be refused.
WORKS = {
    "bernoulli": {
        "unordered_set3",
        "double_cv",
        "rodeo",
        "rodeo_mlp",
        "rebar",
        "rebar_frozen",
        "relax",
    },
    "categorical_relaxed": {
        "unordered_set3",
        "double_cv",
        "rodeo",
        "rodeo_mlp",
        "rebar",
        "rebar_frozen",
        "relax",
    },
    "categorical_plain": {"unordered_set3", "relax"},  # f only at outcomes
    "multi_sample": {"vimco", "unordered_set3"},
    "normal": set(),
}


@pytest.mark.parametrize("setting", sorted(PROBLEMS))
@pytest.mark.parametrize("name", sorted(FRONTIER))
def test_every_frontier_estimator_works_or_refuses_naming_both(setting, name):
    prob = PROBLEMS[setting]()
    est = get_estimator(name)
    dist_name = type(prob.dist).__name__
    if name in WORKS[setting]:
        g, _ = est(prob, 3, rng=np.random.default_rng(0), reps=(4,))
        assert g.shape == (4, prob.dist.n_params) and np.all(np.isfinite(g))
        return
    with pytest.raises(TypeError) as info:
        est(prob, 3, rng=np.random.default_rng(0), reps=(4,))
    msg = str(info.value)
    assert FRONTIER[name] in msg and dist_name in msg, msg


def test_all_registered_frontier_names_are_covered():
    families = ("vimco", "unordered_set", "double_cv", "rodeo", "rebar", "relax")
    registered = {n for n in estimator_names() if n.startswith(families)}
    assert registered == set(FRONTIER) - {"unordered_set3"}  # unordered_set<k> is a family


@pytest.mark.parametrize(
    "name", ["rebar", "rebar_frozen", "relax", "double_cv", "rodeo", "rodeo_mlp"]
)
def test_a_user_distribution_with_the_capabilities_works_like_the_builtin(name):
    """Not a subclass of Bernoulli or Categorical: the same estimates, bit for bit."""
    for builtin, user in [
        (make_problem("cat_onehot"), UserCategorical),
        (make_problem("liu_toy", eta=0.3), UserBernoulli),
    ]:
        mine = Problem("user", user(builtin.dist.logits), builtin.f, relaxed=builtin.relaxed)
        assert not isinstance(mine.dist, Bernoulli | Categorical)
        est = get_estimator(name)
        g0, s0 = est(builtin, 3, rng=np.random.default_rng(5), reps=(50,))
        g1, s1 = est(mine, 3, rng=np.random.default_rng(5), reps=(50,))
        assert np.array_equal(g0, g1)


def test_a_distribution_without_the_capability_is_refused_naming_all_three():
    bern = make_problem("liu_toy", eta=0.3)
    hidden = Problem("hidden", NoRebarBernoulli(bern.dist.logits), bern.f)
    assert not hidden.dist.supports("conditional_relaxation")
    for name, who in [("rebar", "rebar"), ("rebar_frozen", "rebar"), ("relax", "relax")]:
        with pytest.raises(NotSupportedError, match=f"{who} does not support NoRebarBernoulli"):
            get_estimator(name)(hidden, 2, rng=np.random.default_rng(0))
        with pytest.raises(NotSupportedError, match="conditional_relaxation"):
            get_estimator(name)(hidden, 2, rng=np.random.default_rng(0))
    # Double CV and RODEO need other capabilities, which it still has
    g, _ = get_estimator("double_cv")(hidden, 2, rng=np.random.default_rng(0), reps=(3,))
    assert np.all(np.isfinite(g))
    cat = make_problem("cat_onehot")
    no_layout = Problem("nl", NoLayoutCategorical(cat.dist.logits), cat.f, relaxed=cat.relaxed)
    for name in ("double_cv", "rodeo"):
        with pytest.raises(
            NotSupportedError,
            match=f"{name} does not support NoLayoutCategorical.*one_hot_factorised",
        ):
            get_estimator(name)(no_layout, 2, rng=np.random.default_rng(0))
    g, _ = get_estimator("rebar")(no_layout, 2, rng=np.random.default_rng(0), reps=(3,))
    assert np.all(np.isfinite(g))


def test_categoricals_without_a_relaxed_objective_get_the_named_error():
    plain = make_problem("cat_table", n_vars=2, n_classes=3)
    for name in ("rebar", "double_cv", "rodeo"):
        with pytest.raises(TypeError, match=f"{name} on Categorical needs f on one-hot vectors"):
            get_estimator(name)(plain, 2, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="relaxed must be None or an Objective"):
        Problem("bad", plain.dist, plain.f, relaxed=lambda y: y.sum(-1))  # type: ignore[arg-type]


def test_the_problem_relaxed_objective_is_used_and_an_explicit_one_wins():
    from vartools.estimators.rebar.estimator import rebar

    cat = make_problem("cat_onehot")
    off = Objective(lambda y: cat.relaxed.value(y) * 0.0, lambda y: np.zeros_like(y))
    g_prob, _ = rebar(1.0, 0.5)(cat, 2, rng=np.random.default_rng(1), reps=(20,))
    g_arg, _ = rebar(1.0, 0.5, relaxed=cat.relaxed)(
        Problem("c", cat.dist, cat.f), 2, rng=np.random.default_rng(1), reps=(20,)
    )
    assert np.array_equal(g_prob, g_arg)
    g_off, _ = rebar(1.0, 0.5, relaxed=off)(cat, 2, rng=np.random.default_rng(1), reps=(20,))
    assert not np.allclose(g_off, g_prob)  # a zero relaxed f: REINFORCE, not REBAR
