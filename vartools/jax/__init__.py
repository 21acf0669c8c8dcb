"""The optional JAX path: bring your own model as JAX functions (extra ``vartools[jax]``).

Write ``log_prob(params, x)`` and a sampler ``transform(params, noise)`` for one outcome
and ``f(x)`` as JAX functions of a parameter pytree; vartools turns them into a
``Distribution`` and a ``Problem`` on which every base estimator, control variate,
sampler, ``measure_variance`` and the harness work unchanged:

- theta is the flattened pytree, coordinates named ``encoder.w1[3,4]``;
- scores come from a jit-compiled ``vmap(grad(log_prob))``, and the estimate of a
  score-function batch from one VJP per replicate (the gradient of
  sum_i w_i log p(x_i)), never holding the (R, n, p) per-sample scores unless a control
  variate asks for them;
- pathwise terms come from a VJP through ``transform`` (``reparameterized=True``);
- enumeration (``support=``) and the factorised logits (``logits=``, for ARM, DisARM,
  local expectation and relaxations through ``via_logits``) where the model has them;
- the noise is drawn by NumPy from vartools' seed tree, so results equal the native
  distributions' under the same seeds and do not depend on the executor.

Importing ``vartools`` never imports JAX; ``import vartools.jax`` does, and fails with a
message naming ``pip install "vartools[jax]"`` when JAX is missing.

Example:
    >>> import jax, jax.numpy as jnp, numpy as np, vartools as vt
    >>> import vartools.jax as vj
    >>> def log_prob(params, x):
    ...     return jnp.sum(x * params["logits"] - jnp.logaddexp(0.0, params["logits"]))
    >>> def transform(params, u):
    ...     return (u > jax.nn.sigmoid(-params["logits"])).astype(u.dtype)
    >>> dist = vj.distribution({"logits": np.zeros(3)}, log_prob, transform, event_shape=(3,))
    >>> prob = vj.problem("bern3", dist, lambda x: jnp.sum((x - 0.45) ** 2))
    >>> est = vt.make_estimator(vt.score_function, vt.loo_baseline())
    >>> est(prob, 4, rng=np.random.default_rng(0), reps=(5,))[0].shape
    (5, 3)
"""

from vartools.jax._compat import JAX_MISSING, require_jax

require_jax()  # a clear ImportError naming the extra before anything else is imported

from vartools.jax.build import distribution  # noqa: E402
from vartools.jax.distribution import JaxDistribution  # noqa: E402
from vartools.jax.model import JaxModel  # noqa: E402
from vartools.jax.names import tree_blocks  # noqa: E402
from vartools.jax.problem import JaxFunction, at, problem, via_logits  # noqa: E402

__all__ = [
    "JAX_MISSING",
    "JaxDistribution",
    "JaxFunction",
    "JaxModel",
    "at",
    "distribution",
    "problem",
    "tree_blocks",
    "via_logits",
]
