"""Tabular episodic RL (vartools.catalogue.rl): the episode law and the exact oracles.

Every check here is exact (enumeration of trajectories, recursions, finite differences of
quantities that do not use the score), except the sampling frequencies (fixed seed, z * SE).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ATOL, Z_HUNDRED, central_difference

from vartools.catalogue.rl import mdp as M
from vartools.catalogue.rl.episodes import EpisodeLaw, episode_stats
from vartools.catalogue.rl.policy import SoftmaxPolicy
from vartools.catalogue.rl.problems import (
    mdp_expected_return,
    mdp_gradient,
    mdp_problem,
    tabular_problem,
)
from vartools.oracles import exact


def terminal_mdp() -> M.TabularMDP:
    """3 states, state 2 terminal, start spread over states 0 and 1."""
    p = np.array(
        [
            [[0.6, 0.3, 0.1], [0.2, 0.5, 0.3]],
            [[0.3, 0.4, 0.3], [0.1, 0.1, 0.8]],
            [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]],
        ]
    )
    r = np.array([[0.2, -0.3], [1.0, 0.4], [0.0, 0.0]])
    return M.TabularMDP(p, r, start=[0.7, 0.3, 0.0], terminal=[False, False, True])


THETA_T = np.array([[0.3, -0.4], [1.1, -0.2], [0.0, 0.5]])


def problems():
    out = [mdp_problem(th, t) for th in ("zero", "ref") for t in (1, 2, 4)]
    out += [tabular_problem(terminal_mdp(), THETA_T, t, f"term(T={t})") for t in (1, 3, 5)]
    return out


PROBS = problems()
IDS = [p.name for p in PROBS]


@pytest.mark.parametrize("prob", PROBS, ids=IDS)
def test_support_is_a_distribution_matching_log_prob(prob):
    x, w = prob.dist.support()
    assert abs(w.sum() - 1.0) < ATOL
    np.testing.assert_allclose(np.exp(prob.dist.log_prob(x[:, None]))[:, 0], w, atol=ATOL)
    np.testing.assert_allclose(w @ prob.dist.score(x[:, None])[:, 0], 0.0, atol=ATOL)


@pytest.mark.parametrize("prob", PROBS, ids=IDS)
def test_score_equals_finite_difference_of_log_prob(prob):
    x, _ = prob.dist.support()
    fd = central_difference(
        lambda t: prob.dist.with_params(t).log_prob(x[:, None])[:, 0], prob.dist.params, 1e-6
    )
    np.testing.assert_allclose(prob.dist.score(x[:, None])[:, 0], fd, atol=1e-8)


@pytest.mark.parametrize("prob", PROBS, ids=IDS)
def test_exact_gradient_three_ways(prob):
    # enumeration E[f score], the policy-gradient theorem, and a finite difference of J
    # computed by enumeration and by the forward recursion (neither uses the score)
    g_enum = exact.exact_gradient(prob)
    g_pg = mdp_gradient(prob).ravel()
    np.testing.assert_allclose(g_enum, g_pg, atol=ATOL)
    fd_enum = central_difference(
        lambda t: exact.exact_expectation(prob.with_params(t)), prob.dist.params, 1e-5
    )
    fd_rec = central_difference(
        lambda t: mdp_expected_return(prob.with_params(t)), prob.dist.params, 1e-5
    )
    np.testing.assert_allclose(g_pg, fd_enum, atol=1e-9)
    np.testing.assert_allclose(g_pg, fd_rec, atol=1e-9)
    law = prob.dist
    j_back = M.start_values(law.env, law.policy.table(), law.horizon)
    assert abs(j_back - mdp_expected_return(prob)) < ATOL
    assert abs(j_back - exact.exact_expectation(prob)) < ATOL


def test_discounted_gradient_is_a_finite_difference_of_discounted_j():
    prob = mdp_problem("ref", 4)
    law = prob.dist
    fd = central_difference(
        lambda t: mdp_expected_return(prob.with_params(t), 0.8), law.params, 1e-5
    )
    np.testing.assert_allclose(mdp_gradient(prob, 0.8).ravel(), fd, atol=1e-9)


def test_reference_problem_numbers_and_names():
    prob = mdp_problem("zero", 4)
    assert prob.dist.param_names == (
        "theta[0,0]",
        "theta[0,1]",
        "theta[1,0]",
        "theta[1,1]",
        "theta[2,0]",
        "theta[2,1]",
    )
    g = mdp_gradient(prob)
    np.testing.assert_allclose(g.sum(-1), 0.0, atol=ATOL)  # softmax: logits shift-invariant
    assert mdp_problem("ref", 4).name == "rl_mdp(T=4,theta=ref)"
    np.testing.assert_allclose(mdp_problem("ref").dist.theta, M.REFERENCE_THETA)


def test_sampling_matches_the_trajectory_law():
    prob = mdp_problem("ref", 2)
    x, w = prob.dist.support()
    draws = prob.dist.sample(40_000, rng=np.random.default_rng(5))
    codes = {tuple(row.ravel()): i for i, row in enumerate(x)}
    idx = np.array([codes[tuple(row.ravel())] for row in draws])
    freq = np.bincount(idx, minlength=len(w)) / len(idx)
    se = np.sqrt(w * (1 - w) / len(idx))
    assert np.all(np.abs(freq - w) <= Z_HUNDRED * se)


def test_terminal_episodes_are_counted_and_padded():
    prob = tabular_problem(terminal_mdp(), THETA_T, 5, "term")
    x = prob.dist.sample(2000, rng=np.random.default_rng(1), reps=(2,))
    assert x.shape == (2, 2000, 5, 5)
    st = episode_stats(x)
    assert st.terminated + st.truncated == 4000
    assert 0 < st.terminated < 4000
    dead = x[..., -2] == 0
    assert np.all(x[dead] == 0.0)
    # no terminal state: every episode is truncated at the horizon
    assert (
        episode_stats(mdp_problem("ref", 3).dist.sample(7, rng=np.random.default_rng(0))).truncated
        == 7
    )


def test_dynamic_programming_tables():
    mdp, pi, t = M.reference_mdp(), SoftmaxPolicy(M.REFERENCE_THETA).table(), 4
    q, v = M.action_values(mdp, pi, t)
    np.testing.assert_allclose(q[-1], mdp.rewards, atol=ATOL)
    d = M.visitation(mdp, pi, t)
    np.testing.assert_allclose(d.sum(-1), 1.0, atol=ATOL)
    b = M.optimal_state_baseline_table(mdp, pi, t)
    # with two actions, b* weights Q by pi(other action) ... and equals V when pi is uniform
    half = np.full((3, 2), 0.5)
    np.testing.assert_allclose(
        M.optimal_state_baseline_table(mdp, half, t),
        np.repeat(M.action_values(mdp, half, t)[1][..., None], 2, -1),
        atol=ATOL,
    )
    assert b.shape == (4, 3, 2)
    vbar = M.time_agnostic_values(mdp, pi, t)
    np.testing.assert_allclose(vbar, (d * v).sum(0) / d.sum(0), atol=ATOL)


def test_errors_name_the_argument_and_the_fix():
    with pytest.raises(ValueError, match="transitions"):
        M.TabularMDP(np.full((2, 2, 2), 0.6), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="rewards must be finite"):
        M.TabularMDP(np.full((2, 2, 2), 0.5), [[0.0, np.inf], [0.0, 0.0]])
    with pytest.raises(ValueError, match="start"):
        M.TabularMDP(np.full((2, 2, 2), 0.5), np.zeros((2, 2)), start=[0.5, 0.6])
    with pytest.raises(ValueError, match="theta must be one of"):
        mdp_problem("best", 4)
    with pytest.raises(ValueError, match="horizon"):
        mdp_problem("zero", 0)
    with pytest.raises(ValueError, match="theta must have shape"):
        tabular_problem(M.reference_mdp(), np.zeros((2, 2)), 3, "bad")
    with pytest.raises(ValueError, match="budget"):
        mdp_problem("ref", 12).dist.support(budget=1000)
    with pytest.raises(ValueError, match="actions"):
        EpisodeLaw(M.reference_mdp(), SoftmaxPolicy(np.zeros((3, 3))), 4)
