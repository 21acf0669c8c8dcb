"""Distributions with analytic scores, vectorised over leading replicate axes.

Shapes (DESIGN.md): ``sample(n, rng=..., reps=R)`` returns ``(*R, n, *event)``;
``log_prob(x)`` returns ``(*R, n)``; ``score(x)`` returns ``(*R, n, p)`` where
``p`` is the length of the flat parameter vector ``theta`` (``params``), whose
entries are named by ``param_names`` (``"loc[0]"``, ``"logits[2,1]"``...).

Every distribution samples through a *noise* variable of shape
``(*R, n, *event)``: a uniform on [0, 1) turned into an outcome by the inverse
CDF for the discrete ones, a standard normal for ``Normal``. Samplers (iid,
antithetic, stratified, quasi-Monte Carlo; see ``vartools.samplers.sampling``) produce
uniforms and call ``noise_from_uniform``; ``sample`` equals
``transform(sample_noise(...))`` under the same ``rng``.

Example:
    >>> import numpy as np
    >>> from vartools.distributions.discrete.bernoulli import Bernoulli
    >>> d = Bernoulli(logits=[0.0, 1.0])
    >>> d.param_names
    ('logits[0]', 'logits[1]')
    >>> d.sample(3, rng=np.random.default_rng(0), reps=(5,)).shape
    (5, 3, 2)
"""

__all__: list[str] = []
