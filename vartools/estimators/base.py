"""Base gradient estimators: the unit that draws samples and produces a ``Batch``.

A base estimator maps ``(problem, n, rng, reps)`` to a ``Batch``. This module holds
``BaseEstimator``, the helpers that build one (``from_noise_via_samples``,
``chain_rule_estimator``) and the two classic instances, ``score_function`` and
``pathwise``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from vartools.core.batch import Batch, DeferredScore
from vartools.core.problem import Problem
from vartools.samplers.sampling import Sampler, iid

__all__ = [
    "BaseEstimator",
    "DrawFn",
    "chain_rule_estimator",
    "from_noise_via_samples",
    "pathwise",
    "score_function",
]


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
            estimate, for estimators that ``vartools.oracles.exact`` cannot enumerate or
            integrate generically (sum-and-sample, ARM/DisARM, measure-valued); it raises
            ``vartools.core.errors.NoOracleError`` where it does not apply (and nothing
            else: any other exception is a bug and propagates). Attached to the object,
            so a renamed estimator keeps it.
        sf_terms: True when terms_i = f(x_i) score(x_i) with the batch's score (the plain
            score-function estimator): closed-form oracles of score-function control
            variates (the RLOO variance) apply to it. Dispatch reads this flag and
            ``oracle``, never ``name``.
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
    sf_terms: bool = False

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
        if np.dtype(dtype) == np.float32 and sampler.iid:
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
    # integer outcomes (categories) do not carry the precision of float32 noise
    single = noise is not None and noise.dtype == np.float32 and x.dtype != np.float32
    return Batch(
        x=x,
        fx=fx,
        score=DeferredScore(problem.dist, x, np.float32 if single else None),
        weight=fx,
        n_evals=int(fx.shape[-1]),
        noise=noise,
        independent=independent,
    )


score_function = BaseEstimator(
    name="sf",
    from_noise=from_noise_via_samples(_sf_from_samples),
    from_samples=_sf_from_samples,
    sf_terms=True,
    doc="""Score-function (REINFORCE, likelihood-ratio) estimator.

terms_i = f(x_i) grad_theta log p(x_i; theta), x_i ~ p (Williams 1992; Mohamed et al.
2020, eq. 13). Unbiased; n evaluations of f per estimate.
""",
)


def _pathwise_from_noise(problem: Problem, noise: np.ndarray, independent: bool = True) -> Batch:
    dist = problem.dist
    if not dist.supports("pathwise"):
        dist.not_supported(
            "pathwise",
            "the pathwise estimator",
            f"it needs a reparameterised distribution (e.g. Normal); problem {problem.name!r} "
            f"samples from {type(dist).__name__}; use score_function",
        )
    x = dist.transform(noise)
    grad = problem.evaluate_grad(x)
    fx = problem.evaluate(x)
    terms = dist.transform_vjp(noise, grad)
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
