"""Measure-valued derivative (MVD) for diagonal Normal distributions.

Mohamed, Rosca, Figurnov & Mnih (2020), sec. 6 and Table 1: the derivative of the
Gaussian density with respect to a parameter is a constant times the difference of
two densities, d/dtheta N(x) = c (p+(x) - p-(x)), so

    d/dtheta E_N[f] = c (E_{p+}[f] - E_{p-}[f]),

estimated coordinate by coordinate, with the other coordinates held at a sample
x ~ N (they are independent):

- mean mu_d: c = 1 / (sigma_d sqrt(2 pi)); p+ = mu_d + sigma_d W, p- = mu_d - sigma_d W,
  W ~ Weibull(2, 0.5) (density w exp(-w^2 / 2), w > 0, i.e. Rayleigh(1)); coupled by
  using the same W for both parts;
- scale sigma_d: c = 1 / sigma_d; p+ = mu_d + sigma_d M with M double-sided Maxwell
  (density m^2 phi(m)), p- = mu_d + sigma_d U M with U ~ U(0, 1) (U M ~ N(0, 1)):
  the coupling of the paper's code. For ``log_scale`` the chain rule multiplies by
  sigma_d.

Example:
    >>> import numpy as np
    >>> from vartools.estimators.composed import make_estimator
    >>> from vartools.catalogue.settings import make_problem
    >>> prob = make_problem("gaussian_cost", cost="square", k=0.5)
    >>> mean, var = mvd_moments(prob)
    >>> np.round(mean, 8).tolist()  # exact gradient of E[(x - k)^2]: (2 (mu - k), 2 sigma)
    [1.0, 2.0]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import integrate

from vartools.core.batch import Batch
from vartools.core.distribution import Distribution
from vartools.core.errors import NoOracleError
from vartools.core.problem import Problem
from vartools.core.validation import check_reps
from vartools.distributions._local import replace_eval
from vartools.estimators.base import BaseEstimator
from vartools.samplers.sampling import Sampler

__all__ = ["measure_valued", "mvd_moments"]

#: Largest number of array entries one chunk of modified samples holds.
CHUNK_ELEMENTS = 4_000_000


def _require_mvd(problem: Problem, who: str) -> Distribution:
    dist = problem.dist
    if not dist.supports("measure_valued"):
        dist.not_supported(
            "measure_valued",
            who,
            f"it needs a diagonal Normal; problem {problem.name!r} samples from "
            f"{type(dist).__name__}",
        )
    return dist


def _draw(problem: Problem, n: int, rng: np.random.Generator, reps: Any, sampler: Sampler) -> Batch:
    dist = _require_mvd(problem, "measure_valued")
    lead = (*check_reps(reps), n)
    c = dist.measure_valued_coupling(lead, rng=rng)
    d = c.base.shape[-1]
    evaluate, event = problem.evaluate, dist.event_shape
    # theta comes in blocks of D parameters, block b's parameter j on coordinate j
    blocks = range(0, dist.n_params, d)
    f_pos = [
        replace_eval(evaluate, event, c.base, c.pos[..., b : b + d], CHUNK_ELEMENTS) for b in blocks
    ]
    f_neg = [
        replace_eval(evaluate, event, c.base, c.neg[..., b : b + d], CHUNK_ELEMENTS) for b in blocks
    ]
    f_neg_all = np.concatenate(f_neg, axis=-1)
    terms = (np.concatenate(f_pos, axis=-1) - f_neg_all) / c.denom * c.mult
    # x: the coupling's exact draw (one coordinate replaced by a negative-part value, the
    # others at the base); f(x) was evaluated, so fx costs nothing extra.
    coord = int(dist.param_coordinates()[c.draw_param])
    x = c.base.copy()
    x[..., coord] = c.neg[..., c.draw_param]
    return Batch(
        x=x.reshape(*lead, *event),
        fx=f_neg_all[..., c.draw_param],
        score=None,
        extra=terms,
        n_evals=2 * dist.n_params * n,
        independent=True,
        info=c.info,
    )


def _no_noise(problem: Problem, noise: np.ndarray, independent: bool = True) -> Batch:
    raise TypeError(
        "measure_valued draws Weibull, Maxwell and uniform variables itself and has no noise "
        "mapping; use vartools.estimators.measure_valued.mvd_moments for its exact moments"
    )


def _oracle(problem: Problem, est: Any, n: int, state: Any) -> tuple[np.ndarray, np.ndarray]:
    if not est.cv.is_identity:
        raise NoOracleError(
            f"mvd_moments handles plain measure-valued estimators, got {est.name} (its control "
            "variates change the estimate); measure it by Monte Carlo"
        )
    return mvd_moments(problem, n)


measure_valued = BaseEstimator(
    name="mvd",
    from_noise=_no_noise,
    draw=_draw,
    oracle=_oracle,
    doc="""Coupled measure-valued derivative for a diagonal Normal (Mohamed et al. 2020, sec. 6).

Per sample and coordinate d, with the other coordinates at x ~ N (see the module
docstring): d/dmu_d: (f(.., mu_d + sigma_d W, ..) - f(.., mu_d - sigma_d W, ..)) /
(sigma_d sqrt(2 pi)); d/dsigma_d: (f(.., mu_d + sigma_d M, ..) - f(.., mu_d + sigma_d U M,
..)) / sigma_d. Unbiased; needs no gradient of f (works for discontinuous f). Cost: 2
evaluations of f per parameter per sample, 4 D n per estimate for D coordinates.
""",
)


def mvd_moments(problem: Problem, n: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean and variance (each (2,)) of the n-sample MVD estimate, one-dimensional Normal.

    The mean term integrates over W (density w exp(-w^2/2) on (0, inf)), the scale term
    over (M, U) (density m^2 phi(m) on the real line times 1 on [0, 1]), by adaptive
    quadrature; the n samples are independent, so the variance is the single-sample
    variance / n.
    """
    dist = _require_mvd(problem, "mvd_moments")
    if not dist.supports("gaussian") or math.prod(dist.event_shape) != 1:
        raise NoOracleError(
            f"mvd_moments handles a one-dimensional Normal; problem {problem.name!r} samples "
            f"from {type(dist).__name__} with event shape {dist.event_shape}; measure it by "
            "Monte Carlo"
        )
    ev = dist.event_shape
    gp = dist.gaussian_params()
    mu, sd = float(gp.loc.ravel()[0]), float(gp.scale.ravel()[0])
    chain = sd if gp.log_scale else 1.0

    def f(v: np.ndarray) -> np.ndarray:
        return problem.evaluate(np.asarray(v, dtype=np.float64).reshape(-1, 1, *ev))[:, 0]

    c_mu = 1.0 / (sd * math.sqrt(2.0 * math.pi))

    def mean_part(w: np.ndarray) -> np.ndarray:
        w = w[:, 0]
        g = c_mu * (f(mu + sd * w) - f(mu - sd * w))
        dens = w * np.exp(-0.5 * w * w)
        return np.stack([g * dens, g * g * dens], axis=-1)

    def scale_part(mu_: np.ndarray) -> np.ndarray:
        m, u = mu_[:, 0], mu_[:, 1]
        g = chain * (f(mu + sd * m) - f(mu + sd * u * m)) / sd
        dens = m * m * np.exp(-0.5 * m * m) / math.sqrt(2.0 * math.pi)
        return np.stack([g * dens, g * g * dens], axis=-1)

    out = []
    for fn, a, b in ((mean_part, [0.0], [np.inf]), (scale_part, [-np.inf, 0.0], [np.inf, 1.0])):
        res = integrate.cubature(fn, a, b, rtol=1e-10, atol=1e-12, max_subdivisions=100_000)
        if res.status != "converged":
            raise RuntimeError(
                f"mvd_moments quadrature did not converge for problem {problem.name!r}"
            )
        out.append(np.asarray(res.estimate, dtype=np.float64))
    mean = np.array([out[0][0], out[1][0]])
    var = np.array([out[0][1], out[1][1]]) - mean**2
    return mean, var / n
