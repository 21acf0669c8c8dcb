"""Reinforcement learning with time: episodic settings, exact oracles and estimators.

- ``policy``: softmax policies, tabular or linear in observations;
- ``mdp``: tabular MDPs, the reference MDP and exact dynamic programming (values,
  visitation, the policy gradient, the optimal state baseline);
- ``episodes``: ``EpisodeLaw``, the law of a whole episode as a ``Distribution``;
- ``problems``: the named problem ``rl_mdp`` (the reference MDP at a horizon and theta);
- ``estimators``: REINFORCE, reward-to-go and GAE(lambda) base estimators, critics;
- ``baselines``: state, critic, optimal, leave-one-out and moving-average baselines;
- ``moments`` and ``oracle``: exact one-episode moments by dynamic programming over (t, s);
- ``named``: the estimators registered by name (``vartools.catalogue.registry``);
- ``cartpole``, ``acrobot``: classic-control dynamics in NumPy, vectorised over replicates;
- ``gym``: their problems and the step-by-step check against gymnasium (optional);
- ``training``: policy-gradient training with variances measured at checkpoints.
"""
