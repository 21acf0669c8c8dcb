"""Distributions with analytic scores, vectorised over leading replicate axes.

Shapes (DESIGN.md): ``sample(n, rng=..., reps=R)`` returns ``(*R, n, *event)``;
``log_prob(x)`` returns ``(*R, n)``; ``score(x)`` returns ``(*R, n, p)`` where
``p`` is the length of the flat parameter vector ``theta`` (``params``), whose
entries are named by ``param_names`` (``"loc[0]"``, ``"logits[2,1]"``...).

Every distribution samples through a *noise* variable of shape
``(*R, n, *event)``: a uniform on [0, 1) turned into an outcome by the inverse
CDF for the discrete ones, a standard normal for ``Normal``. Samplers (iid,
antithetic, stratified, quasi-Monte Carlo; see ``vartools.sampling``) produce
uniforms and call ``noise_from_uniform``; ``sample`` equals
``transform(sample_noise(...))`` under the same ``rng``.

Example:
    >>> import numpy as np
    >>> d = Bernoulli(logits=[0.0, 1.0])
    >>> d.param_names
    ('logits[0]', 'logits[1]')
    >>> d.sample(3, rng=np.random.default_rng(0), reps=(5,)).shape
    (5, 3, 2)
"""

from vartools.distributions.base import DEFAULT_SUPPORT_BUDGET, Distribution
from vartools.distributions.base import _float_of as _float_of
from vartools.distributions.base import _index_names as _index_names
from vartools.distributions.base import _noise_dtype as _noise_dtype
from vartools.distributions.discrete import Bernoulli, Categorical, UniformNoise
from vartools.distributions.discrete import _check_budget as _check_budget
from vartools.distributions.normal import Normal

__all__ = [
    "Bernoulli",
    "Categorical",
    "Distribution",
    "Normal",
    "UniformNoise",
    "DEFAULT_SUPPORT_BUDGET",
]
