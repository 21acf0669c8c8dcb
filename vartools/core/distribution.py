"""The ``Distribution`` base class: flat parameters, noise-based sampling, capabilities.

``Distribution`` names the entries of the flat parameter vector theta
(``param_names``), splits arrays over theta into blocks (``unflatten``) and samples
through a noise variable (``sample`` = ``transform(sample_noise(...))``).

The contract of a new family (docs/readme/extending.md has a worked example):

- required (abstract): ``event_shape``, ``param_blocks``, ``with_params``,
  ``sample_noise``, ``noise_from_uniform``, ``transform``, ``log_prob``, ``score``;
- optional, with a generic default: ``params`` (when the blocks are not attributes of
  the same names), ``score_dot`` (a faster weighted sum of scores), ``sample_noise_as``
  (float32 noise drawn directly), ``antithetic_noise`` (an exact reflection);
- optional capabilities, raising ``NotSupportedError`` by default
  (``vartools.core.capabilities``): ``support`` (enumeration), ``transform_vjp``
  (pathwise), ``param_coordinates``, ``local_expectation``, the relaxation methods,
  ``coupled_pair``, ``measure_valued_coupling``, ``gaussian_params``;
- helpers for implementations: ``check_theta``, ``check_x``, ``noise_shape`` here, and
  ``as_finite_array``, ``check_positive_int``, ``noise_dtype``, ``float_dtype`` in
  ``vartools.core.validation``.

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
    noise_dtype,
    short_repr,
)

__all__ = ["DEFAULT_SUPPORT_BUDGET", "Distribution"]


#: Largest number of joint outcomes ``support()`` enumerates unless told otherwise.
DEFAULT_SUPPORT_BUDGET = 1_000_000


def _index_names(prefix: str, shape: tuple[int, ...]) -> list[str]:
    if shape == ():
        return [prefix]
    return [f"{prefix}[{','.join(map(str, idx))}]" for idx in itertools.product(*map(range, shape))]


class Distribution(Capabilities, ABC):
    """Base class: a distribution p(x; theta) with a flat parameter vector theta.

    Shapes: an outcome has shape ``event_shape``; samples have shape (*R, n, *event)
    (R replicate axes, n samples each); theta has shape (p,), split into named blocks
    (``param_blocks``). A subclass implements the abstract methods (``event_shape``,
    ``param_blocks``, ``with_params``, ``sample_noise``, ``noise_from_uniform``,
    ``transform``, ``log_prob``, ``score``); every estimator needs them, the score
    function estimator only ``sample``, ``score`` (and ``score_dot``). It may override
    the generic defaults (``params``, ``score_dot``, ``sample_noise_as``,
    ``antithetic_noise``) and implements the capabilities it can provide (inherited from
    ``Capabilities``, each raising ``NotSupportedError`` unless overridden, e.g.
    ``transform_vjp`` for ``pathwise``). Concrete families are frozen dataclasses
    whose fields are validated in ``__post_init__`` (``as_finite_array``).
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

        Optional override, used by the ``antithetic`` sampler. The default maps both
        through the inverse CDF (``noise_from_uniform``); a family with a symmetric noise
        may use an exact reflection instead (Normal: e, -e).
        """
        return self.noise_from_uniform(np.concatenate([u, 1.0 - u], axis=axis))

    @property
    @abstractmethod
    def event_shape(self) -> tuple[int, ...]:
        """Shape of one outcome x (required; ``()`` for a scalar outcome).

        Samples, noise and the ``x`` passed to ``log_prob``/``score`` have shape
        (*R, n, *event_shape).
        """

    @property
    def param_names(self) -> tuple[str, ...]:
        """Names of the entries of theta: ``block[i,j]`` for each block of ``param_blocks()``.

        Tables name their coordinates by these (``loc[0]``, ``logits[2,1]``...).
        """
        return tuple(
            name for block, shape in self.param_blocks() for name in _index_names(block, shape)
        )

    @property
    def n_params(self) -> int:
        """Length p of theta (from the block shapes: no names are built, it is called often)."""
        return sum(math.prod(shape) for _, shape in self.param_blocks())

    @property
    def params(self) -> np.ndarray:
        """The flat parameter vector theta, shape (p,).

        Optional override: by default the attributes named by ``param_blocks()``,
        flattened and concatenated (a copy); a distribution whose blocks are not
        attributes of the same names (``Normal`` with ``log_scale``) overrides it.
        """
        blocks = [np.asarray(getattr(self, name)).ravel() for name, _ in self.param_blocks()]
        return np.concatenate(blocks)

    @abstractmethod
    def with_params(self, theta: Any) -> Distribution:
        """Return the same family at the flat parameters ``theta`` (shape (p,)).

        Required: training loops, ``Problem.with_params`` and the exact oracles'
        finite-difference checks move a distribution through it. Implementations start
        with ``theta = self.check_theta(theta)`` and reshape its blocks.
        """

    def check_theta(self, theta: Any) -> np.ndarray:
        """``theta`` as a finite float64 array of shape (p,) (helper for ``with_params``).

        Raises:
            TypeError, ValueError: non-numeric, non-finite or wrongly shaped ``theta``
                (the message names the expected shape).
        """
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
        for name, shape in self.param_blocks():
            size = math.prod(shape)
            out[name] = g[..., start : start + size].reshape((*g.shape[:-1], *shape))
            start += size
        return out

    @abstractmethod
    def param_blocks(self) -> list[tuple[str, tuple[int, ...]]]:
        """(name, shape) of each parameter block, in theta order (required).

        theta is the concatenation of the flattened blocks, so p is the sum of their
        sizes; ``param_names``, ``n_params``, ``params`` (by default the attributes of
        these names), ``unflatten`` and the tables' per-block rows are built from it.
        Example: ``[("loc", (3,)), ("scale", (3,))]`` for a 3-dimensional Normal.
        """

    # -- sampling -----------------------------------------------------------------
    def noise_shape(self, n: int, reps: Any, rng: Any = Ellipsis) -> tuple[int, ...]:
        """(*reps, n, *event) after checking n, reps and (when passed) the generator.

        Helper for ``sample_noise``: it raises the named errors for a bad ``n`` (not an
        integer >= 1), ``reps`` (not a tuple of non-negative integers) or ``rng`` (not a
        ``numpy.random.Generator``).
        """
        n = check_positive_int(n, "n")
        if rng is not Ellipsis:
            check_rng(rng)
        return (*check_reps(reps), n, *self.event_shape)

    @abstractmethod
    def sample_noise(self, n: int, *, rng: np.random.Generator, reps: Any = ()) -> np.ndarray:
        """Draw the base noise, shape (*reps, n, *event) (required).

        Every estimator samples through it (``sample`` = ``transform(sample_noise())``),
        so that samplers can replace it: antithetic, stratified and quasi-Monte Carlo
        samplers draw uniforms instead and call ``noise_from_uniform``. Use
        ``self.noise_shape(n, reps, rng)`` for the checked shape and draw from ``rng``
        only, in one vectorised call (no loop over replicates).
        """

    def sample_noise_as(
        self, n: int, *, rng: np.random.Generator, reps: Any = (), dtype: Any = np.float64
    ) -> np.ndarray:
        """Base noise in ``dtype`` (float64, or float32 for the opt-in single-precision mode).

        Optional override (the harness's float32 mode calls it).
        The built-in distributions draw float32 noise directly (about twice as fast
        as float64, and a different stream); the default casts float64 noise.
        """
        dt = noise_dtype(dtype)
        noise = self.sample_noise(n, rng=rng, reps=reps)
        return noise if dt is np.float64 else noise.astype(dt)

    @abstractmethod
    def noise_from_uniform(self, u: np.ndarray) -> np.ndarray:
        """Map uniforms on (0, 1) to the base noise, same shape (required).

        The identity when the noise is itself uniform (the discrete families: their
        ``transform`` is an inverse CDF); the normal quantile for standard-normal noise.
        The samplers ``antithetic``, ``stratified`` and ``sobol`` rely on it: u must be
        mapped so that a uniform u gives noise distributed as ``sample_noise``'s.
        """

    @abstractmethod
    def transform(self, noise: np.ndarray) -> np.ndarray:
        """Map base noise (*R, n, *event) to outcomes x of the same shape (required).

        For float32 noise compute in ``float_dtype(noise)`` (float32). The pathwise
        capability differentiates this map (``transform_vjp``).
        """

    def sample(self, n: int, *, rng: np.random.Generator, reps: Any = ()) -> np.ndarray:
        """Draw ``n`` outcomes per replicate: shape (*reps, n, *event)."""
        return self.transform(self.sample_noise(n, rng=rng, reps=reps))

    # -- densities -----------------------------------------------------------------
    @abstractmethod
    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Log density (mass) of each outcome: (*R, n, *event) -> (*R, n) (required).

        The joint log density of one outcome, summed over its event coordinates. Used by
        ``support`` (enumeration oracles), VIMCO-style objectives and the tests that
        check ``score`` against finite differences of it. Start with
        ``x = self.check_x(x)`` and refuse values outside the support with a named error.
        """

    @abstractmethod
    def score(self, x: np.ndarray) -> np.ndarray:
        """Analytic grad_theta log p(x; theta): (*R, n, *event) -> (*R, n, p) (required).

        Per sample, in theta order (``param_blocks``). The score-function estimator,
        every baseline and control variate that subtracts a multiple of the score, and
        the exact oracles use it; it must have mean zero under the distribution.
        """

    def score_dot(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """sum_i w_i score(x_i) over the sample axis: (*R, n, *event), (*R, n) -> (*R, p).

        Optional override. Equal to ``(w[..., None] * score(x)).sum(-2)``; subclasses
        override it to avoid the (*R, n, p) temporary (the score-function estimate of a factored
        ``Batch`` is ``score_dot(x, weight) / n``). It must return a new array (the
        caller divides it in place).
        """
        s = self.score(x)
        w = np.asarray(w).astype(s.dtype, copy=False)
        return np.matmul(w[..., None, :], s)[..., 0, :]

    def check_x(self, x: Any) -> np.ndarray:
        """``x`` as an array of shape (*R, n, *event), else a ValueError naming the shapes.

        Helper for ``log_prob`` and ``score`` (values are not checked: that is the
        family's job, e.g. 0/1 for a Bernoulli).
        """
        x = np.asarray(x)
        ev = self.event_shape
        if x.ndim < 1 + len(ev) or (ev and x.shape[x.ndim - len(ev) :] != ev):
            raise ValueError(
                f"x must have shape (*R, n, *event) with event shape {ev}, got shape {x.shape}"
            )
        return x

    def support(self, budget: int = DEFAULT_SUPPORT_BUDGET) -> tuple[np.ndarray, np.ndarray]:
        """Every joint outcome with its probability (enumerable distributions only).

        Optional capability ``enumeration`` (set the flag ``enumerable = True`` too): the
        exact oracles (``vartools.oracles.exact``: exact gradient, exact variance of an
        n-sample estimate) and ``measure_variance``'s truth and exact-variance columns
        enumerate it. The default raises ``NotSupportedError``.

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
