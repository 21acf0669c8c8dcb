"""Discrete distributions sampled by the inverse CDF of uniforms.

- ``bernoulli``: ``Bernoulli`` (independent Bernoullis, theta = logits);
- ``categorical``: ``Categorical`` (independent categoricals, theta = flattened logits).

Their common base is ``vartools.distributions.uniform_noise.UniformNoise`` (the noise
is a uniform on [0, 1) per coordinate of the event). Both are enumerable
(``support(budget)``) with analytic scores and implement the capabilities
(``vartools.core.capabilities``) ``param_coordinates``, ``local_expectation``,
``relaxation``, ``conditional_relaxation`` (REBAR's z, z~ | b) and
``one_hot_factorised``; Bernoulli also ``coupled_pairs`` (the ARM pair). The relaxation
helpers they share are in ``_relax``.
"""

__all__: list[str] = []
