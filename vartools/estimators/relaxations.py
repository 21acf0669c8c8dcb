"""Knowingly biased relaxations of discrete samples: straight-through and Gumbel-softmax.

``straight_through`` and ``gumbel_softmax`` (Concrete) are flagged ``unbiased=False``.
They need f and its gradient on relaxed values: for a Bernoulli, f on real vectors
(the problem's f and ``grad_f`` by default, so f must be defined, and
differentiable, between 0 and 1); for a Categorical, an ``Objective`` on one-hot
vectors (*R, n, *batch, K) passed as ``relaxed=``, which must agree with the
problem's f at the one-hot points. ``measure_variance`` reports their bias against
the exact gradient of the discrete problem.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vartools.core.batch import Batch
from vartools.core.distribution import Distribution
from vartools.core.objectives import Objective
from vartools.core.problem import Problem, call_on_read_only
from vartools.core.validation import check_reps, short_repr
from vartools.estimators.base import BaseEstimator, from_noise_via_samples
from vartools.samplers.sampling import Sampler

__all__ = ["concrete_sample", "gumbel_softmax", "straight_through"]


def concrete_sample(dist: Distribution, noise: np.ndarray, temperature: float) -> np.ndarray:
    """Relaxed (Concrete / Gumbel-softmax) sample from uniform noise.

    The distribution's ``relaxed_sample`` (the ``relaxation`` capability). Bernoulli
    (binary Concrete; Maddison, Mnih & Teh, ICLR 2017): noise u (*R, n, *event),
    z = sigmoid((logits + log u - log(1 - u)) / temperature), same shape.
    Categorical (Gumbel-softmax; Jang, Gu & Poole, ICLR 2017): noise u (*R, n, *batch, K),
    Gumbels g = -log(-log u), y = softmax((logits + g) / temperature) over K.
    """
    _require_relaxation(dist, "concrete_sample")
    return dist.relaxed_sample(noise, temperature)


def _require_relaxation(dist: Distribution, who: str) -> None:
    if not dist.supports("relaxation"):
        dist.not_supported(
            "relaxation", who, "it needs a discrete distribution such as Bernoulli or Categorical"
        )


def _relaxed_parts(problem: Problem, relaxed: Objective | None, who: str) -> tuple[Any, Any]:
    dist = problem.dist
    _require_relaxation(dist, who)
    if relaxed is not None:
        if relaxed.grad is None:
            raise ValueError(f"{who}: relaxed must be an Objective with grad, got {relaxed!r}")
        return relaxed.value, relaxed.grad
    if not dist.relaxation_in_outcome_space:
        raise TypeError(
            f"{who} on a {type(dist).__name__} needs f on its relaxed values (one-hot vectors "
            "for a Categorical): pass relaxed=Objective(value, grad) taking (*R, n, *batch, K) "
            "arrays (it must equal f at one-hot points)"
        )
    return problem.f, problem.evaluate_grad


def _relaxed_f(problem: Problem, value: Any, z: np.ndarray) -> np.ndarray:
    """f at relaxed values z: the problem's f when they are outcomes, else ``value``."""
    if problem.dist.relaxation_in_outcome_space:
        return problem.evaluate(z)
    fx = np.asarray(
        call_on_read_only(value, z, f"relaxed value of problem {problem.name!r}", "z"),
        dtype=np.float64,
    )
    return fx if fx.flags.writeable else fx.copy()


def _relaxed_grad(problem: Problem, grad: Any, z: np.ndarray) -> np.ndarray:
    """grad f at relaxed values z, on a read-only view of z (user code must not write it)."""
    if grad == problem.evaluate_grad:  # checks its read-only input itself
        return np.asarray(grad(z))
    g = np.asarray(call_on_read_only(grad, z, f"relaxed grad of problem {problem.name!r}", "z"))
    return g if g.flags.writeable else g.copy()


def _check_temperature(temperature: float) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, int | float):
        raise TypeError(f"temperature must be a positive number, got {short_repr(temperature)}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return float(temperature)


def straight_through(relaxed: Objective | None = None) -> BaseEstimator:
    """Straight-through estimator (Bengio, Leonard & Courville 2013): biased.

    Forward pass on the hard sample, backward pass through the mean:
    Bernoulli: terms = grad_b f(b) * sigma(phi) (1 - sigma(phi)), b ~ Bernoulli(sigma(phi));
    Categorical: terms_j = J_j^T grad f(onehot(z)), J_j = diag(p_j) - p_j p_j^T the softmax
    Jacobian. Needs grad f at the discrete points (``relaxed``, see the module
    docstring). Biased (``unbiased=False``); it depends on the outcomes only, so its
    exact mean and variance come from enumeration. Cost: n evaluations of f and grad f.

    Args:
        relaxed: f on relaxed values with its gradient (required for Categorical).
    """

    def from_samples(
        problem: Problem, x: np.ndarray, noise: np.ndarray | None = None, ind: bool = True
    ) -> Batch:
        value, grad = _relaxed_parts(problem, relaxed, "straight_through")
        dist = problem.dist
        lead = x.shape[: x.ndim - len(dist.event_shape)]
        xe = dist.embed(x)
        fx = _relaxed_f(problem, value, xe)
        terms = dist.hard_vjp(_relaxed_grad(problem, grad, xe))
        return Batch(
            x=x,
            fx=fx,
            score=None,
            extra=terms,
            n_evals=int(lead[-1]),
            noise=noise,
            independent=ind,
        )

    return BaseEstimator(
        name="st",
        from_noise=from_noise_via_samples(from_samples),
        from_samples=from_samples,
        unbiased=False,
        needs_grad=False,  # checked when drawing: a Categorical uses relaxed.grad
        doc=straight_through.__doc__ or "",
    )


def gumbel_softmax(temperature: float = 0.5, relaxed: Objective | None = None) -> BaseEstimator:
    """Gumbel-softmax / Concrete relaxation (Jang et al. 2017; Maddison et al. 2017): biased.

    The pathwise gradient of the relaxed objective E[f(z_tau)] with z_tau =
    ``concrete_sample``: Bernoulli: terms = grad f(z) z (1 - z) / tau; Categorical:
    terms_j = (1/tau) (diag(y_j) - y_j y_j^T) grad f(y)_j. It estimates the gradient of
    the relaxed objective without bias, hence the discrete gradient with a bias that
    ``measure_variance`` reports. f is evaluated at relaxed values (``Batch.x`` holds
    them). Cost: n evaluations of f and grad f; draws its own uniforms (K per
    categorical).

    Args:
        temperature: tau > 0.
        relaxed: f on relaxed values with its gradient (required for Categorical).
    """
    tau = _check_temperature(temperature)

    def draw(
        problem: Problem, n: int, rng: np.random.Generator, reps: Any, sampler: Sampler
    ) -> Batch:
        value, grad = _relaxed_parts(problem, relaxed, "gumbel_softmax")
        dist = problem.dist
        lead = (*check_reps(reps), n)
        u = rng.random(dist.relaxed_noise_shape(lead))
        z = dist.relaxed_sample(u, tau)
        fx = _relaxed_f(problem, value, z)
        return Batch(
            x=z,
            fx=fx,
            score=None,
            extra=dist.relaxed_vjp(z, _relaxed_grad(problem, grad, z), tau),
            n_evals=n,
            noise=u,
        )

    def no_noise(problem: Problem, noise: np.ndarray, independent: bool = True) -> Batch:
        raise TypeError("gumbel_softmax draws its own Gumbel noise and has no noise mapping")

    return BaseEstimator(
        name=f"gumbel({tau:g})",
        from_noise=no_noise,
        draw=draw,
        unbiased=False,
        needs_grad=False,  # checked when drawing: a Categorical uses relaxed.grad
        doc=gumbel_softmax.__doc__ or "",
    )
