"""Problems from JAX functions: a vectorised ``f`` with its gradient, and the logits chain rule.

- ``JaxFunction(fn, event_shape)``: ``fn`` takes one outcome and returns a scalar; the
  object is the vectorised NumPy-facing f of a ``Problem`` ((*R, n, *event) -> (*R, n),
  by a jit-compiled ``jax.vmap``) and ``grad`` is df/dx (same shape as x) for the
  pathwise estimator.
- ``problem(name, dist, f)``: the ``Problem`` of a ``JaxDistribution`` (or any
  distribution with float or integer outcomes) and a JAX ``f``, with named errors for an
  f returning the wrong shape, dtype or a non-finite value.
- ``via_logits(base)``: a base estimator of the gradient with respect to theta from one
  of the gradient with respect to the logits of the factorised Bernoulli / Categorical
  the model declares (``logits=`` in ``vartools.jax.distribution``): ``base`` (ARM,
  DisARM, local expectation, straight-through, Gumbel-softmax, ...) runs on the native
  distribution over the logits and its per-sample terms are pulled back to theta by a
  VJP of ``logits(params)``; unbiasedness and the f-evaluation count carry over.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from vartools.core.batch import Batch
from vartools.core.distribution import Distribution
from vartools.core.problem import Problem
from vartools.estimators.base import BaseEstimator, chain_rule_estimator
from vartools.jax._compat import require_jax, x64
from vartools.jax.checks import check_f, probe_noise
from vartools.jax.distribution import JaxDistribution, _map_floats, _pad, bucket

__all__ = ["JaxFunction", "at", "problem", "via_logits"]


@dataclass(frozen=True, eq=False)
class JaxFunction:
    """A JAX function of one outcome, vectorised for vartools: (*R, n, *event) -> (*R, n).

    Computes in float32 for float32 outcomes, else in float64 (JAX's 64-bit mode scoped
    to the call); returns float64 NumPy arrays. Pickles when ``fn`` does.

    Args:
        fn: ``x (*event) -> scalar``, a JAX function (``(x, context) -> scalar`` with a
            context).
        event_shape: shape of one outcome.
        context: data f reads besides x (a minibatch, decoder weights), or None;
            ``with_context`` swaps it without recompiling (same shapes).
        cache: the compiled functions, shared by every ``with_context`` copy.
    """

    fn: Callable[..., Any]
    event_shape: tuple[int, ...]
    context: Any = None
    cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def with_context(self, context: Any) -> JaxFunction:
        """The same function (and compiled code) with another context."""
        if self.context is None:
            raise TypeError("this JaxFunction was built without a context")
        return replace(self, context=_map_floats(context, np.float64))

    def _jitted(self) -> tuple[Any, Any]:
        k = self.cache.get("k")
        if k is None:
            jax = require_jax()
            fn = self.fn if self.context is not None else (lambda x, c: self.fn(x))
            k = (
                jax.jit(jax.vmap(fn, in_axes=(0, None))),
                jax.jit(jax.vmap(jax.grad(fn), in_axes=(0, None))),
            )
            self.cache["k"] = k
        return k

    def _ctx(self, single: bool) -> Any:
        if self.context is None:
            return None
        return _map_floats(self.context, np.float32 if single else np.float64)

    def _rows(self, x: Any) -> tuple[np.ndarray, tuple[int, ...], bool]:
        x = np.asarray(x)
        ev = self.event_shape
        if x.ndim < 1 + len(ev) or x.shape[x.ndim - len(ev) :] != ev:
            raise ValueError(f"x must have shape (*R, n, *{ev}), got shape {x.shape}")
        lead = x.shape[: x.ndim - len(ev)]
        single = x.dtype == np.float32
        rows = x.reshape(math.prod(lead), *ev)
        if single is False and np.issubdtype(x.dtype, np.integer):
            rows = rows.astype(np.int64, copy=False)
        return rows, lead, single

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """f of every outcome, (*R, n) float64."""
        rows, lead, single = self._rows(x)
        m = rows.shape[0]
        with x64(not single):
            out = self._jitted()[0](_pad(rows, bucket(m)), self._ctx(single))
            out = np.asarray(out, dtype=np.float64)
        return out[:m].reshape(lead)

    def grad(self, x: np.ndarray) -> np.ndarray:
        """df/dx of every outcome, the shape of x, float64."""
        rows, lead, single = self._rows(x)
        if not np.issubdtype(rows.dtype, np.floating):
            raise TypeError(f"df/dx needs float outcomes, got dtype {rows.dtype}")
        m = rows.shape[0]
        with x64(not single):
            out = self._jitted()[1](_pad(rows, bucket(m)), self._ctx(single))
            out = np.asarray(out, dtype=np.float64)
        return out[:m].reshape(*lead, *self.event_shape)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["cache"] = {}  # compiled functions do not pickle; rebuilt on first use
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


def _probe_outcomes(dist: Distribution) -> np.ndarray:
    if isinstance(dist, JaxDistribution):
        noise = probe_noise(dist.model.noise, dist.model.noise_shape)
    else:
        u = (np.arange(4)[:, None] + 0.5 + 0.381966 * np.arange(max(1, dist.n_params))) / 4 % 1
        shape = (4, *dist.event_shape)
        noise = dist.noise_from_uniform(
            u[:, : int(np.prod(shape[1:], dtype=np.int64))].reshape(shape)
        )
    return dist.transform(noise[None])[0]


def problem(
    name: str,
    dist: Distribution,
    f: Callable[..., Any],
    *,
    context: Any = None,
    description: str = "",
) -> Problem:
    """The ``Problem`` grad_theta E_{x ~ dist}[f(x)] for a JAX ``f`` of one outcome.

    Args:
        name: label used in tables.
        dist: a ``JaxDistribution`` (``vartools.jax.distribution``) or a native one.
        f: ``x (*event) -> scalar``, a JAX function (vectorised and compiled here; its
            ``jax.grad`` is df/dx for the pathwise estimator).
        context: data f reads besides x (then ``f(x, context)``), or None.
        description: free text for tables and metadata.

    Returns:
        A ``Problem`` whose f is a ``JaxFunction`` (``at`` moves it to new parameters
        and contexts without recompiling).

    Raises:
        ValueError, TypeError: when f fails, or returns a non-scalar, a non-real dtype or a
            non-finite value on outcomes of dist.
    """
    require_jax()
    if not callable(f):
        raise TypeError(f"f must be a JAX function of one outcome, got {f!r}")
    ctx = None if context is None else _map_floats(context, np.float64)
    check_f(f if ctx is None else (lambda x: f(x, ctx)), _probe_outcomes(dist))
    fn = JaxFunction(f, tuple(dist.event_shape), ctx)
    return Problem(name, dist, fn, grad_f=fn.grad, description=description)


def at(
    prob: Problem,
    theta: Any = None,
    *,
    context: Any = None,
    f_context: Any = None,
) -> Problem:
    """``prob`` with new parameters, distribution context and f context (no recompiling).

    Args:
        prob: a problem from ``problem`` on a ``JaxDistribution``.
        theta: new flat parameters (p,), or None to keep them.
        context: the distribution's new context, or None to keep it.
        f_context: f's new context, or None to keep it.

    Returns:
        The moved problem; its compiled kernels are shared with ``prob``'s.
    """
    dist = prob.dist
    if not isinstance(dist, JaxDistribution) or not isinstance(prob.f, JaxFunction):
        raise TypeError(f"problem {prob.name!r} was not built by vartools.jax.problem")
    if theta is not None:
        dist = dist.with_params(theta)
    if context is not None:
        dist = dist.with_context(context)
    f = prob.f if f_context is None else prob.f.with_context(f_context)
    return replace(prob, dist=dist, f=f, grad_f=f.grad)


def _logit_problem(prob: Problem) -> Problem:
    dist = prob.dist
    if not isinstance(dist, JaxDistribution):
        raise TypeError(f"problem {prob.name!r} is not defined by a JAX model")
    return replace(prob, name=prob.name + "[logits]", dist=dist.logit_distribution())


def _to_theta(batch: Batch, prob: Problem) -> Batch:
    dist = prob.dist
    assert isinstance(dist, JaxDistribution)
    return Batch(
        x=batch.x,
        fx=batch.fx,
        score=None if not batch.has_score else dist.logits_vjp(np.asarray(batch.score)),
        extra=dist.logits_vjp(batch.terms),
        n_evals=batch.n_evals,
        noise=batch.noise,
        independent=batch.independent,
        info=batch.info,
    )


def via_logits(base: BaseEstimator) -> BaseEstimator:
    """``base`` on the model's factorised logits, pulled back to theta by a VJP (chain rule).

    grad_theta = (d logits / d theta)^T grad_logits, applied to every per-sample term (and
    score), so unbiasedness and the f-evaluation count of ``base`` carry over. The model
    must declare ``logits`` (``vartools.jax.distribution(..., logits=..., logits_kind=...)``)
    and sample x from them by the native inverse CDF, so that the same noise gives the
    same outcomes.
    """
    return chain_rule_estimator(
        base,
        _logit_problem,
        _to_theta,
        doc=f"{base.name} on a JAX model's logits, pulled back to its parameters (VJP).",
    )
