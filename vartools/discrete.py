"""Estimators for discrete distributions that the literature compares against.

- ``arm`` (Yin & Zhou 2019) and ``disarm`` (Dong, Mnih & Tucker 2020): unbiased
  estimators for independent Bernoullis from antithetic uniform pairs
  b1 = 1[u > 1 - sigma(phi)], b2 = 1[u < sigma(phi)] (the same u, per coordinate).
  Here n is the number of *pairs*: each estimate averages n independent pairs and
  costs 2n evaluations of f (``Batch.n_evals``), so compare them with n-sample
  estimators at n_evals, not at n. ``antithetic_moments`` gives their exact mean and
  variance by integrating over u cell by cell (the estimators are piecewise constant
  (DisARM) or piecewise linear (ARM) in u).
- ``straight_through`` and ``gumbel_softmax`` (Concrete): knowingly biased
  relaxations (``unbiased=False``). They need f and its gradient on relaxed values:
  for a Bernoulli, f on real vectors (the problem's f and ``grad_f`` by default, so
  f must be defined, and differentiable, between 0 and 1); for a Categorical, an
  ``Objective`` on one-hot vectors (*R, n, *batch, K) passed as ``relaxed=``, which
  must agree with the problem's f at the one-hot points. ``measure_variance``
  reports their bias against the exact gradient of the discrete problem.

Example:
    >>> import numpy as np
    >>> from vartools.estimators import make_estimator
    >>> from vartools.exact import exact_gradient
    >>> from vartools.problems import make_problem
    >>> prob = make_problem("liu_toy", eta=0.5)
    >>> mean, var = antithetic_moments(prob, "disarm")
    >>> bool(np.allclose(mean, exact_gradient(prob), atol=1e-12))
    True
    >>> g, _ = make_estimator(disarm)(prob, 4, rng=np.random.default_rng(0), reps=(2,))
    >>> g.shape
    (2, 3)
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from scipy import special

from vartools._validation import check_reps, short_repr
from vartools.distributions import Bernoulli, Categorical, Distribution
from vartools.estimators import BaseEstimator, Batch, Estimator, from_noise_via_samples
from vartools.objectives import Objective
from vartools.problems import Problem
from vartools.sampling import Sampler

__all__ = [
    "antithetic_moments",
    "arm",
    "concrete_sample",
    "disarm",
    "gumbel_softmax",
    "straight_through",
]

#: Largest number of u-cells (3^D) ``antithetic_moments`` enumerates.
CELL_BUDGET = 200_000


def _require_bernoulli(problem: Problem, who: str) -> Bernoulli:
    if not isinstance(problem.dist, Bernoulli):
        raise TypeError(
            f"{who} needs independent Bernoullis; problem {problem.name!r} samples from "
            f"{type(problem.dist).__name__} (use local_expectation or sum_and_sample for "
            "categoricals)"
        )
    return problem.dist


def _pair_terms(
    kind: str, dist: Bernoulli, u: np.ndarray, f1: np.ndarray, f2: np.ndarray
) -> np.ndarray:
    """Per-pair terms (*R, n, p) of ARM or DisARM for uniforms u (*R, n, *event)."""
    lead = u.shape[: u.ndim - len(dist.event_shape)]
    uf = u.reshape(*lead, dist.n_params)
    diff = (f1 - f2)[..., None]
    if kind == "arm":
        return diff * (uf - 0.5)
    b1 = dist.transform(u).reshape(uf.shape)
    b2 = dist.transform(1.0 - u).reshape(uf.shape)
    sign = 1.0 - 2.0 * b2  # (-1)^b2
    return 0.5 * diff * sign * (b1 != b2) * special.expit(np.abs(dist.logits.ravel()))


def _antithetic(kind: str) -> BaseEstimator:
    def draw(
        problem: Problem, n: int, rng: np.random.Generator, reps: Any, sampler: Sampler
    ) -> Batch:
        dist = _require_bernoulli(problem, kind)
        u = rng.random((*check_reps(reps), n, *dist.event_shape))
        b1, b2 = dist.transform(u), dist.transform(1.0 - u)  # 1[u > 1 - sig], 1[u < sig]
        f1, f2 = problem.evaluate(b1), problem.evaluate(b2)
        return Batch(
            x=b1,
            fx=f1,
            score=None,
            extra=_pair_terms(kind, dist, u, f1, f2),
            n_evals=2 * n,
            noise=u,
            independent=True,
            info={"x2": b2, "fx2": f2},
        )

    def no_noise(problem: Problem, noise: np.ndarray, independent: bool = True) -> Batch:
        raise TypeError(f"{kind} draws its own antithetic pairs and has no noise mapping")

    docs = {
        "arm": """ARM: augment-REINFORCE-merge (Yin & Zhou, ICLR 2019, Theorem 1).

For independent Bernoullis with logits phi, per pair (u ~ U(0,1)^D):
terms = (f(b1) - f(b2)) (u - 1/2), b1 = 1[u > 1 - sigma(phi)], b2 = 1[u < sigma(phi)].
Unbiased. n is the number of pairs: 2n evaluations of f per estimate. No score, so
baselines do not apply (the antithetic difference is its own baseline).
""",
        "disarm": """DisARM (Dong, Mnih & Tucker 2020): ARM with u integrated out given (b1, b2).

Per pair and coordinate d: terms_d = (1/2) (f(b1) - f(b2)) (-1)^{b2_d} 1[b1_d != b2_d]
sigma(|phi_d|), with b1, b2 as in ARM. Unbiased, and Var(DisARM) <= Var(ARM)
coordinate-wise (Rao-Blackwellization of ARM). n pairs: 2n evaluations of f.
""",
    }
    return BaseEstimator(
        name=kind,
        from_noise=no_noise,
        draw=draw,
        doc=docs[kind],
        oracle=lambda problem, est, n, state: antithetic_moments(problem, est, n),
    )


arm = _antithetic("arm")
disarm = _antithetic("disarm")


def antithetic_moments(
    problem: Problem, estimator: Estimator | BaseEstimator | str, n: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean and variance (each (p,)) of an n-pair ARM or DisARM estimate.

    The pair (b1, b2) is constant on the 3^D cells cut by the breakpoints
    min(sigma, 1 - sigma) and max(sigma, 1 - sigma) of each coordinate; within a cell
    DisARM is constant and ARM is linear in u_d, so E[g] and E[g^2] are exact sums over
    cells (u_d uniform on an interval of length L: E[(u - 1/2)^2] = (mid - 1/2)^2 + L^2/12).
    Pairs are independent, so the n-pair variance is the single-pair variance / n.

    Args:
        problem: a problem with a Bernoulli distribution of at most ~11 coordinates.
        estimator: "arm", "disarm", the base estimators or an Estimator built on them
            (without control variates).
        n: number of pairs.
    """
    kind = estimator if isinstance(estimator, str) else None
    if isinstance(estimator, Estimator):
        if estimator.cv.name != "none":
            raise ValueError(f"antithetic_moments handles plain ARM / DisARM, got {estimator.name}")
        kind = estimator.base.name
    elif isinstance(estimator, BaseEstimator):
        kind = estimator.name
    if kind not in ("arm", "disarm"):
        raise ValueError(f"estimator must be 'arm' or 'disarm', got {short_repr(estimator)}")
    dist = _require_bernoulli(problem, "antithetic_moments")
    d = dist.n_params
    if 3.0**d > CELL_BUDGET:
        raise ValueError(
            f"antithetic_moments enumerates 3^D cells; D={d} gives {3.0**d:.3g} > {CELL_BUDGET}"
        )
    sig = dist.probs.ravel()
    cuts = np.stack([np.zeros(d), np.minimum(sig, 1 - sig), np.maximum(sig, 1 - sig), np.ones(d)])
    lo, length = cuts[:-1], np.diff(cuts, axis=0)  # (3, d)
    cells = np.array(list(itertools.product(range(3), repeat=d)))  # (3^d, d)
    cols = np.arange(d)
    ln = length[cells, cols]  # (C, d)
    mid = lo[cells, cols] + ln / 2
    w = ln.prod(-1)
    u = mid.reshape(-1, 1, *dist.event_shape)
    f1 = problem.evaluate(dist.transform(u))
    f2 = problem.evaluate(dist.transform(1.0 - u))
    t = _pair_terms(kind, dist, u, f1, f2)[:, 0, :]  # at the midpoint = cell mean for both
    second = t * t
    if kind == "arm":
        second = second + ((f1 - f2)[:, :1] ** 2) * ln**2 / 12.0
    mean = w @ t
    return mean, (w @ second - mean**2) / n


# -- relaxations --------------------------------------------------------------------------


def concrete_sample(dist: Distribution, noise: np.ndarray, temperature: float) -> np.ndarray:
    """Relaxed (Concrete / Gumbel-softmax) sample from uniform noise.

    Bernoulli (binary Concrete; Maddison, Mnih & Teh, ICLR 2017): noise u (*R, n, *event),
    z = sigmoid((logits + log u - log(1 - u)) / temperature), same shape.
    Categorical (Gumbel-softmax; Jang, Gu & Poole, ICLR 2017): noise u (*R, n, *batch, K), Gumbels
    g = -log(-log u), y = softmax((logits + g) / temperature) over K.
    """
    tiny = np.finfo(np.float64).tiny
    u = np.clip(noise, tiny, 1.0 - np.finfo(np.float64).epsneg)
    if isinstance(dist, Bernoulli):
        return special.expit((dist.logits + np.log(u) - np.log1p(-u)) / temperature)
    if isinstance(dist, Categorical):
        return special.softmax((dist.logits - np.log(-np.log(u))) / temperature, axis=-1)
    raise TypeError(f"concrete_sample needs a Bernoulli or Categorical, got {type(dist).__name__}")


def _relaxed_parts(problem: Problem, relaxed: Objective | None, who: str) -> tuple[Any, Any]:
    dist = problem.dist
    if relaxed is not None:
        if relaxed.grad is None:
            raise ValueError(f"{who}: relaxed must be an Objective with grad, got {relaxed!r}")
        return relaxed.value, relaxed.grad
    if isinstance(dist, Categorical):
        raise TypeError(
            f"{who} on a Categorical needs f on one-hot vectors: pass relaxed=Objective(value, "
            "grad) taking (*R, n, *batch, K) arrays (it must equal f at one-hot points)"
        )
    if not isinstance(dist, Bernoulli):
        raise TypeError(f"{who} needs a Bernoulli or Categorical, got {type(dist).__name__}")
    return problem.f, problem.evaluate_grad


def _softmax_vjp(y: np.ndarray, h: np.ndarray) -> np.ndarray:
    """h^T d softmax / d logits = y * (h - sum_k y_k h_k), over the last axis."""
    return y * (h - (y * h).sum(-1, keepdims=True))


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
        if isinstance(dist, Bernoulli):
            fx = problem.evaluate(x)
            sig = dist.probs
            terms = (np.asarray(grad(x)) * sig * (1 - sig)).reshape(*lead, dist.n_params)
        else:
            assert isinstance(dist, Categorical)
            oh = (x[..., None] == np.arange(dist.n_categories)).astype(np.float64)
            fx = np.asarray(value(oh), dtype=np.float64)
            terms = _softmax_vjp(dist.probs, np.asarray(grad(oh))).reshape(*lead, dist.n_params)
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
        if isinstance(dist, Bernoulli):
            u = rng.random((*lead, *dist.event_shape))
            z = concrete_sample(dist, u, tau)
            fx = problem.evaluate(z)
            terms = np.asarray(grad(z)) * z * (1 - z) / tau
        else:
            assert isinstance(dist, Categorical)
            u = rng.random((*lead, *dist.logits.shape))
            z = concrete_sample(dist, u, tau)
            fx = np.asarray(value(z), dtype=np.float64)
            terms = _softmax_vjp(z, np.asarray(grad(z))) / tau
        return Batch(
            x=z,
            fx=fx,
            score=None,
            extra=terms.reshape(*lead, dist.n_params),
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
