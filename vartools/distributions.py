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

from vartools._validation import (
    as_finite_array,
    check_positive_int,
    check_reps,
    check_rng,
    short_repr,
)

__all__ = [
    "Bernoulli",
    "Categorical",
    "Distribution",
    "Normal",
    "UniformNoise",
    "DEFAULT_SUPPORT_BUDGET",
]

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
        ``Batch`` is ``score_dot(x, weight) / n``).
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


class UniformNoise(Distribution):
    """Base for discrete distributions sampled by the inverse CDF of uniforms on [0, 1).

    The noise is the uniform itself (``noise_from_uniform`` is the identity), one per
    coordinate of the event, drawn directly in float32 or float64.
    """

    def sample_noise(
        self, n: int, *, rng: np.random.Generator, reps: Any = (), dtype: Any = np.float64
    ) -> np.ndarray:
        """Uniforms on [0, 1), shape (*reps, n, *event)."""
        shape = self._noise_shape(n, reps, rng)  # checks rng first
        return rng.random(shape, dtype=_noise_dtype(dtype))

    def sample_noise_as(
        self, n: int, *, rng: np.random.Generator, reps: Any = (), dtype: Any = np.float64
    ) -> np.ndarray:
        """Base noise drawn directly in ``dtype`` (float32 or float64)."""
        return self.sample_noise(n, rng=rng, reps=reps, dtype=dtype)

    def noise_from_uniform(self, u: np.ndarray) -> np.ndarray:
        """Identity: the noise is the uniform."""
        return u


@dataclass(frozen=True, eq=False)
class Bernoulli(UniformNoise):
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

    def _blocks(self) -> list[tuple[str, tuple[int, ...]]]:
        return [("logits", self.event_shape)]

    def with_params(self, theta: Any) -> Bernoulli:
        """Bernoulli at the flat logits ``theta``."""
        return Bernoulli(self._check_theta(theta).reshape(self.event_shape))

    @property
    def probs(self) -> np.ndarray:
        """P(x = 1) = sigmoid(logits)."""
        return special.expit(self.logits)

    def transform(self, noise: np.ndarray) -> np.ndarray:
        """Inverse CDF: x = 1[u > 1 - sigmoid(logits)] as float64 (float32 for float32 noise)."""
        return (noise > special.expit(-self.logits)).astype(_float_of(noise))

    def _check_outcomes(self, x: Any) -> np.ndarray:
        x = self._check_x(x)
        ok = (x == 0) | (x == 1)
        if not ok.all():
            bad = x[~ok].ravel()[0]
            raise ValueError(
                f"x must hold Bernoulli outcomes 0 or 1, got a value of {bad!r}; pass samples "
                "of this distribution"
            )
        return x

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Sum over coordinates of x logits - softplus(logits)."""
        x = self._check_outcomes(x)
        lp = x * self.logits - np.logaddexp(0.0, self.logits)
        return lp.reshape(*lp.shape[: lp.ndim - len(self.event_shape)], -1).sum(-1)

    def score(self, x: np.ndarray) -> np.ndarray:
        """x - sigmoid(logits), flattened to (*R, n, p)."""
        x = self._check_outcomes(x)
        s = x - self.probs.astype(_float_of(x))
        return s.reshape(*s.shape[: s.ndim - len(self.event_shape)], self.n_params)

    def score_dot(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """sum_i w_i (x_i - sigmoid(logits)) = w @ x - (sum_i w_i) sigmoid(logits), (*R, p)."""
        x = self._check_x(x)
        dt = _float_of(x)
        lead = x.shape[: x.ndim - len(self.event_shape)]
        xf = x.reshape(*lead, self.n_params)
        if xf.dtype != dt:
            xf = xf.astype(dt)
        w = np.asarray(w).astype(dt, copy=False)
        out = np.matmul(w[..., None, :], xf)[..., 0, :]
        out -= w.sum(-1)[..., None] * self.probs.ravel().astype(dt)
        return out

    def support(self, budget: int = DEFAULT_SUPPORT_BUDGET) -> tuple[np.ndarray, np.ndarray]:
        """All 2^p joint outcomes (first coordinate varies slowest) and their probabilities."""
        p = self.n_params
        _check_budget(2.0**p, budget, f"{p} Bernoullis")
        grid = np.array(list(itertools.product((0.0, 1.0), repeat=p))).reshape(
            -1, *self.event_shape
        )
        return grid, np.exp(self.log_prob(grid[:, None]))[:, 0]


@dataclass(frozen=True, eq=False)
class Categorical(UniformNoise):
    """Independent categoricals; ``logits`` has shape (*batch, K), categories on the last axis.

    theta is the flattened logits (p = prod(batch) * K) and the score is
    ``onehot(x) - softmax(logits)``. Outcomes are integer category indices of
    shape (*R, n, *batch) stored as int64. Sampling is by inverse CDF of one
    uniform per categorical (not Gumbel-max): a guide table of 4K buckets per
    categorical gives a starting category and a few vectorised compare-and-step
    passes finish the search (Devroye 1986, sec. III.2.4), falling back to a binary
    search when the probabilities are so uneven that more passes would be needed.

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
        object.__setattr__(self, "_guide", None)

    #: Buckets per category in the inverse-CDF guide table, and the most
    #: compare-and-step passes it may need before falling back to a binary search.
    _GUIDE_BUCKETS = 4
    _GUIDE_MAX_STEPS = 12

    def _guide_table(self) -> tuple[np.ndarray, np.ndarray, int, int]:
        """(start, padded flat cdf, buckets M, passes) for the guide-table inverse CDF.

        start[j * M + m] is a lower bound on #{k : cdf[j, k] <= u} for every u with
        floor(u M) = m (a margin of 0.01 bucket covers rounding of u M, also in
        float32); ``passes`` bounds how far the true count can lie above it.
        """
        cached = self._guide  # type: ignore[attr-defined]
        if cached is not None:
            return cached
        cdf: np.ndarray = self._cdf  # type: ignore[attr-defined]
        k = self.n_categories
        nb = math.prod(self.event_shape)
        m = self._GUIDE_BUCKETS * k
        key = cdf.reshape(nb, k) * m
        rows = np.arange(nb)[:, None]
        delta = 0.01
        # point k counts in start[j, b] for b >= floor(key + delta) + 1 (then key < b - delta)
        first = np.clip(np.floor(key + delta).astype(np.int64) + 1, 0, m)
        hist = np.bincount((rows * (m + 1) + first).ravel(), minlength=nb * (m + 1))
        start = np.cumsum(hist.reshape(nb, m + 1), axis=1)[:, :m]
        # and may be <= u for b >= ceil(key - 1 - delta) (then key <= b + 1 + delta)
        last = np.clip(np.ceil(key - 1.0 - delta).astype(np.int64), 0, m)
        hist = np.bincount((rows * (m + 1) + last).ravel(), minlength=nb * (m + 1))
        end = np.cumsum(hist.reshape(nb, m + 1), axis=1)[:, :m]
        passes = int((end - start).max())
        padded = np.concatenate([cdf.reshape(nb, k), np.full((nb, 1), np.inf)], axis=1)
        out = (start.ravel(), padded.ravel(), m, passes)
        object.__setattr__(self, "_guide", out)
        return out

    @property
    def n_categories(self) -> int:
        """Number K of categories."""
        return int(self.logits.shape[-1])

    @property
    def event_shape(self) -> tuple[int, ...]:
        """The batch shape of the logits (one integer outcome per categorical)."""
        return tuple(self.logits.shape[:-1])

    def _blocks(self) -> list[tuple[str, tuple[int, ...]]]:
        return [("logits", tuple(self.logits.shape))]

    def with_params(self, theta: Any) -> Categorical:
        """Categorical at the flat logits ``theta`` (names ``logits[...]`` over (*batch, K))."""
        return Categorical(self._check_theta(theta).reshape(self.logits.shape))

    @property
    def probs(self) -> np.ndarray:
        """softmax(logits), shape (*batch, K)."""
        return self._probs.copy()  # type: ignore[attr-defined]

    def transform(self, noise: np.ndarray) -> np.ndarray:
        """Inverse CDF: the smallest k with cdf_k > u (= #{k : cdf_k <= u}), as int64."""
        cdf: np.ndarray = self._cdf  # type: ignore[attr-defined]
        k = self.n_categories
        nb = math.prod(self.event_shape)
        start, padded, m, passes = self._guide_table()
        if passes <= self._GUIDE_MAX_STEPS:
            u = noise.reshape(*noise.shape[: noise.ndim - len(self.event_shape)], nb)
            j = np.arange(nb)
            bucket = np.minimum((u * m).astype(np.int64), m - 1)
            np.maximum(bucket, 0, out=bucket)
            bucket += j * m
            idx = start[bucket]
            base = j * (k + 1)
            for _ in range(passes):
                idx += padded[base + idx] <= u
            return np.minimum(idx, k - 1).reshape(noise.shape)
        # Very uneven probabilities: one exact binary search per categorical (a loop over
        # the B categoricals, vectorised over replicates and samples).
        u = noise.reshape(*noise.shape[: noise.ndim - len(self.event_shape)], nb)
        flat = cdf.reshape(nb, k)
        x = np.empty(u.shape, dtype=np.int64)
        for c in range(nb):
            x[..., c] = np.searchsorted(flat[c], u[..., c], side="right")
        return np.minimum(x, k - 1).reshape(noise.shape)

    def _check_outcomes(self, x: Any) -> np.ndarray:
        x = self._check_x(x)
        k = self.n_categories
        if x.size and (
            not (np.issubdtype(x.dtype, np.integer) or np.all(x == np.floor(x)))
            or x.min() < 0
            or x.max() >= k
        ):
            raise ValueError(
                f"x must hold integer category indices in [0, {k}), got values in "
                f"[{x.min()!r}, {x.max()!r}] of dtype {x.dtype}"
            )
        return x

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Sum over categoricals of log softmax(logits)[x]."""
        x = self._check_outcomes(x)
        logp = special.log_softmax(self.logits, axis=-1)
        lead = x.shape[: x.ndim - len(self.event_shape)]
        nb = math.prod(self.event_shape)
        flat = x.reshape(*lead, nb).astype(np.int64)
        vals = logp.reshape(nb, -1)[np.arange(nb), flat]
        return vals.sum(-1)

    def score(self, x: np.ndarray) -> np.ndarray:
        """onehot(x) - softmax(logits), flattened to (*R, n, p)."""
        x = self._check_outcomes(x)
        k = self.n_categories
        s = (x[..., None] == np.arange(k)).astype(np.float64) - self._probs  # type: ignore[attr-defined]
        return s.reshape(*x.shape[: x.ndim - len(self.event_shape)], self.n_params)

    def score_dot(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """sum_i w_i (onehot(x_i) - softmax) by a scatter-add: O(R n B), no (R, n, p) array."""
        x = self._check_x(x)
        k = self.n_categories
        nb = math.prod(self.event_shape)
        lead = x.shape[: x.ndim - len(self.event_shape) - 1]
        n = x.shape[len(lead)]
        r = math.prod(lead)
        w = np.broadcast_to(np.asarray(w, dtype=np.float64), (*lead, n))
        xi = x.reshape(r, n, nb).astype(np.int64, copy=False)
        if xi.size and (xi.min() < 0 or xi.max() >= k):
            raise ValueError(
                f"x must hold category indices in [0, {k}), got {xi.min()}..{xi.max()}"
            )
        cell = (np.arange(r)[:, None, None] * nb + np.arange(nb)) * k + xi
        wb = np.broadcast_to(w.reshape(r, n, 1), cell.shape)
        out = np.bincount(cell.ravel(), weights=wb.ravel(), minlength=r * nb * k).reshape(r, -1)
        out -= w.reshape(r, n).sum(-1)[:, None] * self._probs.ravel()  # type: ignore[attr-defined]
        return out.reshape(*lead, self.n_params)

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
        with np.errstate(over="ignore", under="ignore"):
            scale = np.exp(log_scale)
        if not (np.all(np.isfinite(scale)) and np.all(scale > 0)):
            raise ValueError(
                f"log_scale must be in about [-745, 709] so that scale = exp(log_scale) is a "
                f"positive float64, got {short_repr(log_scale)}"
            )
        return cls(loc, scale, parameterization="log_scale")

    @property
    def event_shape(self) -> tuple[int, ...]:
        """Shape of loc."""
        return tuple(self.loc.shape)

    @property
    def _second(self) -> str:
        return "scale" if self.parameterization == "scale" else "log_scale"

    def _blocks(self) -> list[tuple[str, tuple[int, ...]]]:
        return [("loc", self.event_shape), (self._second, self.event_shape)]

    @property
    def params(self) -> np.ndarray:
        """Flat [loc, scale] or [loc, log_scale]."""
        second = self.scale if self.parameterization == "scale" else np.log(self.scale)
        return np.concatenate([self.loc.ravel(), second.ravel()])

    def with_params(self, theta: Any) -> Normal:
        """Normal at the flat parameters ``theta`` (same parameterization)."""
        theta = self._check_theta(theta)
        d = self.n_params // 2
        loc, second = theta[:d].reshape(self.event_shape), theta[d:].reshape(self.event_shape)
        if self.parameterization == "scale":
            return Normal(loc, second)
        return Normal.from_log_scale(loc, second)

    def sample_noise(
        self, n: int, *, rng: np.random.Generator, reps: Any = (), dtype: Any = np.float64
    ) -> np.ndarray:
        """Standard normals, shape (*reps, n, *event)."""
        shape = self._noise_shape(n, reps, rng)  # checks rng first
        return rng.standard_normal(shape, dtype=_noise_dtype(dtype))

    def sample_noise_as(
        self, n: int, *, rng: np.random.Generator, reps: Any = (), dtype: Any = np.float64
    ) -> np.ndarray:
        """Base noise drawn directly in ``dtype`` (float32 or float64)."""
        return self.sample_noise(n, rng=rng, reps=reps, dtype=dtype)

    def noise_from_uniform(self, u: np.ndarray) -> np.ndarray:
        """Standard normal quantile of u (clipped away from 0 and 1)."""
        tiny = np.finfo(np.float64).tiny
        return special.ndtri(np.clip(u, tiny, 1.0 - np.finfo(np.float64).epsneg))

    def transform(self, noise: np.ndarray) -> np.ndarray:
        """x = loc + scale * e (float32 for float32 noise)."""
        dt = _float_of(noise)
        x = noise * self.scale.astype(dt)
        x += self.loc.astype(dt)
        return x

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Sum over coordinates of the normal log density."""
        x = self._check_x(x)
        z = (x - self.loc) / self.scale
        lp = -0.5 * z * z - np.log(self.scale) - 0.5 * math.log(2 * math.pi)
        return lp.reshape(*lp.shape[: lp.ndim - len(self.event_shape)], -1).sum(-1)

    def score(self, x: np.ndarray) -> np.ndarray:
        """[z / scale, (z^2 - 1) / scale] (or [z / scale, z^2 - 1] for log_scale)."""
        x = self._check_x(x)
        dt = _float_of(x)
        lead = x.shape[: x.ndim - len(self.event_shape)]
        d = self.n_params // 2
        loc = self.loc.astype(dt).reshape(d)
        scale = self.scale.astype(dt).reshape(d)
        out = np.empty((*lead, 2 * d), dtype=dt)
        first, second = out[..., :d], out[..., d:]
        # written in place, block by block: no (*R, n, p) temporaries beyond the result
        # (the same operations as (x - loc) / scale etc., so the same bits)
        np.subtract(x.reshape(*lead, d), loc, out=first)
        first /= scale  # z
        np.multiply(first, first, out=second)
        second -= 1.0  # z^2 - 1
        first /= scale  # z / scale
        if self.parameterization == "scale":
            second /= scale  # (z^2 - 1) / scale
        return out

    def score_dot(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """[w @ z / scale, (w @ z^2 - sum w) / scale] (or without / scale for log_scale)."""
        x = self._check_x(x)
        dt = _float_of(x)
        lead = x.shape[: x.ndim - len(self.event_shape)]
        d = self.n_params // 2
        z = ((x - self.loc.astype(dt)) / self.scale.astype(dt)).reshape(*lead, d)
        w = np.asarray(w).astype(dt, copy=False)
        wz = np.matmul(w[..., None, :], z)[..., 0, :]
        z *= z
        wz2 = np.matmul(w[..., None, :], z)[..., 0, :] - w.sum(-1)[..., None]
        inv = 1.0 / self.scale.ravel().astype(dt)
        out = np.empty((*lead[:-1], 2 * d), dtype=dt)
        out[..., :d] = wz * inv
        out[..., d:] = wz2 * inv if self.parameterization == "scale" else wz2
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
