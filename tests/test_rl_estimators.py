"""Episodic policy-gradient estimators and baselines (vartools.catalogue.rl).

Unbiasedness and exact variances by enumerating trajectories (atol 1e-12); the dynamic-
programming variances against enumeration; biases of GAE(lambda < 1) with an approximate
critic and of discounting, exactly; Monte Carlo only with fixed seeds and z * SE.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import ATOL, Z_HUNDRED
from test_rl_mdp import THETA_T, terminal_mdp

import vartools as vt
from vartools.catalogue.rl import baselines as B
from vartools.catalogue.rl import estimators as E
from vartools.catalogue.rl.episodes import EpisodeLaw
from vartools.catalogue.rl.oracle import _enumerate
from vartools.catalogue.rl.policy import SoftmaxPolicy
from vartools.catalogue.rl.problems import mdp_gradient, mdp_problem, tabular_problem
from vartools.oracles import exact

PROBS = [mdp_problem("zero", 4), mdp_problem("ref", 4), mdp_problem("ref", 3)]
PROBS.append(tabular_problem(terminal_mdp(), THETA_T, 3, "term(T=3)"))
IDS = [p.name for p in PROBS]


def unbiased() -> dict[str, vt.Estimator]:
    mk = vt.make_estimator
    return {
        "reinforce": mk(E.reinforce()),
        "reinforce+const": mk(E.reinforce(), vt.constant_baseline(0.8)),
        "rtg": mk(E.reward_to_go()),
        "rtg+const": mk(E.reward_to_go(), B.constant_step_baseline(0.8)),
        "rtg+V": mk(E.reward_to_go(), B.state_value_baseline()),
        "rtg+b*": mk(E.reward_to_go(), B.optimal_state_baseline()),
        "rtg+Vbar": mk(E.reward_to_go(), B.critic_baseline(E.time_agnostic_critic())),
        "rtg+table": mk(E.reward_to_go(), B.critic_baseline(E.table_critic([0.3, -1.0, 2.0]))),
        "gae(1,Vbar)": mk(E.gae(1.0, E.time_agnostic_critic())),
        "gae(0.5,V*)": mk(E.gae(0.5, E.exact_critic())),
        "gae(0,V*)": mk(E.gae(0.0, E.exact_critic())),
        "rtg+loo": mk(E.reward_to_go(), B.time_loo_baseline()),
        "reinforce+loo": mk(E.reinforce(), B.time_loo_baseline()),
        "rtg+ema": mk(E.reward_to_go(), B.time_ema_baseline(0.5)),
        "rtg+critic": mk(E.reward_to_go(), B.fitted_critic_baseline(0.5)),
    }


NAMES = list(unbiased())


@pytest.mark.parametrize("prob", PROBS, ids=IDS)
@pytest.mark.parametrize("name", NAMES)
def test_every_unbiased_estimator_is_unbiased_by_enumeration(prob, name):
    est = unbiased()[name]
    assert not est.biased
    n = 2 if est.min_n > 1 else 1
    state = est.init(prob)
    if est.stateful:  # a frozen, non-trivial state
        rng = np.random.default_rng(0)
        for _ in range(3):
            _, state = est(prob, 4, rng=rng, reps=(5,), state=state)
    mean, _ = _enumerate(prob, est, n, state)
    np.testing.assert_allclose(mean, mdp_gradient(prob).ravel(), atol=ATOL)


@pytest.mark.parametrize("prob", PROBS, ids=IDS)
@pytest.mark.parametrize(
    "name", ["reinforce", "rtg", "rtg+const", "rtg+V", "rtg+b*", "rtg+Vbar", "gae(1,Vbar)"]
)
def test_dynamic_programming_moments_equal_enumeration(prob, name):
    est = unbiased()[name]
    for n in (1, 2):
        dp = exact.exact_moments(prob, est, n)
        en = _enumerate(prob, est, n, None)
        np.testing.assert_allclose(dp[0], en[0], atol=ATOL)
        np.testing.assert_allclose(dp[1], en[1], atol=ATOL)


@pytest.mark.parametrize("prob", PROBS, ids=IDS)
def test_biased_estimators_have_the_exact_bias_of_enumeration(prob):
    truth = mdp_gradient(prob).ravel()
    cases = [
        vt.make_estimator(E.gae(0.5, E.time_agnostic_critic())),
        vt.make_estimator(E.gae(0.0, E.time_agnostic_critic())),
        vt.make_estimator(E.reward_to_go(0.8)),
        vt.make_estimator(E.reinforce(0.8)),
        vt.make_estimator(E.gae(1.0, E.exact_critic(), 0.8)),
    ]
    for est in cases:
        assert est.biased and "[biased]" in est.name
        dp = exact.exact_moments(prob, est, 1)
        en = _enumerate(prob, est, 1, None)
        np.testing.assert_allclose(dp[0], en[0], atol=ATOL)
        np.testing.assert_allclose(dp[1], en[1], atol=ATOL)
        if prob.dist.horizon > 1:
            assert np.abs(en[0] - truth).max() > 1e-3, est.name


def test_gae_lambda_zero_with_exact_critic_is_the_advantage_estimator():
    # A_t = r_t + V_{t+1}(s_{t+1}) - V_t(s_t): unbiased, and lambda = 1 is rtg - V(s)
    prob = mdp_problem("ref", 4)
    x, _ = prob.dist.support()
    g1 = vt.make_estimator(E.gae(1.0, E.exact_critic())).from_samples(prob, x[:, None]).terms
    rv = vt.make_estimator(E.reward_to_go(), B.state_value_baseline())
    np.testing.assert_allclose(g1, rv.from_samples(prob, x[:, None]).terms, atol=ATOL)


def test_reinforce_equals_the_score_function_on_the_episode_problem():
    prob = mdp_problem("ref", 4)
    x, _ = prob.dist.support()
    a = vt.make_estimator(E.reinforce()).from_samples(prob, x[:, None]).terms
    b = vt.make_estimator(vt.score_function).from_samples(prob, x[:, None]).terms
    np.testing.assert_allclose(a, b, atol=ATOL)


def test_dynamic_programming_reaches_long_horizons():
    prob = mdp_problem("ref", 16)
    with pytest.raises(ValueError, match="budget"):
        _enumerate(prob, vt.make_estimator(E.reward_to_go()), 1, None)
    mean, var = exact.exact_moments(prob, vt.make_estimator(E.reward_to_go()), 1)
    np.testing.assert_allclose(mean, mdp_gradient(prob).ravel(), atol=1e-12)
    assert np.all(var > 0)


def test_shapes_and_truncation_info():
    prob = mdp_problem("ref", 4)
    est = vt.make_estimator(E.reward_to_go(), B.time_loo_baseline())
    batch, _ = est.batch(prob, 3, rng=np.random.default_rng(0), reps=(2, 5))
    assert batch.estimate.shape == (2, 5, 6)
    assert batch.info["step_weights"].shape == (2, 5, 3, 4)
    assert batch.info["truncated"] == 30


def test_monte_carlo_matches_the_exact_moments():
    # fixed seed; |variance - exact| <= z SE and |bias| <= z SE for about a hundred checks
    mk = vt.make_estimator
    prob = mdp_problem("ref", 4)
    ests = [
        mk(E.reinforce(), name="reinforce"),
        mk(E.reward_to_go(), name="rtg"),
        mk(E.reward_to_go(), B.state_value_baseline(), name="rtg+V"),
        mk(E.reward_to_go(), B.optimal_state_baseline(), name="rtg+b*"),
        mk(E.reward_to_go(), B.time_loo_baseline(), name="rtg+loo"),
        mk(E.gae(0.5, E.time_agnostic_critic()), name="gae"),
    ]
    table = vt.measure_variance(prob, ests, n_samples=[2], n_reps=4000, seed=3, warmup=0)
    rows = table[table["kind"] == "coordinate"]
    assert rows["exact_variance"].notna().all()
    z = np.abs(rows["variance"] - rows["exact_variance"]) / rows["variance_se"]
    assert (z <= Z_HUNDRED).all(), rows.loc[z > Z_HUNDRED, ["estimator", "coordinate"]]
    exact_mean = {e.name: exact.exact_moments(prob, e, 2)[0] for e in ests}
    for name, part in rows.groupby("estimator"):
        dev = np.abs(part["mean"].to_numpy() - exact_mean[name])
        assert np.all(dev <= Z_HUNDRED * part["bias_se"].to_numpy()), name


def test_ema_baseline_state_is_a_per_time_average_of_earlier_batches():
    prob = mdp_problem("ref", 4)
    est = vt.make_estimator(E.reward_to_go(), B.time_ema_baseline(0.5))
    state = est.init(prob)
    assert state[0].shape == (4,) and state[1] == 0
    b1, state = est.batch(prob, 8, rng=np.random.default_rng(0), reps=(10,), state=state)
    w = b1.info["step_weights"]
    np.testing.assert_allclose(state[0], 0.5 * w.reshape(-1, 4).mean(0), atol=ATOL)
    # the first batch has no baseline; the second subtracts the debiased average
    np.testing.assert_allclose(b1.estimate, b1.extra.mean(-2), atol=ATOL)
    rtg = vt.make_estimator(E.reward_to_go())
    b2, _ = est.batch(prob, 8, rng=np.random.default_rng(1), reps=(10,), state=state)
    plain, _ = rtg.batch(prob, 8, rng=np.random.default_rng(1), reps=(10,))
    base = prob.dist.weighted_score(b2.x, np.broadcast_to(state[0] / 0.5, b2.x.shape[:-1]))
    np.testing.assert_allclose(b2.terms, plain.terms - base, atol=ATOL)


def test_named_errors():
    with pytest.raises(TypeError, match="not an episodic problem"):
        vt.make_estimator(E.reward_to_go())(
            vt.make_problem("liu_toy"), 2, rng=np.random.default_rng(0)
        )
    with pytest.raises(TypeError, match="RL base estimator"):
        est = vt.make_estimator(vt.score_function, B.time_loo_baseline())
        est(mdp_problem("ref", 3), 2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="gamma"):
        E.reward_to_go(1.5)
    with pytest.raises(ValueError, match="lam"):
        E.gae(-0.1, E.exact_critic())
    with pytest.raises(ValueError, match="decay"):
        B.time_ema_baseline(1.0)
    with pytest.raises(ValueError, match="iid sampler"):
        est = vt.make_estimator(E.reward_to_go(), sampler=vt.stratified())
        est(mdp_problem("ref", 3), 4, rng=np.random.default_rng(0))


class _BadPolicy(SoftmaxPolicy):
    def logits(self, obs):
        out = super().logits(obs).copy()
        out[..., 0] = np.nan
        return out


class _InfReward:
    """The reference MDP with an infinite reward in state 2."""

    def __init__(self):
        from vartools.catalogue.rl.mdp import reference_mdp

        self.base = reference_mdp()
        self.obs_dim, self.reset_width, self.step_width, self.n_actions = 1, 1, 1, 2

    def reset(self, u):
        return self.base.reset(u)

    def step(self, obs, action, u):
        nxt, r, term = self.base.step(obs, action, u)
        return nxt, np.where(obs[..., 0] == 2, np.inf, r), term


def test_invalid_probabilities_and_rewards_are_named():
    law = EpisodeLaw(mdp_problem().dist.env, _BadPolicy(np.zeros((3, 2))), 3)
    with pytest.raises(ValueError, match="invalid action probabilities"):
        law.sample(4, rng=np.random.default_rng(0))
    law = EpisodeLaw(_InfReward(), SoftmaxPolicy(np.zeros((3, 2))), 8)
    with pytest.raises(ValueError, match="non-finite reward"):
        law.sample(50, rng=np.random.default_rng(0))


def test_estimator_is_a_frozen_pure_function_of_its_batch():
    prob = mdp_problem("ref", 4)
    est = vt.make_estimator(E.reward_to_go(), B.optimal_state_baseline())
    noise = prob.dist.sample_noise(3, rng=np.random.default_rng(2), reps=(2,))
    copy = noise.copy()
    a = est.from_noise(prob, noise).estimate
    b = est.from_noise(prob, noise).estimate
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(noise, copy)
    assert dataclasses.is_dataclass(est)
