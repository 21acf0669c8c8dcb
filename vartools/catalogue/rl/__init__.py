"""Reinforcement learning with time: episodic settings, exact oracles and estimators.

- ``policy``: softmax policies, tabular or linear in observations;
- ``mdp``: tabular MDPs, the reference MDP and exact dynamic programming (values,
  visitation, the policy gradient);
- ``episodes``: ``EpisodeLaw``, the law of a whole episode as a ``Distribution``;
- ``problems``: the named problem ``rl_mdp`` (the reference MDP at a horizon and theta);
- ``estimators``: REINFORCE, reward-to-go and GAE(lambda) base estimators;
- ``baselines``: state, time, leave-one-out, moving-average and optimal baselines;
- ``moments``: exact one-episode variances by dynamic programming over (t, s);
- ``cartpole``: CartPole-v1 dynamics in NumPy, vectorised over replicates.
"""
