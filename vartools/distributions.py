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

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import special

from vartools._validation import as_finite_array, check_positive_int, check_reps, short_repr

__all__ = [
    "Bernoulli",
    "Categorical",
    "Distribution",
    "Normal",
    "DEFAULT_SUPPORT_BUDGET",
]

#: Largest number of joint outcomes ``support()`` enumerates unless told otherwise.
DEFAULT_SUPPORT_BUDGET = 1_000_000


def _index_names(prefix: str, shape: tuple[int, ...]) -> list[str]:
    if shape == ():
        return [prefix]
    return [f"{prefix}[{','.join(map(str, idx))}]" for idx in itertools.product(*map(range, shape))]


class Distribution(ABC):
    """Base class: a distribution p(x; theta) with a flat parameter vector theta."""

    #: ``True`` for distributions with a finite support and ``support()``.
    enumerable: bool = False
    #: ``True`` for distributions with ``transform_vjp`` (pathwise gradients).
    reparameterized: bool = False

    @property
    @abstractmethod
    def event_shape(self) -> tuple[int, ...]:
        """Shape of one outcome x."""

    @property
    @abstractmethod
    def param_names(self) -> tuple[str, ...]:
        """Names of the entries of the flat parameter vector theta."""

    @property
    def n_params(self) -> int:
        """Length p of theta."""
        return len(self.param_names)

    @property
    @abstractmethod
    def params(self) -> np.ndarray:
        """The flat parameter vector theta, shape (p,)."""

    @abstractmethod
    def with_params(self, theta: Any) -> Distribution:
        """Return the same family at the flat parameters ``theta`` (shape (p,))."""

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
            out[name] = g[..., start : start + size].reshape(*g.shape[:-1], *shape)
            start += size
        return out

    @abstractmethod
    def _blocks(self) -> list[tuple[str, tuple[int, ...]]]:
        """(name, shape) of each parameter block, in theta order."""

    # -- sampling -----------------------------------------------------------------
    def _noise_shape(self, n: int, reps: Any) -> tuple[int, ...]:
        n = check_positive_int(n, "n")
        return (*check_reps(reps), n, *self.event_shape)

    @abstractmethod
    def sample_noise(self, n: int, *, rng: np.random.Generator, reps: Any = ()) -> np.ndarray:
        """Draw the base noise, shape (*reps, n, *event)."""

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
        raise TypeError(
            f"{type(self).__name__} has a continuous support and cannot be enumerated; "
            "use vartools.exact's quadrature oracles instead"
        )


def _check_budget(count: float, budget: int, what: str) -> None:
    if count > budget:
        raise ValueError(
            f"enumerating {what} needs {count:.3g} joint outcomes, more than budget={budget}; "
            "use fewer coordinates or pass a larger budget"
        )


@dataclass(frozen=True, eq=False)
class Bernoulli(Distribution):
    """Independent Bernoullis with theta = logits (any shape), p(x=1) = sigmoid(logits).

    The score is ``x - sigmoid(logits)``; sampling uses the inverse CDF
    x = 1[u > 1 - sigmoid(logits)] of a uniform u, which is what antithetic and
    quasi-Monte Carlo samplers (and ARM/DisARM) need. Stable at logits of +-50.

    Example:
        >>> import numpy as np
        >>> d = Bernoulli(logits=[0.0])
        >>> d.score(np.array([[1.0], [0.0]]))
        array([[ 0.5],
               [-0.5]])
    """

    logits: Any
    enumerable = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "logits", as_finite_array(self.logits, "logits"))

    @property
    def event_shape(self) -> tuple[int, ...]:
        """Shape of the logits."""
        return tuple(self.logits.shape)

    @property
    def param_names(self) -> tuple[str, ...]:
        """``logits[i]`` names."""
        return tuple(_index_names("logits", self.event_shape))

    def _blocks(self) -> list[tuple[str, tuple[int, ...]]]:
        return [("logits", self.event_shape)]

    @property
    def params(self) -> np.ndarray:
        """Flat logits."""
        return self.logits.ravel().copy()

    def with_params(self, theta: Any) -> Bernoulli:
        """Bernoulli at the flat logits ``theta``."""
        theta = as_finite_array(theta, "theta")
        if theta.shape != (self.n_params,):
            raise ValueError(f"theta must have shape ({self.n_params},), got {theta.shape}")
        return Bernoulli(theta.reshape(self.event_shape))

    @property
    def probs(self) -> np.ndarray:
        """P(x = 1) = sigmoid(logits)."""
        return special.expit(self.logits)

    def sample_noise(self, n: int, *, rng: np.random.Generator, reps: Any = ()) -> np.ndarray:
        """Uniforms on [0, 1), shape (*reps, n, *event)."""
        return rng.random(self._noise_shape(n, reps))

    def noise_from_uniform(self, u: np.ndarray) -> np.ndarray:
        """Identity: the noise is the uniform."""
        return u

    def transform(self, noise: np.ndarray) -> np.ndarray:
        """Inverse CDF: x = 1[u > 1 - sigmoid(logits)] as float64."""
        return (noise > special.expit(-self.logits)).astype(np.float64)

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Sum over coordinates of x logits - softplus(logits)."""
        x = self._check_x(x)
        lp = x * self.logits - np.logaddexp(0.0, self.logits)
        return lp.reshape(*lp.shape[: lp.ndim - len(self.event_shape)], -1).sum(-1)

    def score(self, x: np.ndarray) -> np.ndarray:
        """x - sigmoid(logits), flattened to (*R, n, p)."""
        x = self._check_x(x)
        s = x - self.probs
        return s.reshape(*s.shape[: s.ndim - len(self.event_shape)], self.n_params)

    def support(self, budget: int = DEFAULT_SUPPORT_BUDGET) -> tuple[np.ndarray, np.ndarray]:
        """All 2^p joint outcomes (first coordinate varies slowest) and their probabilities."""
        p = self.n_params
        _check_budget(2.0**p, budget, f"{p} Bernoullis")
        grid = np.array(list(itertools.product((0.0, 1.0), repeat=p))).reshape(
            -1, *self.event_shape
        )
        return grid, np.exp(self.log_prob(grid[:, None]))[:, 0]


@dataclass(frozen=True, eq=False)
class Categorical(Distribution):
    """Independent categoricals; ``logits`` has shape (*batch, K), categories on the last axis.

    theta is the flattened logits (p = prod(batch) * K) and the score is
    ``onehot(x) - softmax(logits)``. Outcomes are integer category indices of
    shape (*R, n, *batch) stored as int64. Sampling is by inverse CDF of one
    uniform per categorical (a binary search, not Gumbel-max).

    Example:
        >>> import numpy as np
        >>> d = Categorical(logits=np.zeros(3))
        >>> d.probs
        array([0.33333333, 0.33333333, 0.33333333])
    """

    logits: Any
    enumerable = True

    def __post_init__(self) -> None:
        logits = as_finite_array(self.logits, "logits")
        if logits.ndim < 1 or logits.shape[-1] < 2:
            raise ValueError(
                f"logits must have shape (*batch, K) with K >= 2 categories, got shape "
                f"{logits.shape}"
            )
        object.__setattr__(self, "logits", logits)
        probs = special.softmax(logits, axis=-1)
        cdf = np.cumsum(probs, axis=-1)
        cdf[..., -1] = 1.0
        object.__setattr__(self, "_probs", probs)
        object.__setattr__(self, "_cdf", cdf)

    @property
    def n_categories(self) -> int:
        """Number K of categories."""
        return int(self.logits.shape[-1])

    @property
    def event_shape(self) -> tuple[int, ...]:
        """The batch shape of the logits (one integer outcome per categorical)."""
        return tuple(self.logits.shape[:-1])

    @property
    def param_names(self) -> tuple[str, ...]:
        """``logits[...]`` names over (*batch, K)."""
        return tuple(_index_names("logits", tuple(self.logits.shape)))

    def _blocks(self) -> list[tuple[str, tuple[int, ...]]]:
        return [("logits", tuple(self.logits.shape))]

    @property
    def params(self) -> np.ndarray:
        """Flat logits."""
        return self.logits.ravel().copy()

    def with_params(self, theta: Any) -> Categorical:
        """Categorical at the flat logits ``theta``."""
        theta = as_finite_array(theta, "theta")
        if theta.shape != (self.n_params,):
            raise ValueError(f"theta must have shape ({self.n_params},), got {theta.shape}")
        return Categorical(theta.reshape(self.logits.shape))

    @property
    def probs(self) -> np.ndarray:
        """softmax(logits), shape (*batch, K)."""
        return self._probs.copy()  # type: ignore[attr-defined]

    def sample_noise(self, n: int, *, rng: np.random.Generator, reps: Any = ()) -> np.ndarray:
        """Uniforms on [0, 1), one per categorical: shape (*reps, n, *batch)."""
        return rng.random(self._noise_shape(n, reps))

    def noise_from_uniform(self, u: np.ndarray) -> np.ndarray:
        """Identity: the noise is the uniform."""
        return u

    def transform(self, noise: np.ndarray) -> np.ndarray:
        """Inverse CDF: the smallest k with cdf_k > u, by one vectorised binary search."""
        cdf: np.ndarray = self._cdf  # type: ignore[attr-defined]
        k = self.n_categories
        nb = math.prod(self.event_shape)
        # Offset categorical j's CDF by j so that one sorted array serves every categorical.
        offsets = np.arange(nb, dtype=np.float64)
        flat_cdf = (cdf.reshape(nb, k) + offsets[:, None]).ravel()
        u = noise.reshape(*noise.shape[: noise.ndim - len(self.event_shape)], nb)
        idx = np.searchsorted(flat_cdf, u + offsets, side="right")
        x = np.minimum(idx - (offsets * k).astype(np.int64), k - 1)
        return x.reshape(noise.shape)

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Sum over categoricals of log softmax(logits)[x]."""
        x = self._check_x(x)
        logp = special.log_softmax(self.logits, axis=-1)
        lead = x.shape[: x.ndim - len(self.event_shape)]
        nb = math.prod(self.event_shape)
        flat = x.reshape(*lead, nb).astype(np.int64)
        vals = logp.reshape(nb, -1)[np.arange(nb), flat]
        return vals.sum(-1)

    def score(self, x: np.ndarray) -> np.ndarray:
        """onehot(x) - softmax(logits), flattened to (*R, n, p)."""
        x = self._check_x(x)
        k = self.n_categories
        s = (x[..., None] == np.arange(k)).astype(np.float64) - self._probs  # type: ignore[attr-defined]
        return s.reshape(*x.shape[: x.ndim - len(self.event_shape)], self.n_params)

    def support(self, budget: int = DEFAULT_SUPPORT_BUDGET) -> tuple[np.ndarray, np.ndarray]:
        """All K^B joint outcomes (first categorical varies slowest) and their probabilities."""
        nb = math.prod(self.event_shape)
        k = self.n_categories
        _check_budget(float(k) ** nb, budget, f"{nb} categoricals with {k} categories")
        grid = np.array(list(itertools.product(range(k), repeat=nb)), dtype=np.int64)
        grid = grid.reshape(-1, *self.event_shape)
        return grid, np.exp(self.log_prob(grid[:, None]))[:, 0]


@dataclass(frozen=True, eq=False)
class Normal(Distribution):
    """Independent normals N(loc, scale^2) (diagonal), reparameterised as x = loc + scale * e.

    theta is ``[loc..., scale...]`` (gradients with respect to the mean and the
    standard deviation, as in Mohamed et al. 2020, sec. 4) or, with
    ``parameterization="log_scale"`` (see ``from_log_scale``), ``[loc...,
    log_scale...]`` for unconstrained optimisation. With z = (x - loc) / scale:

    - d/dloc log p = z / scale; d/dscale log p = (z^2 - 1) / scale;
      d/dlog_scale log p = z^2 - 1;
    - pathwise: dx/dloc = 1, dx/dscale = e, dx/dlog_scale = scale * e.

    Example:
        >>> import numpy as np
        >>> Normal(loc=1.0, scale=2.0).param_names
        ('loc', 'scale')
        >>> Normal.from_log_scale([0.0, 1.0], [0.0, 0.0]).param_names
        ('loc[0]', 'loc[1]', 'log_scale[0]', 'log_scale[1]')
    """

    loc: Any
    scale: Any
    parameterization: Literal["scale", "log_scale"] = "scale"
    reparameterized = True

    def __post_init__(self) -> None:
        loc = as_finite_array(self.loc, "loc")
        scale = as_finite_array(self.scale, "scale", positive=True)
        if self.parameterization not in ("scale", "log_scale"):
            raise ValueError(
                f"parameterization must be 'scale' or 'log_scale', got "
                f"{short_repr(self.parameterization)}"
            )
        try:
            loc, scale = np.broadcast_arrays(loc, scale)
        except ValueError as exc:
            raise ValueError(
                f"loc and scale must have broadcastable shapes, got {loc.shape} and {scale.shape}"
            ) from exc
        object.__setattr__(self, "loc", np.array(loc))
        object.__setattr__(self, "scale", np.array(scale))

    @classmethod
    def from_log_scale(cls, loc: Any, log_scale: Any) -> Normal:
        """Normal with theta = [loc, log_scale] (scale = exp(log_scale))."""
        log_scale = as_finite_array(log_scale, "log_scale")
        return cls(loc, np.exp(log_scale), parameterization="log_scale")

    @property
    def event_shape(self) -> tuple[int, ...]:
        """Shape of loc."""
        return tuple(self.loc.shape)

    @property
    def _second(self) -> str:
        return "scale" if self.parameterization == "scale" else "log_scale"

    @property
    def param_names(self) -> tuple[str, ...]:
        """``loc[i]`` then ``scale[i]`` (or ``log_scale[i]``)."""
        ev = self.event_shape
        return tuple(_index_names("loc", ev) + _index_names(self._second, ev))

    def _blocks(self) -> list[tuple[str, tuple[int, ...]]]:
        return [("loc", self.event_shape), (self._second, self.event_shape)]

    @property
    def params(self) -> np.ndarray:
        """Flat [loc, scale] or [loc, log_scale]."""
        second = self.scale if self.parameterization == "scale" else np.log(self.scale)
        return np.concatenate([self.loc.ravel(), second.ravel()])

    def with_params(self, theta: Any) -> Normal:
        """Normal at the flat parameters ``theta`` (same parameterization)."""
        theta = as_finite_array(theta, "theta")
        if theta.shape != (self.n_params,):
            raise ValueError(f"theta must have shape ({self.n_params},), got {theta.shape}")
        d = self.n_params // 2
        loc, second = theta[:d].reshape(self.event_shape), theta[d:].reshape(self.event_shape)
        if self.parameterization == "scale":
            return Normal(loc, second)
        return Normal.from_log_scale(loc, second)

    def sample_noise(self, n: int, *, rng: np.random.Generator, reps: Any = ()) -> np.ndarray:
        """Standard normals, shape (*reps, n, *event)."""
        return rng.standard_normal(self._noise_shape(n, reps))

    def noise_from_uniform(self, u: np.ndarray) -> np.ndarray:
        """Standard normal quantile of u (clipped away from 0 and 1)."""
        tiny = np.finfo(np.float64).tiny
        return special.ndtri(np.clip(u, tiny, 1.0 - np.finfo(np.float64).epsneg))

    def transform(self, noise: np.ndarray) -> np.ndarray:
        """x = loc + scale * e."""
        return self.loc + self.scale * noise

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Sum over coordinates of the normal log density."""
        x = self._check_x(x)
        z = (x - self.loc) / self.scale
        lp = -0.5 * z * z - np.log(self.scale) - 0.5 * math.log(2 * math.pi)
        return lp.reshape(*lp.shape[: lp.ndim - len(self.event_shape)], -1).sum(-1)

    def score(self, x: np.ndarray) -> np.ndarray:
        """[z / scale, (z^2 - 1) / scale] (or [z / scale, z^2 - 1] for log_scale)."""
        x = self._check_x(x)
        z = (x - self.loc) / self.scale
        lead = x.shape[: x.ndim - len(self.event_shape)]
        second = z * z - 1.0
        if self.parameterization == "scale":
            second = second / self.scale
        d = self.n_params // 2
        out = np.empty((*lead, 2 * d))
        out[..., :d] = (z / self.scale).reshape(*lead, d)
        out[..., d:] = second.reshape(*lead, d)
        return out

    def transform_vjp(self, noise: np.ndarray, cotangent: np.ndarray) -> np.ndarray:
        """Pathwise terms: cotangent (df/dx, (*R, n, *event)) times dx/dtheta -> (*R, n, p)."""
        lead = noise.shape[: noise.ndim - len(self.event_shape)]
        d = self.n_params // 2
        second = cotangent * noise
        if self.parameterization == "log_scale":
            second = second * self.scale
        out = np.empty((*lead, 2 * d))
        out[..., :d] = cotangent.reshape(*lead, d)
        out[..., d:] = second.reshape(*lead, d)
        return out
