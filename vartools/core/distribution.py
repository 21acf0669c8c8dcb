"""The ``Distribution`` base class: flat parameters, noise-based sampling, capabilities.

``Distribution`` names the entries of the flat parameter vector theta
(``param_names``), splits arrays over theta into blocks (``unflatten``) and samples
through a noise variable (``sample`` = ``transform(sample_noise(...))``); the helpers
here (noise dtypes, index names) are shared by the concrete families in
``vartools.distributions.discrete`` and ``vartools.distributions.normal``.

Capabilities (enumeration, quadrature, local expectations, relaxations, coupled
samples...) are declared in ``vartools.core.capabilities`` and inherited here;
``Distribution.supports(name)`` asks whether a family implements one.
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from vartools.core.capabilities import CAPABILITIES, Capabilities
from vartools.core.validation import (
    as_finite_array,
    check_positive_int,
    check_reps,
    check_rng,
    short_repr,
)

__all__ = ["DEFAULT_SUPPORT_BUDGET", "Distribution"]


#: Largest number of joint outcomes ``support()`` enumerates unless told otherwise.
DEFAULT_SUPPORT_BUDGET = 1_000_000


def _noise_dtype(dtype: Any) -> type[np.floating[Any]]:
    """float32 or float64 from a dtype-like; anything else is refused."""
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {short_repr(dtype)}")
    return np.float32 if dt == np.float32 else np.float64


def _float_of(a: np.ndarray) -> type[np.floating[Any]]:
    """float32 when ``a`` is float32 (the opt-in single-precision mode), else float64."""
    return np.float32 if a.dtype == np.float32 else np.float64


def _index_names(prefix: str, shape: tuple[int, ...]) -> list[str]:
    if shape == ():
        return [prefix]
    return [f"{prefix}[{','.join(map(str, idx))}]" for idx in itertools.product(*map(range, shape))]


class Distribution(Capabilities, ABC):
    """Base class: a distribution p(x; theta) with a flat parameter vector theta.

    It inherits the capability declarations of ``Capabilities`` (each raising
    ``NotSupportedError`` unless a family implements it) and their flags.
    """

    # -- capabilities (defaults in vartools.core.capabilities) ------------------
    def supports(self, capability: str) -> bool:
        """Whether this distribution implements ``capability`` (a key of ``CAPABILITIES``).

        Example:
            >>> from vartools.distributions.normal import Normal
            >>> Normal(0.0, 1.0).supports("quadrature"), Normal(0.0, 1.0).supports("relaxation")
            (True, False)
        """
        if capability not in CAPABILITIES:
            raise ValueError(
                f"capability must be one of {sorted(CAPABILITIES)}, got {short_repr(capability)}"
            )
        if capability == "enumeration":
            return self.enumerable
        if capability == "pathwise":
            return self.reparameterized
        if capability == "quadrature":
            return self.standard_normal_noise and math.prod(self.event_shape) == 1
        method = CAPABILITIES[capability]
        return getattr(type(self), method) is not getattr(Capabilities, method)

    def antithetic_noise(self, u: np.ndarray, axis: int) -> np.ndarray:
        """Noise of antithetic pairs: u and 1 - u concatenated along the sample ``axis``.

        The default maps both through the inverse CDF (``noise_from_uniform``); a family
        with a symmetric noise may use an exact reflection instead (Normal: e, -e).
        """
        return self.noise_from_uniform(np.concatenate([u, 1.0 - u], axis=axis))

    @property
    @abstractmethod
    def event_shape(self) -> tuple[int, ...]:
        """Shape of one outcome x."""

    @property
    def param_names(self) -> tuple[str, ...]:
        """Names of the entries of theta: ``block[i,j]`` for each block of ``_blocks()``."""
        return tuple(name for block, shape in self._blocks() for name in _index_names(block, shape))

    @property
    def n_params(self) -> int:
        """Length p of theta (from the block shapes: no names are built, it is called often)."""
        return sum(math.prod(shape) for _, shape in self._blocks())

    @property
    def params(self) -> np.ndarray:
        """The flat parameter vector theta, shape (p,).

        By default the attributes named by ``_blocks()``, flattened and concatenated (a
        copy); distributions whose blocks are not attributes override it.
        """
        blocks = [np.asarray(getattr(self, name)).ravel() for name, _ in self._blocks()]
        return np.concatenate(blocks)

    @abstractmethod
    def with_params(self, theta: Any) -> Distribution:
        """Return the same family at the flat parameters ``theta`` (shape (p,))."""

    def _check_theta(self, theta: Any) -> np.ndarray:
        """``theta`` as a finite float64 array of shape (p,) (for ``with_params``)."""
        theta = as_finite_array(theta, "theta")
        if theta.shape != (self.n_params,):
            raise ValueError(f"theta must have shape ({self.n_params},), got {theta.shape}")
        return theta

    def unflatten(self, g: Any) -> dict[str, np.ndarray]:
        """Split an array whose last axis is over theta into named parameter blocks.

        Args:
            g: array of shape (..., p), e.g. a gradient estimate.

        Returns:
            A dict from block name (``"loc"``, ``"scale"``, ``"logits"``) to arrays
            of shape (..., *block_shape).
        """
        g = np.asarray(g)
        if g.shape[-1:] != (self.n_params,):
            raise ValueError(
                f"g must have a last axis of length p={self.n_params}, got shape {g.shape}"
            )
        out: dict[str, np.ndarray] = {}
        start = 0
        for name, shape in self._blocks():
            size = math.prod(shape)
            out[name] = g[..., start : start + size].reshape((*g.shape[:-1], *shape))
            start += size
        return out

    @abstractmethod
    def _blocks(self) -> list[tuple[str, tuple[int, ...]]]:
        """(name, shape) of each parameter block, in theta order."""

    # -- sampling -----------------------------------------------------------------
    def _noise_shape(self, n: int, reps: Any, rng: Any = Ellipsis) -> tuple[int, ...]:
        """(*reps, n, *event) after checking n, reps and (when passed) the generator."""
        n = check_positive_int(n, "n")
        if rng is not Ellipsis:
            check_rng(rng)
        return (*check_reps(reps), n, *self.event_shape)

    @abstractmethod
    def sample_noise(self, n: int, *, rng: np.random.Generator, reps: Any = ()) -> np.ndarray:
        """Draw the base noise, shape (*reps, n, *event)."""

    def sample_noise_as(
        self, n: int, *, rng: np.random.Generator, reps: Any = (), dtype: Any = np.float64
    ) -> np.ndarray:
        """Base noise in ``dtype`` (float64, or float32 for the opt-in single-precision mode).

        The built-in distributions draw float32 noise directly (about twice as fast
        as float64, and a different stream); the default casts float64 noise.
        """
        dt = _noise_dtype(dtype)
        noise = self.sample_noise(n, rng=rng, reps=reps)
        return noise if dt is np.float64 else noise.astype(dt)

    @abstractmethod
    def noise_from_uniform(self, u: np.ndarray) -> np.ndarray:
        """Map uniforms on (0, 1) to the base noise (identity for discrete distributions)."""

    @abstractmethod
    def transform(self, noise: np.ndarray) -> np.ndarray:
        """Map base noise (*R, n, *event) to outcomes x of the same shape."""

    def sample(self, n: int, *, rng: np.random.Generator, reps: Any = ()) -> np.ndarray:
        """Draw ``n`` outcomes per replicate: shape (*reps, n, *event)."""
        return self.transform(self.sample_noise(n, rng=rng, reps=reps))

    # -- densities -----------------------------------------------------------------
    @abstractmethod
    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Log density (mass) of each outcome: (*R, n, *event) -> (*R, n)."""

    @abstractmethod
    def score(self, x: np.ndarray) -> np.ndarray:
        """Analytic grad_theta log p(x; theta): (*R, n, *event) -> (*R, n, p)."""

    def score_dot(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """sum_i w_i score(x_i) over the sample axis: (*R, n, *event), (*R, n) -> (*R, p).

        Equal to ``(w[..., None] * score(x)).sum(-2)``; subclasses override it to
        avoid the (*R, n, p) temporary (the score-function estimate of a factored
        ``Batch`` is ``score_dot(x, weight) / n``). It must return a new array (the
        caller divides it in place).
        """
        s = self.score(x)
        w = np.asarray(w).astype(s.dtype, copy=False)
        return np.matmul(w[..., None, :], s)[..., 0, :]

    def _check_x(self, x: Any) -> np.ndarray:
        x = np.asarray(x)
        ev = self.event_shape
        if x.ndim < 1 + len(ev) or (ev and x.shape[x.ndim - len(ev) :] != ev):
            raise ValueError(
                f"x must have shape (*R, n, *event) with event shape {ev}, got shape {x.shape}"
            )
        return x

    def support(self, budget: int = DEFAULT_SUPPORT_BUDGET) -> tuple[np.ndarray, np.ndarray]:
        """Every joint outcome with its probability (enumerable distributions only).

        Args:
            budget: largest number of joint outcomes to enumerate.

        Returns:
            ``(outcomes, probs)`` of shapes (M, *event) and (M,).
        """
        self.not_supported(
            "enumeration",
            "support()",
            "its support is continuous (or not listed); use vartools.oracles.exact's "
            "quadrature oracles or Monte Carlo instead",
        )
