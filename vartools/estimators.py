"""Base gradient estimators, the ``Batch`` they produce, and ``make_estimator``.

A base estimator maps ``(problem, n, rng, reps)`` to a ``Batch``: the samples
x (*R, n, *event), f(x) (*R, n), the score (*R, n, p) when the estimator has one,
and per-sample gradient terms (*R, n, p). The gradient estimate is always
``batch.terms.mean(axis=-2)``, shape (*R, p). Control variates (see
``vartools.control_variates``) rewrite the terms; ``make_estimator`` wraps a base
estimator, a chain of control variates and a sampler into one ``Estimator``.

Example:
    >>> import numpy as np
    >>> from vartools.distributions import Bernoulli
    >>> from vartools.problems import Problem
    >>> prob = Problem("toy", Bernoulli([0.0, 1.0]), lambda b: (b * b[..., ::-1]).sum(-1))
    >>> est = make_estimator(score_function)
    >>> g, state = est(prob, 4, rng=np.random.default_rng(0), reps=(10,))
    >>> g.shape
    (10, 2)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np

from vartools._validation import check_positive_int, check_reps, short_repr
from vartools.control_variates import ControlVariate, chain
from vartools.problems import Problem
from vartools.sampling import Sampler, iid

__all__ = [
    "BaseEstimator",
    "Batch",
    "DeferredScore",
    "Estimator",
    "chain_rule_estimator",
    "from_noise_via_samples",
    "make_estimator",
    "pathwise",
    "score_function",
]


class DeferredScore:
    """The score grad_theta log p(x) of samples x, computed on first use.

    A ``Batch`` may hold one in place of the (*R, n, p) score array: reading
    ``batch.score`` computes (once, shared by every copy of the batch) and returns
    the array, while ``Batch.estimate`` contracts the weights with it through
    ``dist.score_dot(x, weight)`` without ever building it, which is O(R n event)
    instead of O(R n p) for Bernoulli and categorical one-hot scores.

    Args:
        dist: the distribution the samples came from.
        x: samples (*R, n, *event).
    """

    __slots__ = ("_value", "dist", "x")

    def __init__(self, dist: Any, x: np.ndarray) -> None:
        self.dist = dist
        self.x = x
        self._value: np.ndarray | None = None

    def value(self) -> np.ndarray:
        """The score array (*R, n, p), computed on the first call."""
        if self._value is None:
            self._value = self.dist.score(self.x)
        return self._value

    def dot(self, w: np.ndarray) -> np.ndarray:
        """sum_i w_i score_i over the sample axis, (*R, p), without the (*R, n, p) array.

        Always by ``dist.score_dot``, so the result does not depend on whether the
        score array has been computed.
        """
        out: np.ndarray = self.dist.score_dot(self.x, w)
        return out


class _ScoreField:
    """Data descriptor behind ``Batch.score``: stores an array, None or a DeferredScore."""

    def __get__(self, obj: Any, objtype: Any = None) -> np.ndarray | None:
        if obj is None:
            raise AttributeError("score")  # no class-level default: score is required
        raw = obj.__dict__["_score"]
        return raw.value() if isinstance(raw, DeferredScore) else raw

    def __set__(self, obj: Any, value: np.ndarray | DeferredScore | None) -> None:
        obj.__dict__["_score"] = value


@dataclass(frozen=True, eq=False)
class Batch:
    """One batch of per-sample gradient terms, vectorised over replicates.

    The per-sample terms are kept in a factored form so that baselines cost
    O(R n) rather than O(R n p): ``terms = weight[..., None] * score + extra``,
    where either part may be None. ``terms`` materialises them (cached);
    ``estimate`` contracts them without an (R, n, p) temporary.

    Attributes:
        x: samples, (*R, n, *event).
        fx: f(x), (*R, n).
        score: grad_theta log p(x), (*R, n, p), or None for estimators without one; may
            be given as a ``DeferredScore``, computed when first read.
        n_evals: evaluations of f (or of f and its gradient) per estimate.
        weight: per-sample multiplier of the score, (*R, n), or None.
        extra: further per-sample terms, (*R, n, p), or None.
        noise: the base noise x was made from, (*R, n, *event), when known.
        independent: whether the n samples of a replicate are independent (False for
            antithetic or quasi-Monte Carlo draws; leave-one-out baselines need True).
        info: diagnostics added by control variates (fitted coefficients, ...).
    """

    x: np.ndarray
    fx: np.ndarray
    score: _ScoreField = _ScoreField()
    n_evals: int  # type: ignore[misc]
    weight: np.ndarray | None = None
    extra: np.ndarray | None = None
    noise: np.ndarray | None = None
    independent: bool = True
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.weight is None and self.extra is None:
            raise ValueError("a Batch needs per-sample terms: pass weight (with score) or extra")
        if self.weight is not None and not self.has_score:
            raise ValueError("a Batch with a score weight needs the score")

    @property
    def has_score(self) -> bool:
        """Whether the batch has a score (checked without computing a deferred one)."""
        return self.__dict__["_score"] is not None

    @property
    def n(self) -> int:
        """Number of samples per replicate."""
        return int(self.fx.shape[-1])

    @cached_property
    def terms(self) -> np.ndarray:
        """Per-sample gradient terms, (*R, n, p)."""
        out: np.ndarray | None = None
        if self.weight is not None:
            assert self.score is not None
            out = self.weight[..., None] * self.score
        if self.extra is not None:
            out = self.extra if out is None else out + self.extra
        assert out is not None
        return out

    @property
    def estimate(self) -> np.ndarray:
        """The gradient estimate terms.mean(axis=-2), shape (*R, p).

        Always computed from the factored form (never from the cached ``terms``), so the
        value is bit-for-bit the same whether or not ``terms`` was read before.
        """
        est: np.ndarray | None = None
        if self.weight is not None:
            raw = self.__dict__["_score"]
            if isinstance(raw, DeferredScore):
                est = raw.dot(self.weight) / self.n
            else:
                est = np.matmul(self.weight[..., None, :], raw)[..., 0, :] / self.n
        if self.extra is not None:
            e = self.extra.mean(axis=-2)
            est = e if est is None else est + e
        assert est is not None
        return est

    def with_terms(self, terms: np.ndarray) -> Batch:
        """A copy whose per-sample terms are ``terms`` (*R, n, p)."""
        return self.replace(weight=None, extra=terms)

    def replace(self, **changes: Any) -> Batch:
        """A copy with some fields changed (inputs are never mutated).

        A deferred score stays deferred (``dataclasses.replace`` would compute it).
        """
        changes.setdefault("score", self.__dict__["_score"])
        return replace(self, **changes)

    def with_info(self, **items: Any) -> Batch:
        """A copy with diagnostics added to ``info``."""
        return self.replace(info={**self.info, **items})


DrawFn = Callable[..., Batch]


@dataclass(frozen=True, eq=False)
class BaseEstimator:
    """A base estimator: the unit that draws samples and produces per-sample terms.

    Args:
        name: label used in tables.
        from_noise: (problem, noise, independent) -> Batch, for the sampler's noise
            (*R, n, *event).
        from_samples: (problem, x) -> Batch when the terms depend on the outcomes x
            only (exact enumeration of discrete problems uses it), else None.
        draw: (problem, n, rng, reps, sampler) -> Batch for estimators that draw in
            their own way (ARM, measure-valued); default: the sampler's noise, then
            ``from_noise``.
        unbiased: whether E[estimate] is the true gradient.
        needs_grad: whether f's gradient is required.
        per_sample: whether each sample's terms depend on that sample only.
        doc: the instance's docstring (formula, paper, cost, bias).
        oracle: (problem, estimator, n, state) -> exact (mean, variance) of the n-sample
            estimate, for estimators that ``vartools.exact`` cannot enumerate or integrate
            generically (sum-and-sample, ARM/DisARM, measure-valued); it raises ValueError
            or TypeError where it does not apply.
    """

    name: str
    from_noise: Callable[[Problem, np.ndarray, bool], Batch]
    from_samples: Callable[[Problem, np.ndarray], Batch] | None = None
    draw: DrawFn | None = None
    unbiased: bool = True
    needs_grad: bool = False
    per_sample: bool = True
    doc: str = ""
    oracle: Callable[..., tuple[np.ndarray, np.ndarray]] | None = None

    def __post_init__(self) -> None:
        if self.doc:  # the instance's help() text: formula, source, cost, bias
            object.__setattr__(self, "__doc__", self.doc)

    def __call__(
        self,
        problem: Problem,
        n: int,
        *,
        rng: np.random.Generator,
        reps: Any = (),
        sampler: Sampler | None = None,
        dtype: Any = np.float64,
    ) -> Batch:
        """Draw one batch: n samples per replicate, shape (*reps, n, ...).

        ``dtype=np.float32`` draws the noise (and so x and the score) in single
        precision (the opt-in fast mode; estimators with their own ``draw`` ignore it).
        """
        sampler = iid() if sampler is None else sampler
        if self.draw is not None:
            return self.draw(problem, n, rng, reps, sampler)
        if np.dtype(dtype) == np.float32 and sampler.name == "iid":
            noise = problem.dist.sample_noise_as(n, rng=rng, reps=reps, dtype=np.float32)
        else:
            noise = sampler.draw(problem.dist, n, rng=rng, reps=reps)
            if np.dtype(dtype) == np.float32:
                noise = noise.astype(np.float32)
        return self.from_noise(problem, noise, sampler.independent)


def from_noise_via_samples(
    from_samples: Callable[..., Batch],
) -> Callable[[Problem, np.ndarray, bool], Batch]:
    """The ``from_noise`` of a base estimator that depends on the outcomes x only.

    Args:
        from_samples: ``(problem, x, noise, independent) -> Batch``; it receives the noise
            and the independence flag to record them in the batch.

    Returns:
        ``from_noise(problem, noise, independent=True)``, which computes
        x = ``problem.dist.transform(noise)`` and calls ``from_samples``.
    """

    def from_noise(problem: Problem, noise: np.ndarray, independent: bool = True) -> Batch:
        return from_samples(problem, problem.dist.transform(noise), noise, independent)

    return from_noise


def chain_rule_estimator(
    base: BaseEstimator,
    inner: Callable[[Problem], Problem],
    lift: Callable[[Batch, Problem], Batch],
    *,
    doc: str = "",
) -> BaseEstimator:
    """A base estimator that runs ``base`` on another parameterisation and maps the batch back.

    For a problem whose parameters theta determine the parameters phi(theta) of an inner
    problem with the same outcomes, ``base`` estimates grad_phi on ``inner(problem)`` and
    ``lift(batch, problem)`` applies the chain rule to its terms (and score), e.g. summing
    the per-coordinate terms of a shared logit or multiplying logit terms by a linear
    encoder's inputs. Unbiasedness, the noise and the f-evaluation count carry over.

    Args:
        base: the base estimator of the inner gradient.
        inner: maps the outer problem to the inner one (same outcomes x and noise).
        lift: maps the inner batch, given the outer problem, to the outer batch.
        doc: the new estimator's help text.

    Returns:
        A ``BaseEstimator`` with the name of ``base`` (and its ``from_samples`` and ``draw``
        when ``base`` has them).
    """

    def from_noise(prob: Problem, noise: np.ndarray, independent: bool = True) -> Batch:
        return lift(base.from_noise(inner(prob), noise, independent), prob)

    def from_samples(prob: Problem, x: np.ndarray) -> Batch:
        assert base.from_samples is not None
        return lift(base.from_samples(inner(prob), x), prob)

    draw = None
    if base.draw is not None:

        def draw(prob: Problem, n: int, rng: Any, reps: Any, sampler: Sampler) -> Batch:
            assert base.draw is not None
            return lift(base.draw(inner(prob), n, rng, reps, sampler), prob)

    return BaseEstimator(
        name=base.name,
        from_noise=from_noise,
        from_samples=from_samples if base.from_samples is not None else None,
        draw=draw,
        unbiased=base.unbiased,
        per_sample=base.per_sample,
        doc=doc,
    )


def _sf_from_samples(
    problem: Problem, x: np.ndarray, noise: np.ndarray | None = None, independent: bool = True
) -> Batch:
    fx = problem.evaluate(x)
    return Batch(
        x=x,
        fx=fx,
        score=DeferredScore(problem.dist, x),
        weight=fx,
        n_evals=int(fx.shape[-1]),
        noise=noise,
        independent=independent,
    )


score_function = BaseEstimator(
    name="sf",
    from_noise=from_noise_via_samples(_sf_from_samples),
    from_samples=_sf_from_samples,
    doc="""Score-function (REINFORCE, likelihood-ratio) estimator.

terms_i = f(x_i) grad_theta log p(x_i; theta), x_i ~ p (Williams 1992; Mohamed et al.
2020, eq. 13). Unbiased; n evaluations of f per estimate.
""",
)


def _pathwise_from_noise(problem: Problem, noise: np.ndarray, independent: bool = True) -> Batch:
    dist = problem.dist
    if not dist.reparameterized:
        raise TypeError(
            f"the pathwise estimator needs a reparameterised distribution (e.g. Normal); "
            f"problem {problem.name!r} samples from {type(dist).__name__}; use score_function"
        )
    x = dist.transform(noise)
    grad = problem.evaluate_grad(x)
    fx = problem.evaluate(x)
    terms = dist.transform_vjp(noise, grad)  # type: ignore[attr-defined]
    return Batch(
        x=x,
        fx=fx,
        score=None,
        extra=terms,
        n_evals=int(fx.shape[-1]),
        noise=noise,
        independent=independent,
    )


pathwise = BaseEstimator(
    name="pathwise",
    from_noise=_pathwise_from_noise,
    needs_grad=True,
    doc="""Pathwise (reparameterisation) estimator.

terms_i = grad_x f(x_i) dx/dtheta at x_i = loc + scale * e_i (Mohamed et al. 2020, sec. 5).
Unbiased for f continuous and differentiable almost everywhere (biased for
discontinuous f, e.g. a digital option's delta); n evaluations of f and its gradient.
""",
)


@dataclass(frozen=True, eq=False)
class Estimator:
    """A base estimator, a chain of control variates and a sampler, composed.

    Build with ``make_estimator``. Calling it returns ``(estimate, state)`` with the
    estimate of shape (*reps, p); ``batch`` returns the whole ``Batch``.
    """

    base: BaseEstimator
    cv: ControlVariate
    sampler: Sampler
    name: str
    dtype: Any = np.float64

    @property
    def biased(self) -> bool:
        """True when the base estimator or a control variate is knowingly biased."""
        return (not self.base.unbiased) or self.cv.biased or (not self.sampler.unbiased)

    @property
    def stateful(self) -> bool:
        """True when a control variate keeps state between batches."""
        return self.cv.stateful

    @property
    def min_n(self) -> int:
        """Smallest number of samples per estimate the chain accepts."""
        return max(self.cv.min_n, self.sampler.min_n)

    def init(self, problem: Problem) -> Any:
        """Initial state of the control-variate chain for ``problem``."""
        return self.cv.init(problem)

    def check(self, problem: Problem, n: int) -> int:
        """Validate ``n`` and the problem for this estimator; return n as an int."""
        n = check_positive_int(n, "n")
        if n < self.min_n:
            raise ValueError(
                f"n={n} is too small for estimator {self.name!r}: it needs n >= {self.min_n} "
                "samples per estimate (a leave-one-out baseline needs at least 2)"
            )
        if self.base.needs_grad and problem.grad_f is None:
            problem.evaluate_grad(np.zeros((1, *problem.dist.event_shape)))  # raises clearly
        return n

    def batch(
        self,
        problem: Problem,
        n: int,
        *,
        rng: np.random.Generator,
        reps: Any = (),
        state: Any = None,
    ) -> tuple[Batch, Any]:
        """Draw a batch and apply the control variates: ``(batch, new_state)``."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError(
                f"rng must be a numpy.random.Generator (e.g. np.random.default_rng(seed)), "
                f"got {short_repr(rng)}"
            )
        n = self.check(problem, n)
        reps = check_reps(reps)
        if state is None:
            state = self.init(problem)
        b = self.base(problem, n, rng=rng, reps=reps, sampler=self.sampler, dtype=self.dtype)
        return self.cv.apply(b, state, problem)

    def from_samples(self, problem: Problem, x: np.ndarray, state: Any = None) -> Batch:
        """The batch for given outcomes x (*R, n, *event): used by exact enumeration."""
        if self.base.from_samples is None:
            raise TypeError(
                f"estimator {self.name!r} does not depend on the outcomes alone and cannot be "
                "enumerated; measure it by Monte Carlo"
            )
        n = self.check(problem, x.shape[x.ndim - len(problem.dist.event_shape) - 1])
        del n
        if state is None:
            state = self.init(problem)
        b = self.base.from_samples(problem, x)
        return self.cv.apply(b, state, problem)[0]

    def from_noise(self, problem: Problem, noise: np.ndarray, state: Any = None) -> Batch:
        """The batch for given iid base noise (*R, n, *event): used by quadrature oracles."""
        if self.base.draw is not None:
            raise TypeError(
                f"estimator {self.name!r} draws its own randomness and has no noise mapping"
            )
        if state is None:
            state = self.init(problem)
        return self.cv.apply(self.base.from_noise(problem, noise, True), state, problem)[0]

    def __call__(
        self,
        problem: Problem,
        n: int,
        *,
        rng: np.random.Generator,
        reps: Any = (),
        state: Any = None,
        chunk: int | None = None,
    ) -> tuple[np.ndarray, Any]:
        """Draw one estimate per replicate: ``(estimate (*reps, p), new_state)``.

        Many replicates are computed in chunks along the first replicate axis, so
        that the (chunk, n, p) temporaries stay in cache and memory stays bounded:
        ``chunk`` replicates at a time (default: about 1 MiB of float64 noise per
        chunk; 0 turns chunking off). Chunks are drawn in order from ``rng``, which
        for the iid sampler gives exactly the random numbers of one large draw, so
        the estimates equal the unchunked ones. Estimators with state, their own
        ``draw`` or a non-iid sampler are never chunked.
        """
        reps = check_reps(reps)
        rows = self._chunk_rows(problem, n, reps, chunk)
        if rows == 0 or not reps or reps[0] <= rows:
            b, state = self.batch(problem, n, rng=rng, reps=reps, state=state)
            return b.estimate, state
        out: np.ndarray | None = None
        for start in range(0, reps[0], rows):
            size = min(rows, reps[0] - start)
            b, _ = self.batch(problem, n, rng=rng, reps=(size, *reps[1:]), state=state)
            e = b.estimate
            if out is None:  # filled in place: no list of parts to concatenate
                out = np.empty((reps[0], *e.shape[1:]), dtype=e.dtype)
            out[start : start + size] = e
        assert out is not None
        return out, state if state is not None else self.init(problem)

    #: Noise elements per chunk in ``__call__`` (2**17 float64 = 1 MiB).
    CHUNK_ELEMENTS = 2**17

    def _chunk_rows(self, problem: Problem, n: Any, reps: tuple[int, ...], chunk: Any) -> int:
        """Replicates per chunk for ``__call__`` (0: do not chunk)."""
        if chunk is not None:
            chunk = check_positive_int(chunk, "chunk", minimum=0)
        if self.stateful or self.base.draw is not None or self.sampler.name != "iid":
            return 0
        if chunk is not None:
            return int(chunk)
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1 or not reps:
            return 0  # let batch() report a bad n
        per_rep = (
            int(n)
            * int(np.prod(reps[1:], dtype=np.int64))
            * max(1, int(np.prod(problem.dist.event_shape, dtype=np.int64)))
        )
        return max(16, self.CHUNK_ELEMENTS // per_rep)


def make_estimator(
    base: BaseEstimator,
    *cvs: ControlVariate,
    sampler: Sampler | None = None,
    name: str | None = None,
    dtype: Any = "float64",
) -> Estimator:
    """Compose a base estimator with control variates (applied in order) and a sampler.

    Args:
        base: e.g. ``score_function`` or ``pathwise``.
        *cvs: control variates, applied in the order given.
        sampler: how the noise is drawn (default ``iid()``).
        name: label for tables (default: the parts joined with ``+``, plus ``+f32``
            in single precision).
        dtype: ``"float64"`` (default) or ``"float32"``: the opt-in single-precision
            mode draws float32 noise and computes x, the score and the estimate in
            float32 (about twice as fast; f values and the statistics of
            ``measure_variance`` stay float64). Its random stream differs from float64's.

    Returns:
        An ``Estimator``.

    Example:
        >>> from vartools.control_variates import loo_baseline
        >>> make_estimator(score_function, loo_baseline()).name
        'sf+loo'
    """
    if not isinstance(base, BaseEstimator):
        raise TypeError(
            f"base must be a BaseEstimator such as vartools.score_function, got {short_repr(base)}"
        )
    for i, cv in enumerate(cvs):
        if not isinstance(cv, ControlVariate):
            raise TypeError(
                f"control variate {i} must be a ControlVariate (e.g. vartools.loo_baseline()), "
                f"got {short_repr(cv)}"
            )
    sampler = iid() if sampler is None else sampler
    if not isinstance(sampler, Sampler):
        raise TypeError(f"sampler must be a vartools Sampler, got {short_repr(sampler)}")
    if base.draw is not None and sampler.name != "iid":
        raise ValueError(
            f"base estimator {base.name!r} draws its own samples and cannot use sampler "
            f"{sampler.name!r}; use the default iid sampler"
        )
    cv = chain(*cvs)
    if cv.requires_independent and not sampler.independent:
        raise ValueError(
            f"control variate {cv.name!r} needs independent samples but sampler "
            f"{sampler.name!r} draws dependent ones, which would bias the estimate; use a "
            "baseline fitted on other batches (e.g. ema_baseline) with this sampler"
        )
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be 'float64' or 'float32', got {short_repr(dtype)}") from exc
    if dt not in (np.float64, np.float32):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {short_repr(dtype)}")
    parts = [base.name, *(c.name for c in cvs)]
    if sampler.name != "iid":
        parts.append(sampler.name)
    if dt == np.float32:
        parts.append("f32")
    return Estimator(base=base, cv=cv, sampler=sampler, name=name or "+".join(parts), dtype=dt.type)
