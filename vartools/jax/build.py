"""``distribution(...)``: build a vartools ``Distribution`` from JAX functions.

Example:
    >>> import jax, jax.numpy as jnp, numpy as np
    >>> def log_prob(params, x):      # one outcome x of shape (3,)
    ...     lg = params["logits"]
    ...     return jnp.sum(x * lg - jnp.logaddexp(0.0, lg))
    >>> def transform(params, u):     # inverse CDF of one uniform per coordinate
    ...     return (u > jax.nn.sigmoid(-params["logits"])).astype(u.dtype)
    >>> dist = distribution({"logits": np.array([0.3, -1.1, 0.8])}, log_prob, transform,
    ...                     event_shape=(3,), noise="uniform")
    >>> dist.param_names
    ('logits[0]', 'logits[1]', 'logits[2]')
    >>> dist.score(dist.sample(4, rng=np.random.default_rng(0), reps=(2,))).shape
    (2, 4, 3)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from vartools.core.validation import short_repr
from vartools.jax._compat import require_jax, x64
from vartools.jax.checks import as_param_tree, check_log_prob, check_transform, probe_noise
from vartools.jax.distribution import JaxDistribution, _map_floats
from vartools.jax.model import JaxModel
from vartools.jax.names import tree_blocks
from vartools.jax.noise import parse_noise

__all__ = ["distribution"]


def _shape(value: Any, name: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in value)
    except TypeError as exc:
        raise TypeError(f"{name} must be a tuple of ints, got {short_repr(value)}") from exc
    if any(s < 1 for s in shape):
        raise ValueError(f"{name} must hold positive ints, got {shape}")
    return shape


def distribution(
    params: Any,
    log_prob: Callable[..., Any],
    transform: Callable[..., Any],
    *,
    event_shape: Any,
    noise: Any = "uniform",
    noise_shape: Any = None,
    reparameterized: bool = False,
    support: Any = None,
    logits: Callable[..., Any] | None = None,
    logits_kind: str | None = None,
    context: Any = None,
) -> JaxDistribution:
    """A vartools ``Distribution`` from JAX functions of a parameter pytree.

    The functions take *one* outcome (vartools vectorises them with ``jax.vmap`` and
    compiles them with ``jax.jit``). theta is the flattened pytree, named
    ``block[i,j]`` per leaf (``vartools.jax.names``).

    Args:
        params: the parameter pytree (dicts, lists, tuples of float arrays).
        log_prob: ``(params, x) -> scalar`` log p(x; params) for one outcome x of shape
            ``event_shape``; differentiable in params (its ``jax.grad`` is the score).
        transform: ``(params, noise) -> x``: the sampler, as a function of the noise of one
            sample (inverse CDF of uniforms for discrete outcomes, x = loc + scale e for a
            normal, ...). The noise is drawn by NumPy from vartools' generators.
        event_shape: shape of one outcome x.
        noise: ``"uniform"``, ``"normal"`` or segments ``[(kind, size), ...]`` over the
            flattened noise of one sample (``vartools.jax.noise``).
        noise_shape: shape of one sample's noise (default ``event_shape``; samplers other
            than iid need them equal).
        reparameterized: ``transform`` is differentiable in params, which enables the
            pathwise estimator (per-sample VJPs through transform).
        support: every outcome, (M, *event_shape), for exact enumeration oracles; the
            probabilities exp(log_prob) must sum to one.
        logits: ``params -> logits`` of the factorised Bernoulli (shape ``event_shape``)
            or Categorical (shape (*event_shape, K)) the model samples from, when it is
            one (e.g. a VAE encoder); enables ARM, DisARM, local expectation and
            relaxations through ``vartools.jax.via_logits``.
        logits_kind: ``"bernoulli"`` or ``"categorical"``, with ``logits``.
        context: data the functions read but theta does not include (a minibatch, frozen
            weights), any pytree of arrays; the functions then take it as their last
            argument (``log_prob(params, x, context)``, ``transform(params, noise,
            context)``, ``logits(params, context)``) and ``dist.with_context(new)`` swaps
            it without recompiling (same shapes).

    Returns:
        A ``JaxDistribution`` at theta = the flattened ``params``.

    Raises:
        ValueError, TypeError: named errors for a wrong shape, dtype or non-finite value
            returned by a function, a pytree that does not match the functions, a
            non-differentiable log_prob, or a sampler that leaves the support
            (``vartools.jax.checks``).
    """
    jax = require_jax()
    for name, fn in (("log_prob", log_prob), ("transform", transform)):
        if not callable(fn):
            raise TypeError(f"{name} must be a JAX function, got {short_repr(fn)}")
    tree = as_param_tree(params)
    blocks = tuple(tree_blocks(tree))
    ctx = None if context is None else _map_floats(context, np.float64)
    lp_, tf_, lg_ = log_prob, transform, logits
    if ctx is not None:  # the checks call the functions of (params, x) alone
        lp_ = lambda p, x: log_prob(p, x, ctx)  # noqa: E731
        tf_ = lambda p, e: transform(p, e, ctx)  # noqa: E731
        lg_ = None if logits is None else (lambda p: logits(p, ctx))  # noqa: E731
    ev = _shape(event_shape, "event_shape")
    ns = ev if noise_shape is None else _shape(noise_shape, "noise_shape")
    spec = parse_noise(noise, ns)
    probes = probe_noise(spec, ns)
    xs, kind = check_transform(tf_, tree, probes, ev, blocks)
    check_log_prob(lp_, tree, xs, blocks)
    if reparameterized:
        _check_reparameterized(tf_, tree, probes, kind, blocks)
    support_x = None
    if support is not None:
        support_x = np.asarray(support)
        if support_x.ndim != 1 + len(ev) or support_x.shape[1:] != ev:
            raise ValueError(
                f"support must list outcomes with shape (M, *event_shape) = (M, *{ev}), got "
                f"shape {support_x.shape}"
            )
    if (logits is None) != (logits_kind is None):
        raise ValueError("pass logits and logits_kind together ('bernoulli' or 'categorical')")
    if logits_kind is not None:
        _check_logits(lg_, logits_kind, tree, ev)
    model = JaxModel(
        log_prob=log_prob,
        transform=transform,
        template=tree,
        blocks=blocks,
        event_shape=ev,
        noise_shape=ns,
        noise=spec,
        outcome_kind=kind,
        reparameterized=bool(reparameterized),
        support_x=support_x,
        logits=logits,
        logits_kind=logits_kind,
        has_context=ctx is not None,
    )
    leaves = jax.tree_util.tree_leaves(tree)
    dist = JaxDistribution(model, np.concatenate([np.ravel(v) for v in leaves]), ctx)
    if support_x is not None:
        dist.support(budget=max(1, support_x.shape[0]))  # probabilities sum to one
    return dist


def _check_reparameterized(
    transform: Callable[..., Any], tree: Any, probes: np.ndarray, kind: str, blocks: Any
) -> None:
    jax = require_jax()
    if kind != "float":
        raise TypeError(
            f"reparameterized=True needs a transform with float outcomes (differentiable in "
            f"params), but it returns {kind} outcomes; use the score function instead"
        )
    with x64(True):
        try:
            jax.grad(lambda p: transform(p, jax.numpy.asarray(probes[0])).sum())(tree)
        except Exception as exc:  # noqa: BLE001 - re-raised with the context
            names = [name for name, _ in blocks]
            raise ValueError(
                f"reparameterized=True but transform is not differentiable in params (blocks "
                f"{names}): jax.grad failed with {type(exc).__name__}: {exc}"
            ) from exc


def _check_logits(logits: Any, kind: str, tree: Any, ev: tuple[int, ...]) -> None:
    if kind not in ("bernoulli", "categorical"):
        raise ValueError(f"logits_kind must be 'bernoulli' or 'categorical', got {kind!r}")
    if not callable(logits):
        raise TypeError(f"logits must be a JAX function of params, got {short_repr(logits)}")
    with x64(True):
        lg = np.asarray(logits(tree))
    ok = lg.shape == ev if kind == "bernoulli" else (lg.shape[:-1] == ev and lg.ndim == len(ev) + 1)
    if not ok:
        want = ev if kind == "bernoulli" else (*ev, "K")
        raise ValueError(
            f"logits(params) returned shape {lg.shape}; a {kind} model with event_shape {ev} "
            f"needs logits of shape {want}"
        )
