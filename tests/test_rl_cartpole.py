"""Classic-control RL (CartPole-v1, Acrobot-v1): NumPy dynamics against gymnasium, the
gymnasium path's errors, vectorisation, truncation, unbiasedness by paired Monte Carlo
(fixed seeds, z * SE) and the training loop."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from conftest import Z_HUNDRED, central_difference

import vartools as vt
from vartools.catalogue.rl import baselines as B
from vartools.catalogue.rl import estimators as E
from vartools.catalogue.rl.acrobot import Acrobot
from vartools.catalogue.rl.cartpole import CartPole
from vartools.catalogue.rl.episodes import episode_stats
from vartools.catalogue.rl.gym import gym_problem, replay_in_gymnasium, require_gymnasium
from vartools.catalogue.rl.problems import mdp_problem
from vartools.catalogue.rl.training import TrainConfig, train_and_measure
from vartools.core.optim import adam

gym = pytest.importorskip("gymnasium")


@pytest.mark.parametrize(
    ("env_id", "env", "n_act"), [("CartPole-v1", CartPole(), 2), ("Acrobot-v1", Acrobot(), 3)]
)
def test_dynamics_equal_gymnasium_step_by_step(env_id, env, n_act):
    g = gym.make(env_id)
    rng = np.random.default_rng(7)
    worst, steps, terminated = 0.0, 0, 0
    for ep in range(8 if n_act == 2 else 3):
        g.reset(seed=ep)
        s = np.array(g.unwrapped.state, dtype=np.float64)
        for t in range(500 if n_act == 2 else 200):
            # a mix of random and state-feedback actions, so some episodes terminate
            a = int(rng.integers(n_act)) if (t + ep) % 3 else int(s[2] > 0) * (n_act - 1)
            nxt, r, done = env.step(s[None], np.array([a]), np.zeros((1, 0)))
            _, rg, term, trunc, _ = g.step(a)
            st = np.asarray(g.unwrapped.state, dtype=np.float64)
            worst = max(worst, float(np.abs(st - nxt[0]).max()))
            assert bool(done[0]) == bool(term) and float(r[0]) == float(rg)
            steps += 1
            if term or trunc:
                terminated += int(term)
                break
            s = st
    g.close()
    assert worst <= 1e-12, worst
    assert steps > 100
    if env_id == "CartPole-v1":
        assert terminated == 8


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Acrobot-v1"])
def test_sampled_episodes_replay_in_gymnasium(env_id):
    prob = gym_problem(env_id, horizon=120)
    x = prob.dist.sample(6, rng=np.random.default_rng(1))
    check = replay_in_gymnasium(env_id, x)
    assert check.mismatches == 0 and check.max_state_diff <= 1e-12
    assert check.steps == int(episode_stats(x).lengths.sum())


def test_reset_matches_gymnasium_start_distribution_bounds():
    u = np.array([[0.0, 0.25, 0.5, 0.999999]])
    np.testing.assert_allclose(CartPole().reset(u), -0.05 + 0.1 * u)
    assert np.all(np.abs(Acrobot().reset(u)) <= 0.1 + 1e-7)  # float32 rounding
    assert Acrobot().reset(u).dtype == np.float64


def test_missing_gymnasium_is_a_named_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "gymnasium", None)
    with pytest.raises(ImportError, match=r'pip install "vartools\[rl\]"'):
        require_gymnasium()
    with pytest.raises(ImportError, match="gymnasium is not installed"):
        replay_in_gymnasium("CartPole-v1", np.zeros((1, 3, 8)))


def test_unknown_environment_is_named():
    with pytest.raises(ValueError, match="env_id must be one of"):
        gym_problem("MountainCar-v0")


def test_episodes_do_not_depend_on_the_batch_shape():
    # each episode is a function of its own noise rows: vectorised = one at a time
    prob = gym_problem("CartPole-v1", horizon=60)
    noise = prob.dist.sample_noise(4, rng=np.random.default_rng(3), reps=(3,))
    x = prob.dist.transform(noise)
    for i in range(3):
        for j in range(4):
            np.testing.assert_array_equal(prob.dist.transform(noise[i, j][None])[0], x[i, j])


def test_truncation_is_counted():
    prob = gym_problem("CartPole-v1", horizon=15)
    x = prob.dist.sample(400, rng=np.random.default_rng(4))
    st = episode_stats(x)
    alive_at_end = int(x[:, -1, -2].sum() - x[:, -1, -1].sum())
    assert st.truncated == alive_at_end > 0
    assert st.terminated + st.truncated == 400
    batch, _ = vt.make_estimator(E.reward_to_go()).batch(prob, 400, rng=np.random.default_rng(4))
    assert batch.info["truncated"] == st.truncated


def test_score_is_a_finite_difference_of_the_policy_log_prob():
    theta = np.random.default_rng(0).normal(size=(5, 2)) * 0.3
    prob = gym_problem("CartPole-v1", theta=theta, horizon=40)
    x = prob.dist.sample(5, rng=np.random.default_rng(2))
    fd = central_difference(lambda t: prob.dist.with_params(t).log_prob(x), prob.dist.params, 1e-6)
    np.testing.assert_allclose(prob.dist.score(x), fd, atol=1e-7)


def test_baselines_do_not_move_the_mean_on_cartpole():
    # paired differences on common episodes: E[rtg - reinforce] = E[baseline terms] = 0
    theta = np.random.default_rng(1).normal(size=(5, 2)) * 0.5
    prob = gym_problem("CartPole-v1", theta=theta, horizon=50)
    mk = vt.make_estimator
    ests = {
        "reinforce": mk(E.reinforce()),
        "rtg": mk(E.reward_to_go()),
        "loo": mk(E.reward_to_go(), B.time_loo_baseline()),
        "ema": mk(E.reward_to_go(), B.time_ema_baseline(0.5)),
        "critic": mk(E.reward_to_go(), B.fitted_critic_baseline(0.5)),
    }
    states = {}
    for name, est in ests.items():
        state = est.init(prob)
        for k in range(4):
            _, state = est(prob, 4, rng=np.random.default_rng(100 + k), state=state)
        states[name] = state
    out = {
        name: est(prob, 4, rng=np.random.default_rng(9), reps=(1500,), state=states[name])[0]
        for name, est in ests.items()
    }
    for name in ("rtg", "loo", "ema", "critic"):
        d = out[name] - out["reinforce"]
        se = d.std(0, ddof=1) / np.sqrt(d.shape[0])
        assert np.all(np.abs(d.mean(0)) <= Z_HUNDRED * se), name
    # and the baselines reduce the variance a lot on this task (returns are all positive)
    assert out["loo"].var(0).mean() < 0.5 * out["reinforce"].var(0).mean()


def test_training_records_env_steps_and_is_deterministic():
    prob = mdp_problem("zero", 4)
    trainer = vt.make_estimator(E.reward_to_go(), B.time_loo_baseline(), name="loo")
    comp = [vt.make_estimator(E.reinforce(), name="r"), trainer]
    cfg = TrainConfig(steps=4, every=2, n=4, n_reps=64, return_episodes=50, warmup=0)
    a = train_and_measure(prob, trainer, comp, adam(0.1), cfg, seed=3)
    b = train_and_measure(prob, trainer, comp, adam(0.1), cfg, seed=3)
    wall = ["time_per_estimate"]  # wall time is the only non-deterministic column
    assert a.drop(columns=wall).equals(b.drop(columns=wall))
    assert list(a["step"].unique()) == [0, 2, 4]
    assert list(a["env_steps"].unique()) == [0, 2 * 4 * 4, 4 * 4 * 4]
    assert set(a["estimator"]) == {"r", "loo"}
    assert (a["variance_lo"] <= a["variance"]).all() and (a["variance"] <= a["variance_hi"]).all()
    with pytest.raises(ValueError, match="n_reps"):
        TrainConfig(steps=4, every=2, n=4, n_reps=0)
