"""The jit-compiled kernels of a JAX model: vmap over rows, grad and VJPs over parameters.

The user writes functions of *one* outcome and a parameter pytree; here they are
vectorised over rows of samples (``jax.vmap``) and differentiated with respect to the
parameters (``jax.grad``, ``jax.vjp``), and the parameter gradients are flattened into
the columns of theta (leaves in ``jax.tree_util`` order, each leaf raveled):

Every kernel also takes the model's context (``ctx``: data the functions read but do not
differentiate, e.g. a minibatch) right after the parameters.

- ``transform(params, noise (m, *noise)) -> x (m, *event)``;
- ``log_prob(params, x (m, *event)) -> (m,)``;
- ``score(params, x (m, *event)) -> ((m,), (m, p))``: log p(x_i) and the per-sample
  scores grad_theta log p(x_i) (the values come free with the gradients and reveal
  outcomes outside the support, where log p = -inf);
- ``score_dot(params, x (r, n, *event), w (r, n)) -> ((r,), (r, p))``: for each replicate,
  sum_i w_i log p(x_i) (non-finite exactly when some log p(x_i) is) and the
  gradient of the surrogate sum_i w_i log p(x_i; theta) with the weights held fixed, one
  reverse pass per replicate, which equals sum_i w_i score(x_i) without ever holding the
  (r, n, p) per-sample gradients (the contraction is done by the backward pass);
- ``transform_vjp(params, noise (m, *noise), cot (m, *event)) -> (m, p)``: per-sample
  cot_i . dx_i/dtheta, the pathwise terms for cot = grad_x f;
- ``logits(params) -> logits`` and ``logits_vjp(params, cot (m, *logits)) -> (m, p)``
  for models that say which factorised Bernoulli / Categorical logits they sample from.

The kernels are built once per model (``Kernels.build``) and shared by every parameter
value (``with_params``): parameters are arguments of the compiled functions, never
constants folded into them, so moving theta never recompiles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vartools.jax._compat import require_jax

__all__ = ["Kernels"]


def _ravel_rows(tree: Any, m: int) -> Any:
    """A pytree of (m, *leaf) arrays as one (m, p) array (leaves in flattening order)."""
    jax = require_jax()
    jnp = jax.numpy
    leaves = jax.tree_util.tree_leaves(tree)
    return jnp.concatenate([leaf.reshape(m, -1) for leaf in leaves], axis=1)


@dataclass(frozen=True)
class Kernels:
    """The compiled functions of one model (see the module docstring for their shapes)."""

    transform: Callable[..., Any]
    log_prob: Callable[..., Any]
    score: Callable[..., Any]
    score_dot: Callable[..., Any]
    transform_vjp: Callable[..., Any]
    logits: Callable[..., Any] | None
    logits_vjp: Callable[..., Any] | None

    @classmethod
    def build(
        cls,
        log_prob: Callable[..., Any],
        transform: Callable[..., Any],
        logits: Callable[..., Any] | None = None,
        *,
        context: bool = False,
    ) -> Kernels:
        """Vectorise and differentiate the user's single-outcome functions, under jit.

        Every kernel takes ``(params, ctx, *arrays)``; ``ctx`` is the model's context
        (data the functions read but do not differentiate: a minibatch, decoder weights),
        passed to the user's functions as their last argument when ``context`` is True,
        and ignored (None) otherwise.
        """
        jax = require_jax()
        jnp = jax.numpy
        if context:
            lp, tf, lg = log_prob, transform, logits
        else:
            lp = lambda p, x, c: log_prob(p, x)  # noqa: E731
            tf = lambda p, e, c: transform(p, e)  # noqa: E731
            lg = None if logits is None else (lambda p, c: logits(p))  # noqa: E731
        vlp = jax.vmap(lp, in_axes=(None, 0, None))

        def log_prob_rows(params: Any, ctx: Any, x: Any) -> Any:
            return vlp(params, x, ctx)

        def transform_rows(params: Any, ctx: Any, e: Any) -> Any:
            return jax.vmap(tf, in_axes=(None, 0, None))(params, e, ctx)

        def score(params: Any, ctx: Any, x: Any) -> Any:
            value_grad = jax.vmap(jax.value_and_grad(lp), in_axes=(None, 0, None))
            v, g = value_grad(params, x, ctx)
            return v, _ravel_rows(g, x.shape[0])

        def score_dot(params: Any, ctx: Any, x: Any, w: Any) -> Any:
            def one(xs: Any, ws: Any) -> Any:
                return jax.value_and_grad(lambda p: jnp.sum(ws * vlp(p, xs, ctx)))(params)

            v, g = jax.vmap(one)(x, w)
            return v, _ravel_rows(g, x.shape[0])

        def transform_vjp(params: Any, ctx: Any, noise: Any, cot: Any) -> Any:
            def one(e: Any, c: Any) -> Any:
                _, pull = jax.vjp(lambda p: tf(p, e, ctx), params)
                return pull(c)[0]

            return _ravel_rows(jax.vmap(one)(noise, cot), noise.shape[0])

        logits_k = logits_vjp = None
        if lg is not None:
            logits_k = jax.jit(lg)

            def lvjp(params: Any, ctx: Any, cot: Any) -> Any:
                def one(c: Any) -> Any:
                    return jax.vjp(lambda p: lg(p, ctx), params)[1](c)[0]

                return _ravel_rows(jax.vmap(one)(cot), cot.shape[0])

            logits_vjp = jax.jit(lvjp)

        return cls(
            transform=jax.jit(transform_rows),
            log_prob=jax.jit(log_prob_rows),
            score=jax.jit(score),
            score_dot=jax.jit(score_dot),
            transform_vjp=jax.jit(transform_vjp),
            logits=logits_k,
            logits_vjp=logits_vjp,
        )
