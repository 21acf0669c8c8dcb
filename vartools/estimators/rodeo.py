"""RODEO (Shi, Zhou, Hwang, Titsias & Mackey, NeurIPS 2022): discrete Stein control variates.

For factorised Bernoullis b ~ q = Bernoulli(theta), theta = sigmoid(logits), the Gibbs
Markov chain that resamples coordinate d from q_d leaves q invariant; its generator
gives the discrete Stein operator

    (A_d h)(b) = E_{b'_d ~ q_d}[h(b_{-d}, b'_d)] - h(b) = w_d(b) [h(y_d) - h(b)],

with y_d = b with coordinate d flipped and w_d(b) = q_d(1 - b_d) the probability of the
flipped value. E_q[(A_d h)(b)] = 0 for every h, so A_d h is a control variate that
costs one evaluation of h per neighbour (RODEO, sec. 3-4).

RODEO applies such operators to a cheap surrogate of f built from the *other* samples
of the batch. Here the surrogate of sample k is the average of the first-order Taylor
expansions of f at the other samples,

    h_k(y) = mean_{j != k} [f(b_j) + grad f(b_j) . (y - b_j)],

(linear in y, so h_k(y_d) - h_k(b_k) = gbar_{-k,d} (1 - 2 b_{k,d}); no f evaluations
beyond the K samples and their gradients, as in the paper's "avg" variant with its
network replaced by the identity), and

    cv1_k = sum_d (A_d h_k)(b_k)                           (a scalar),
    cv2_{k,d} = (A_d [h_k s_d])(b_k)                       (one per logit d),
    terms_k = (f(b_k) - mean_{j != k}[f(b_j) + alpha cv1_j]) s_k + beta cv2_k,

with s_k = b_k - theta. cv2 applies the coordinate-d operator to the d-th score
coordinate (the diagonal of the paper's vector-valued operator): with beta = 1 it
replaces h_k(b_k) s_{k,d} by its conditional expectation over b_{k,d}. Unbiased for
every alpha and beta: h_k does not depend on b_k, so E[cv2_k | others] = 0, and the
baseline's cv1_j has mean zero over b_j given everything else, so E[cv1_j s_k] = 0
(tested by exact enumeration). The paper learns alpha, beta and a network in the
surrogate by descending the variance; here alpha and beta are fixed arguments
(defaults alpha = 1, beta = 1), or fitted on earlier batches by minimising the variance
(``make_estimator(rodeo(0, 0), fitted_coefficients())``, the registered ``rodeo``; see
``vartools.estimators.tuned``), and the surrogate is the Taylor average: say so when
comparing with their figures. Cost: K evaluations of f and its gradient
(``Batch.n_evals`` = K; ``info["grad_evals"]`` = K).

Example:
    >>> import numpy as np
    >>> from vartools.catalogue.settings import make_problem
    >>> from vartools.estimators.composed import make_estimator
    >>> from vartools.oracles.exact import exact_gradient, exact_moments
    >>> prob = make_problem("liu_toy", eta=0.3)
    >>> mean, var = exact_moments(prob, make_estimator(rodeo()), 2)
    >>> bool(np.allclose(mean, exact_gradient(prob), atol=1e-12))
    True
"""

from __future__ import annotations

import numpy as np

from vartools.core.batch import Batch
from vartools.core.problem import Problem
from vartools.core.validation import as_finite_array
from vartools.estimators.base import BaseEstimator, from_noise_via_samples
from vartools.estimators.double_cv import bernoulli_parts, loo_mean

__all__ = ["rodeo", "rodeo_terms"]


def rodeo_terms(
    fx: np.ndarray, grad: np.ndarray, b: np.ndarray, theta: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """RODEO's terms at alpha = beta = 0 (RLOO) and its two directions.

    Args:
        fx: f at the samples (*R, K).
        grad: grad f at the samples (*R, K, D).
        b: the samples (*R, K, D).
        theta: the probabilities (D,).

    Returns:
        The RLOO terms (*R, K, D) and the directions (*R, K, D, 2) that alpha and beta
        multiply (see the module docstring); the estimator's terms are
        rloo + directions @ (alpha, beta).
    """
    gbar = loo_mean(grad, -2)  # slope of h_k, (*R, K, D)
    # h_k(b_k) = mean_{j != k} [f_j - g_j . b_j] + gbar_{-k} . b_k
    offset = loo_mean(fx - (grad * b).sum(-1), -1)  # (*R, K)
    h_at_b = offset + (gbar * b).sum(-1)
    flip = 1.0 - b
    w = np.where(b > 0.5, 1.0 - theta, theta)  # q_d(1 - b_d), (*R, K, D)
    h_at_y = h_at_b[..., None] + gbar * (flip - b)  # h_k(y_{k,d}), (*R, K, D)
    cv1 = (w * (h_at_y - h_at_b[..., None])).sum(-1)  # (*R, K)
    cv2 = w * (h_at_y * (flip - theta) - h_at_b[..., None] * (b - theta))
    centred = b - theta
    out: np.ndarray = (fx - loo_mean(fx, -1))[..., None] * centred
    c_alpha = -loo_mean(cv1, -1)[..., None] * centred
    return out, np.stack([c_alpha, cv2], -1)


def rodeo(alpha: float = 1.0, beta: float = 1.0) -> BaseEstimator:
    """RODEO with Gibbs Stein operators and a leave-one-out Taylor surrogate (Bernoullis).

    See the module docstring for the formula, what differs from the paper and the cost.
    n = K >= 2 samples per estimate.

    Args:
        alpha: coefficient of the Stein control variate inside the leave-one-out baseline.
        beta: coefficient of the Stein control variate of the score term.

    Returns:
        A base estimator named ``rodeo`` (with its coefficients when not the defaults).
    """
    a = float(as_finite_array(alpha, "alpha"))
    bt = float(as_finite_array(beta, "beta"))

    def from_samples(
        problem: Problem, x: np.ndarray, noise: np.ndarray | None = None, ind: bool = True
    ) -> Batch:
        fx, grad, b, theta = bernoulli_parts(problem, x, "rodeo")
        k = int(fx.shape[-1])
        rloo, dirs = rodeo_terms(fx, grad, b, theta)
        return Batch(
            x=x,
            fx=fx,
            score=b - theta,
            extra=rloo + dirs @ np.array([a, bt]),
            n_evals=k,
            noise=noise,
            independent=ind,
            info={"grad_evals": k, "cv_directions": dirs, "cv_names": ("alpha", "beta")},
        )

    default = a == 1.0 and bt == 1.0
    return BaseEstimator(
        name="rodeo" if default else f"rodeo(alpha={a:g},beta={bt:g})",
        from_noise=from_noise_via_samples(from_samples),
        from_samples=from_samples,
        needs_grad=True,
        per_sample=False,
        doc=rodeo.__doc__ or "",
    )
