"""Named errors for user-written JAX functions, checked once when a model is built.

Every check calls the user's function on a few deterministic probe inputs (no random
draws) and raises a ``ValueError`` or ``TypeError`` that names the function or
argument, shows what was wrong and says how to fix it:

- a parameter pytree with non-float or non-finite leaves, or one that does not match
  what ``log_prob`` / ``transform`` read (the call fails);
- ``transform`` returning the wrong shape or dtype, or a non-finite outcome;
- ``log_prob`` returning something other than a floating scalar, a non-finite value at
  an outcome ``transform`` produced (the sampler leaves the support), or failing under
  ``jax.grad`` (not differentiable in params);
- ``f`` returning something other than a real scalar, or a non-finite value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from vartools.core.validation import short_repr
from vartools.jax._compat import require_jax, x64
from vartools.jax.noise import Spec, noise_from_uniform

__all__ = ["as_param_tree", "check_f", "check_log_prob", "check_transform", "probe_noise"]

#: Probe inputs per check.
PROBES = 4


def as_param_tree(params: Any) -> Any:
    """The parameter pytree with float64 NumPy leaves, refusing non-float or non-finite ones."""
    jax = require_jax()
    from vartools.jax.names import path_name

    leaves, treedef = jax.tree_util.tree_flatten_with_path(params)
    if not leaves:
        raise ValueError(
            f"params must be a pytree with at least one array leaf, got {short_repr(params)}"
        )
    out = []
    for path, leaf in leaves:
        name = path_name(tuple(path))
        arr = np.asarray(leaf)
        if not np.issubdtype(arr.dtype, np.floating):
            raise TypeError(
                f"params leaf {name!r} has dtype {arr.dtype}; parameters must be real floating "
                "arrays (gradients are taken with respect to them), e.g. jnp.zeros(3)"
            )
        if not np.isfinite(arr).all():
            raise ValueError(f"params leaf {name!r} holds a NaN or infinite value")
        out.append(np.array(arr, dtype=np.float64))
    return jax.tree_util.tree_unflatten(treedef, out)


def probe_noise(spec: Spec, noise_shape: tuple[int, ...]) -> np.ndarray:
    """``PROBES`` deterministic noise values (PROBES, *noise_shape), spread over (0, 1)."""
    d = int(np.prod(noise_shape, dtype=np.int64))
    u = (np.arange(PROBES)[:, None] + 0.5 + 0.381966 * np.arange(d)) / PROBES % 1.0
    return noise_from_uniform(spec, u.reshape(PROBES, *noise_shape), noise_shape)


def _call(what: str, fn: Callable[..., Any], args: tuple[Any, ...], blocks: Any) -> Any:
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - re-raised with the context the user needs
        names = [name for name, _ in blocks]
        raise ValueError(
            f"{what} failed: {type(exc).__name__}: {exc}. Check that the parameter pytree "
            f"(blocks {names}) matches what the function reads and that it takes one "
            "outcome (not a batch: vartools vectorises it with jax.vmap)"
        ) from exc


def check_transform(
    transform: Callable[..., Any],
    params: Any,
    noise: np.ndarray,
    event_shape: tuple[int, ...],
    blocks: Any,
) -> tuple[np.ndarray, str]:
    """Probe outcomes (PROBES, *event) and their kind ("float", "int" or "bool")."""
    jnp = require_jax().numpy
    xs = []
    with x64(True):
        for e in noise:
            x = _call("transform(params, noise)", transform, (params, jnp.asarray(e)), blocks)
            x = np.asarray(x)
            if x.shape != event_shape:
                raise ValueError(
                    f"transform(params, noise) returned shape {x.shape} for one sample's noise "
                    f"of shape {e.shape}; it must return one outcome of event_shape "
                    f"{event_shape}"
                )
            xs.append(x)
    out = np.stack(xs)
    if out.dtype == np.bool_:
        kind = "bool"
    elif np.issubdtype(out.dtype, np.integer):
        kind = "int"
    elif np.issubdtype(out.dtype, np.floating):
        kind = "float"
    else:
        raise TypeError(
            f"transform(params, noise) returned dtype {out.dtype}; outcomes must be real "
            "(float), integer (category indices) or boolean"
        )
    if kind == "float" and not np.isfinite(out).all():
        raise ValueError("transform(params, noise) returned a NaN or infinite outcome")
    return out, kind


def check_log_prob(log_prob: Callable[..., Any], params: Any, xs: np.ndarray, blocks: Any) -> None:
    """log_prob is a finite floating scalar at the probe outcomes, with a finite gradient."""
    jax = require_jax()
    with x64(True):
        for x in xs:
            lp = _call("log_prob(params, x)", log_prob, (params, jax.numpy.asarray(x)), blocks)
            lp = np.asarray(lp)
            if lp.shape != ():
                raise ValueError(
                    f"log_prob(params, x) returned shape {lp.shape} for one outcome x of shape "
                    f"{x.shape}; it must return a scalar (sum the log densities over the event)"
                )
            if not np.issubdtype(lp.dtype, np.floating):
                raise TypeError(
                    f"log_prob(params, x) returned dtype {lp.dtype}; it must return a floating "
                    "log density, differentiable in params (no integer casts or rounding)"
                )
            if not np.isfinite(lp):
                raise ValueError(
                    f"log_prob(params, x) = {float(lp)} at x = {x.tolist()}, an outcome that "
                    "transform produced: the sampler leaves the support of log_prob; make "
                    "transform and log_prob describe the same distribution"
                )
            try:
                g = jax.grad(log_prob)(params, jax.numpy.asarray(x))
            except Exception as exc:  # noqa: BLE001 - re-raised with the context
                raise ValueError(
                    f"log_prob is not differentiable in params: jax.grad failed with "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            if not all(np.isfinite(np.asarray(v)).all() for v in jax.tree_util.tree_leaves(g)):
                raise ValueError(
                    f"the gradient of log_prob with respect to params is NaN or infinite at x = "
                    f"{x.tolist()}; use stable forms (jax.nn.log_sigmoid, jax.nn.log_softmax)"
                )


def check_f(f: Callable[..., Any], xs: np.ndarray) -> None:
    """f(x) is a finite real scalar at the probe outcomes."""
    jnp = require_jax().numpy
    with x64(True):
        for x in xs:
            try:
                v = np.asarray(f(jnp.asarray(x)))
            except Exception as exc:  # noqa: BLE001 - re-raised with the context
                raise ValueError(
                    f"f(x) failed for one outcome x of shape {x.shape}: {type(exc).__name__}: "
                    f"{exc}; f takes one outcome (vartools vectorises it with jax.vmap)"
                ) from exc
            if v.shape != ():
                raise ValueError(
                    f"f(x) returned shape {v.shape} for one outcome x of shape {x.shape}; it "
                    "must return a scalar (reduce over the event, e.g. .sum())"
                )
            if not (np.issubdtype(v.dtype, np.floating) or np.issubdtype(v.dtype, np.integer)):
                raise TypeError(f"f(x) returned dtype {v.dtype}; it must return a real number")
            if not np.isfinite(v):
                raise ValueError(
                    f"f(x) = {float(v)} at x = {x.tolist()}; f must be finite on the support"
                )
