"""``Estimator``: a base estimator, a chain of control variates and a sampler, composed.

``make_estimator`` wraps a base estimator (``vartools.estimators.base``), a chain of
control variates (``vartools.control_variates``) and a sampler into one ``Estimator``,
which draws the batch, applies the control variates and returns the estimate (*R, p).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from vartools.core.batch import Batch
from vartools.core.control_variate import ControlVariate, chain
from vartools.core.problem import Problem
from vartools.core.validation import check_positive_int, check_reps, short_repr
from vartools.estimators.base import BaseEstimator
from vartools.samplers.sampling import Sampler, iid

__all__ = ["Estimator", "make_estimator"]


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
        ``chunk`` replicates at a time (default: about 1 MiB of float64 noise and at
        most 2 MiB of float64 estimates per chunk; 0 turns chunking off). Chunks are
        drawn in order from ``rng``, which for the iid sampler gives exactly the random
        numbers of one large draw, so the estimates equal the unchunked ones.
        Estimators with state, their own ``draw`` or a non-iid sampler are never
        chunked.
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

    #: Noise elements per chunk in ``__call__`` (2**17 float64 = 1 MiB), and estimate
    #: elements per chunk (2**18: many parameters per replicate also make big chunks).
    CHUNK_ELEMENTS = 2**17
    CHUNK_OUTPUT = 2**18

    def _chunk_rows(self, problem: Problem, n: Any, reps: tuple[int, ...], chunk: Any) -> int:
        """Replicates per chunk for ``__call__`` (0: do not chunk)."""
        if chunk is not None:
            chunk = check_positive_int(chunk, "chunk", minimum=0)
        if self.stateful or self.base.draw is not None or not self.sampler.iid:
            return 0
        if chunk is not None:
            return int(chunk)
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1 or not reps:
            return 0  # let batch() report a bad n
        inner = math.prod(reps[1:])  # (math.prod: np.prod costs ~20 us per call)
        per_rep = int(n) * inner * max(1, math.prod(problem.dist.event_shape))
        per_out = max(1, problem.dist.n_params * inner)
        # a distribution whose calls cost a fixed overhead (compiled JAX kernels) asks for
        # chunks of at least ``min_chunk_rows`` replicates (a capability flag)
        floor = int(getattr(problem.dist, "min_chunk_rows", 16))
        return max(floor, min(self.CHUNK_ELEMENTS // per_rep, self.CHUNK_OUTPUT // per_out))


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
        >>> from vartools.control_variates.baselines import loo_baseline
        >>> from vartools.estimators.base import score_function
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
    if base.draw is not None and not sampler.iid:
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
    if not sampler.iid:
        parts.append(sampler.name)
    if dt == np.float32:
        parts.append("f32")
    return Estimator(base=base, cv=cv, sampler=sampler, name=name or "+".join(parts), dtype=dt.type)
