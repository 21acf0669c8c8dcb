"""``JaxModel``: the user's JAX functions, their parameter layout and compiled kernels.

A model is what does not change when theta moves: the single-outcome functions
``log_prob(params, x)`` and ``transform(params, noise)`` (and optionally
``logits(params)``), the pytree layout of the parameters (block names and shapes), the
event and noise shapes, the noise specification and the capabilities
(reparameterised, enumerable, factorised logits). ``JaxDistribution`` pairs a model
with a flat theta; ``with_params`` makes a new distribution on the same model, so the
compiled kernels (``vartools.jax.kernels``) are shared and never recompiled.

A model pickles when the user's functions do (module-level functions do, lambdas and
closures do not): the compiled kernels are dropped and rebuilt on first use. The
harness does not need pickling, because workers rebuild problems from the experiment
file; pickling is for users who ship problems themselves.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from vartools.jax._compat import require_jax
from vartools.jax.kernels import Kernels
from vartools.jax.noise import Spec

__all__ = ["JaxModel"]


@dataclass(frozen=True, eq=False)
class JaxModel:
    """The parameter-independent part of a JAX-defined distribution.

    Attributes:
        log_prob: (params, x (*event)) -> scalar log p(x; params).
        transform: (params, noise (*noise_shape)) -> x (*event).
        template: the parameter pytree as given (its structure and leaf shapes).
        blocks: (name, shape) of each leaf in theta order (``vartools.jax.names``).
        event_shape: shape of one outcome x.
        noise_shape: shape of one sample's noise.
        noise: the noise segments (``vartools.jax.noise.parse_noise``).
        outcome_kind: "float", "int" or "bool": the dtype family transform returns.
        reparameterized: whether transform is differentiable in params (pathwise).
        support_x: every outcome (M, *event) for enumerable models, else None.
        logits: params -> the logits of the factorised Bernoulli (shape event) or
            Categorical (shape (*event, K)) the model samples from, else None.
        logits_kind: "bernoulli", "categorical" or None.
        has_context: whether the functions take a context as their last argument (data
            they read but theta does not include: a minibatch, frozen weights).
    """

    log_prob: Callable[..., Any]
    transform: Callable[..., Any]
    template: Any
    blocks: tuple[tuple[str, tuple[int, ...]], ...]
    event_shape: tuple[int, ...]
    noise_shape: tuple[int, ...]
    noise: Spec
    outcome_kind: str
    reparameterized: bool = False
    support_x: np.ndarray | None = None
    logits: Callable[..., Any] | None = None
    logits_kind: str | None = None
    has_context: bool = False

    @property
    def n_params(self) -> int:
        """Length p of theta."""
        return sum(math.prod(s) for _, s in self.blocks)

    def kernels(self) -> Kernels:
        """The compiled kernels, built on first use (and after unpickling)."""
        k: Kernels | None = self.__dict__.get("_kernels")
        if k is None:
            k = Kernels.build(self.log_prob, self.transform, self.logits, context=self.has_context)
            object.__setattr__(self, "_kernels", k)
        return k

    def tree(self, theta: np.ndarray, dtype: Any) -> Any:
        """The parameter pytree at the flat ``theta`` (p,), leaves of ``dtype``."""
        jax = require_jax()
        treedef = jax.tree_util.tree_structure(self.template)
        leaves, start = [], 0
        for _, shape in self.blocks:
            size = math.prod(shape)
            leaves.append(np.asarray(theta[start : start + size], dtype=dtype).reshape(shape))
            start += size
        return jax.tree_util.tree_unflatten(treedef, leaves)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_kernels", None)  # compiled functions do not pickle; rebuilt on use
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
