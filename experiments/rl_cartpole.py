"""Policy-gradient variance along training on CartPole-v1 and Acrobot-v1 (linear softmax).

Setting (``vartools.catalogue.rl.gym``): gymnasium's classic-control tasks CartPole-v1 and
Acrobot-v1, simulated by vectorised NumPy dynamics that agree with gymnasium step by step
(``replay_in_gymnasium``; ``gym_check.csv`` records the check on 50 episodes of the
initial policy), 500-step limit (truncated episodes counted), linear-softmax
policy on (state, 1) from theta = 0. Training: Adam (lr 0.05) ascent of the expected
return with reward-to-go and the leave-one-out baseline across the n = 8 episodes of each
step. At checkpoints (every 20 steps of 100 for CartPole, every 15 of 60 for Acrobot) the
policy is frozen and the replicate variance (mean over the policy weights, fourth-moment
95% CI, 256 replicates of 8 episodes for CartPole and 128 for Acrobot, common random
numbers: every estimator sees the same episodes, hence exactly the same number of
environment steps; stateful baselines warmed up for 10 batches) is measured for

- ``reinforce`` (total return), ``rtg`` (reward-to-go),
- ``rtg+ema(t)``: a per-time-step moving average of the reward-to-go over earlier
  batches (decay 0.9), ``rtg+loo(t)``: leave-one-out across the 8 episodes,
- ``rtg+critic``: a linear critic on (state, 1) x (1, t/T, (t/T)^2) fitted by ridge
  regression to earlier batches (decay 0.9),

with the expected return (1000 episodes, standard error) and the fraction of truncated
episodes, against the environment steps consumed by training (``trajectories.csv``).
``summary.csv`` (the harness sweep) measures every estimator at the initial policy with
1000 replicates (stateful baselines warmed up for 5 batches).

Seeds: the training above (seed 0, the measured run) is repeated on 4 more seeds (root
seeds drawn from the seed-tree nodes (1983, "seed", s), s = 1..4), measuring at the same
checkpoints the expected return (1000 episodes) and the trainer's own variance (64
replicates instead of 256 / 128) only. ``seeds.csv``: the trainer's rows of the 5 seeds
(column ``seed``); ``seeds_summary.csv``: per (env, step) the mean return and environment
steps over the 5 seeds with a Student t 95% interval, and the trainer's variance on the log
scale (geometric mean).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from vartools.catalogue.rl.baselines import (
    fitted_critic_baseline,
    time_ema_baseline,
    time_loo_baseline,
)
from vartools.catalogue.rl.estimators import reinforce, reward_to_go
from vartools.catalogue.rl.gym import gym_problem, replay_in_gymnasium
from vartools.catalogue.rl.training import TrainConfig, train_and_measure
from vartools.core.optim import adam
from vartools.estimators.composed import Estimator, make_estimator
from vartools.harness.experiment import Experiment, Scale

__all__ = ["EXPERIMENT", "HYPERPARAMETERS", "SEEDS", "build_estimators", "figures", "tables"]

ENVS = ("CartPole-v1", "Acrobot-v1")
N_EPISODES = 8
SEED = 1983
FULL = {
    "CartPole-v1": TrainConfig(steps=100, every=20, n=N_EPISODES, n_reps=256, warmup=10),
    "Acrobot-v1": TrainConfig(steps=60, every=15, n=N_EPISODES, n_reps=128, warmup=10),
}
QUICK = {
    env: TrainConfig(steps=2, every=2, n=N_EPISODES, n_reps=16, return_episodes=20, warmup=2)
    for env in ENVS
}
GYM_CHECK_EPISODES = 50
#: Training seeds per scale (the measured run and the repeats), and the repeats' replicates.
SEEDS = {"full": (5, 64), "quick": (2, 8)}


def build_estimators() -> list[Estimator]:
    """The compared estimators (see the module docstring)."""
    mk = make_estimator
    return [
        mk(reinforce(), name="reinforce"),
        mk(reward_to_go(), name="rtg"),
        mk(reward_to_go(), time_ema_baseline(0.9), name="rtg+ema(t)"),
        mk(reward_to_go(), time_loo_baseline(), name="rtg+loo(t)"),
        mk(reward_to_go(), fitted_critic_baseline(0.9), name="rtg+critic"),
    ]


def trainer() -> Estimator:
    """The training estimator: reward-to-go with the leave-one-out baseline."""
    return make_estimator(reward_to_go(), time_loo_baseline(), name="rtg+loo(t)")


EXPERIMENT = Experiment(
    name="rl_cartpole",
    description=(
        "CartPole-v1 and Acrobot-v1 (NumPy dynamics checked against gymnasium), linear-softmax "
        "policy: variance of REINFORCE, reward-to-go and reward-to-go with moving-average, "
        "leave-one-out and fitted-critic baselines at the initial policy (summary.csv) and "
        "along Adam training against environment steps (trajectories.csv, from tables())"
    ),
    problem=gym_problem,
    points=[{"env_id": env} for env in ENVS],
    estimators=build_estimators(),
    n_samples=[N_EPISODES],
    n_reps=1000,
    seed=SEED,
    exact=False,
    warmup=5,
    quick=Scale(n_reps=32),
)


def tables(exp: Experiment, summary: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """``trajectories.csv`` (training with checkpoints) and ``gym_check.csv``."""
    configs = FULL if exp.scale == "full" else QUICK
    runs, checks = [], []
    for env in ENVS:
        prob = gym_problem(env)
        run = train_and_measure(
            prob, trainer(), build_estimators(), adam(0.05), configs[env], seed=exp.seed
        )
        run.insert(0, "env", env)
        runs.append(run)
        from vartools.core.rng import generator

        x = prob.dist.sample(GYM_CHECK_EPISODES, rng=generator(exp.seed, env, "gym_check"))
        check = replay_in_gymnasium(env, x)
        checks.append({"env": env, "episodes": GYM_CHECK_EPISODES, **check._asdict()})
    traj = pd.concat(runs, ignore_index=True)
    seeds = _seed_runs(exp, configs, traj)
    from vartools.measure.training import seed_summary

    summ = seed_summary(seeds, ["env", "step"], ["return_mean", "env_steps"])
    pos = seeds.groupby(["env", "step"])["variance"].transform("min") > 0  # log scale
    var = seed_summary(seeds[pos], ["env", "step"], ["variance"], log=True)
    var = var.drop(columns=["n_seeds"]).rename(columns={"interval": "variance_interval"})
    return {
        "trajectories": traj,
        "gym_check": pd.DataFrame(checks),
        "seeds": seeds,
        "seeds_summary": summ.merge(var, on=["env", "step"], how="left"),
    }


def _seed_runs(
    exp: Experiment, configs: Mapping[str, TrainConfig], traj: pd.DataFrame
) -> pd.DataFrame:
    """The trainer's rows of the measured run (seed 0) and of the repeated trainings."""
    import dataclasses

    import numpy as np

    from vartools.core.rng import seed_node

    runs, reps = SEEDS[exp.scale]
    name = trainer().name
    parts = [traj[traj["estimator"] == name].assign(seed=0)]
    for s in range(1, runs):
        root = int(seed_node(exp.seed, "seed", s).generate_state(1, np.uint32)[0])
        for env in ENVS:
            cfg = dataclasses.replace(configs[env], n_reps=reps)
            run = train_and_measure(
                gym_problem(env), trainer(), [trainer()], adam(0.05), cfg, seed=root
            )
            run.insert(0, "env", env)
            parts.append(run.assign(seed=s))
    keep = ["env", "seed", "trainer", "step", "env_steps", "train_truncated", "estimator"]
    keep += ["n", "variance", "variance_lo", "variance_hi", "n_reps", "return_mean", "return_se"]
    keep += ["truncated_fraction", "mean_length"]
    return pd.concat(parts, ignore_index=True)[keep]


# ------------------------------------------------------------------------------ figures

MARKS = {"reinforce": "o", "rtg": "s", "rtg+ema(t)": "v", "rtg+loo(t)": "^", "rtg+critic": "D"}


def figures(summary: pd.DataFrame, extra: Mapping[str, Any], out_dir: str | Path) -> list[Path]:
    """Return and gradient variance per estimator against environment steps, per task."""
    from matplotlib.figure import Figure

    from vartools.plots.helpers import errorbar_ci
    from vartools.plots.style import estimator_colors, save_figure

    traj = extra.get("trajectories")
    if traj is None:
        return []
    fig = Figure(figsize=(11, 7), layout="constrained")
    axes = fig.subplots(2, 2, sharex="col", height_ratios=[1, 2.2])
    for col, env in enumerate(ENVS):
        part = traj[traj["env"] == env]
        ret = part.drop_duplicates("step").sort_values("step")
        ax = axes[0, col]
        ax.errorbar(
            ret["env_steps"],
            ret["return_mean"],
            yerr=1.96 * ret["return_se"],
            fmt="o-",
            color="k",
            ms=3,
            lw=1,
            label="measured run (seed 0), 95% CI",
        )
        seeds = extra.get("seeds_summary")
        if seeds is not None:
            sd = seeds[seeds["env"] == env].sort_values("step")
            color = estimator_colors(["rtg+loo(t)"])["rtg+loo(t)"]
            ax.plot(sd["env_steps_mean"], sd["return_mean_mean"], "--", color=color, lw=1.2)
            ax.fill_between(
                sd["env_steps_mean"],
                sd["return_mean_lo"],
                sd["return_mean_hi"],
                color=color,
                alpha=0.2,
                lw=0,
                label=f"{int(sd['n_seeds'].max())} seeds: mean, 95% t band (x: mean env steps)",
            )
        # where neither the curves nor the truncated fraction (dotted) run
        ax.legend(fontsize=7, loc="lower right" if col == 0 else "center right", framealpha=0.9)
        ax.set_ylabel("expected return")
        ax.set_title(
            f"{env}: trained with rtg+loo(t), {N_EPISODES} episodes/step, Adam 0.05", fontsize=9
        )
        ax.grid(alpha=0.3)
        tw = ax.twinx()
        tw.plot(ret["env_steps"], ret["truncated_fraction"], ":", color="0.6")
        tw.set_ylabel("fraction truncated at 500 steps", color="0.45", fontsize=8)
        tw.set_ylim(-0.05, 1.05)
        ax = axes[1, col]
        colors = estimator_colors(MARKS)
        for name, mark in MARKS.items():
            color = colors[name]
            m = part[part["estimator"] == name].sort_values("step")
            ax.plot(m["env_steps"], m["variance"], "-", color=color, lw=0.8)
            errorbar_ci(ax, m, "env_steps", fmt=mark, mfc="none", color=color, label=name, ms=4)
        ax.set_yscale("log")
        ax.set_xlabel("environment steps used by training")
        ax.set_ylabel(f"variance ({N_EPISODES} episodes), mean over weights")
        ax.set_title(f"{int(part['n_reps'].iloc[0])} replicates per marker", fontsize=8)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, frameon=False)
    fig.suptitle(
        "Gradient variance along training at frozen policies (markers: replicate variance, "
        "95% CI; at a checkpoint every estimator uses the same episodes)",
        fontsize=10,
    )
    return save_figure(fig, Path(out_dir) / "training")


#: The training set-up, machine readable (``experiments._training_grid.HYPERPARAMETER_KEYS``):
#: CartPole's (Acrobot: 60 steps, checkpoints every 15, 128 replicates).
HYPERPARAMETERS = {
    "trainer": "rtg+loo(t) (reward-to-go, leave-one-out baseline)",
    "samples_per_step": N_EPISODES,
    "batch_size": None,  # episodes, not a data set: samples_per_step
    "optimizer": "adam",
    "learning_rate": 0.05,
    "lr_schedule": "constant",
    "steps": FULL["CartPole-v1"].steps,
    "checkpoint_every": FULL["CartPole-v1"].every,
    "n_reps": FULL["CartPole-v1"].n_reps,
    "ema_decay": 0.9,  # rtg+ema(t) and rtg+critic
    "warmup_batches": FULL["CartPole-v1"].warmup,
    "seeds": SEEDS["full"][0],
    "seed_root": SEED,
}
