"""Double control variates (Titsias & Shi, AISTATS 2022) for factorised Bernoullis.

RLOO (the leave-one-out baseline, the "global" control variate) with a second, local
control variate: a first-order Taylor expansion of f whose slope is the average
gradient of f at the *other* samples. With K samples b_k ~ Bernoulli(theta),
theta = sigmoid(logits), s_k = b_k - theta the score, g_j = grad f(b_j) (f extended
to real vectors, the problem's ``grad_f``) and gbar_{-k} = mean_{j != k} g_j:

    F_k = f(b_k) + alpha (b_k - theta) . gbar_{-k}
    terms_k = (F_k - mean_{j != k} F_j) s_k - alpha gbar_{-k} * theta (1 - theta).

Unbiased for every alpha: the baseline mean_{j != k} F_j has E[F_j s_k] = 0 (b_j enters
F_j only through its own score-like factor b_j - theta, of mean zero, and f_j is
independent of b_k), and E[(b_k - theta) . gbar_{-k} s_k | others] =
gbar_{-k} * theta (1 - theta), which the last term subtracts in closed form (Titsias &
Shi 2022, sec. 3; tested by exact enumeration). alpha = 0 is RLOO. The paper learns
alpha by descending the variance; here alpha is a fixed argument (default 1, the
Taylor coefficient); ``make_estimator(double_cv(0.0), fitted_coefficients())`` (the
registered ``double_cv``) fits alpha on earlier batches by minimising the variance
(``vartools.estimators.tuned``), as the paper's learned alpha. Cost per estimate: K
evaluations of f and of its gradient (``Batch.n_evals`` = K, counting f with its
gradient as one evaluation as the pathwise estimator does; ``info["grad_evals"]`` = K).

Example:
    >>> import numpy as np
    >>> from vartools.catalogue.settings import make_problem
    >>> from vartools.estimators.composed import make_estimator
    >>> from vartools.oracles.exact import exact_gradient, exact_moments
    >>> prob = make_problem("liu_toy", eta=0.3)
    >>> mean, var = exact_moments(prob, make_estimator(double_cv()), 2)
    >>> bool(np.allclose(mean, exact_gradient(prob), atol=1e-12))
    True
"""

from __future__ import annotations

import numpy as np

from vartools.core.batch import Batch
from vartools.core.problem import Problem
from vartools.core.validation import as_finite_array
from vartools.distributions.discrete import Bernoulli
from vartools.estimators.base import BaseEstimator, from_noise_via_samples

__all__ = ["bernoulli_parts", "double_cv", "loo_mean"]


def bernoulli_parts(
    problem: Problem, x: np.ndarray, who: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """f(b) (*R, K), grad f(b) (*R, K, D), b (*R, K, D) flattened, and theta (D,).

    Raises:
        TypeError: if the problem does not sample independent Bernoullis (naming ``who``).
        ValueError: if the problem has no gradient of f, or fewer than 2 samples.
    """
    dist = problem.dist
    if not isinstance(dist, Bernoulli):
        raise TypeError(
            f"{who} needs independent Bernoullis; problem {problem.name!r} samples from "
            f"{type(dist).__name__} (use sf+loo, unordered_set<k> or local expectation there)"
        )
    lead = x.shape[: x.ndim - len(dist.event_shape)]
    if lead[-1] < 2:
        raise ValueError(
            f"{who} uses leave-one-out averages over the samples; it needs n >= 2, got n={lead[-1]}"
        )
    fx = problem.evaluate(x)
    grad = problem.evaluate_grad(x.astype(np.float64)).reshape(*lead, dist.n_params)
    return fx, grad, x.reshape(*lead, dist.n_params).astype(np.float64), dist.probs.ravel()


def loo_mean(a: np.ndarray, axis: int) -> np.ndarray:
    """The mean over the other entries along ``axis`` (leave one out), same shape as a."""
    k = a.shape[axis]
    return (a.sum(axis, keepdims=True) - a) / (k - 1)


def double_cv(alpha: float = 1.0) -> BaseEstimator:
    """The double control variate estimator (Titsias & Shi 2022) for factorised Bernoullis.

    See the module docstring for the formula. n = K >= 2 samples per estimate.

    Args:
        alpha: the coefficient of the local Taylor control variate (0 gives RLOO). The
            batch also carries the alpha direction in ``info["cv_directions"]``, so
            ``fitted_coefficients`` can add the variance-minimising multiple of it.

    Returns:
        A base estimator named ``double_cv`` (``double_cv(alpha=...)`` for alpha != 1).
    """
    a = float(as_finite_array(alpha, "alpha"))

    def from_samples(
        problem: Problem, x: np.ndarray, noise: np.ndarray | None = None, ind: bool = True
    ) -> Batch:
        fx, grad, b, theta = bernoulli_parts(problem, x, "double_cv")
        gbar = loo_mean(grad, -2)  # (*R, K, D)
        centred = b - theta
        rloo = (fx - loo_mean(fx, -1))[..., None] * centred
        local = (centred * gbar).sum(-1)  # (*R, K): the Taylor term at alpha = 1
        direction = (local - loo_mean(local, -1))[..., None] * centred - gbar * (
            theta * (1.0 - theta)
        )
        k = int(fx.shape[-1])
        return Batch(
            x=x,
            fx=fx,
            score=centred,
            extra=rloo + a * direction if a else rloo,
            n_evals=k,
            noise=noise,
            independent=ind,
            info={"grad_evals": k, "cv_directions": direction[..., None], "cv_names": ("alpha",)},
        )

    return BaseEstimator(
        name="double_cv" if a == 1.0 else f"double_cv(alpha={a:g})",
        from_noise=from_noise_via_samples(from_samples),
        from_samples=from_samples,
        needs_grad=True,
        per_sample=False,
        doc=double_cv.__doc__ or "",
    )
