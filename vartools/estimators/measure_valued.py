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

from vartools.core.batch import Batch
from vartools.core.distribution import Distribution
from vartools.core.errors import NoOracleError, OracleFailedError
from vartools.core.problem import Problem
from vartools.core.validation import check_reps
from vartools.distributions._local import replace_eval
from vartools.estimators.base import BaseEstimator
from vartools.samplers.sampling import Sampler

__all__ = ["measure_valued", "measure_valued_uncoupled", "mvd_moments", "mvd_uncoupled_moments"]

#: Largest number of array entries one chunk of modified samples holds.
CHUNK_ELEMENTS = 4_000_000


def _require_mvd(problem: Problem, who: str) -> Distribution:
    dist = problem.dist
    if not dist.supports("measure_valued"):
        dist.not_supported(
            "measure_valued",
            who,
            f"it needs a diagonal Normal or a Poisson (the measure_valued capability); "
            f"problem {problem.name!r} samples from {type(dist).__name__}",
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
    from scipy import integrate  # on use: costs 0.2 s to import

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
            raise OracleFailedError(
                f"mvd_moments quadrature did not converge for problem {problem.name!r}"
            )
        out.append(np.asarray(res.estimate, dtype=np.float64))
    mean = np.array([out[0][0], out[1][0]])
    var = np.array([out[0][1], out[1][1]]) - mean**2
    return mean, var / n


# ------------------------------------------------------------------ uncoupled


def _draw_uncoupled(
    problem: Problem, n: int, rng: np.random.Generator, reps: Any, sampler: Sampler
) -> Batch:
    """The measure-valued derivative with independent positive and negative parts.

    As ``_draw``, but the negative part of each coordinate gets its own draw: mean
    mu_d: p- = mu_d - sigma_d W' with W' an independent Weibull(2, 0.5); scale
    sigma_d: p- = mu_d + sigma_d Z with Z ~ N(0, 1) independent of the Maxwell M
    (deepmind/mc_gradients, ``coupling=False``). The other coordinates stay at the
    shared sample x ~ N, as there.
    """
    dist = _require_mvd(problem, "measure_valued_uncoupled")
    gp = dist.gaussian_params()
    lead = (*check_reps(reps), n)
    d = math.prod(dist.event_shape)
    loc, scale = gp.loc.ravel(), gp.scale.ravel()
    evaluate, event = problem.evaluate, dist.event_shape
    e = rng.standard_normal((*lead, d))  # the other coordinates
    w_pos = np.sqrt(2.0 * rng.standard_exponential((*lead, d)))  # Weibull(2, 0.5)
    w_neg = np.sqrt(2.0 * rng.standard_exponential((*lead, d)))  # independent of w_pos
    m = np.sqrt(2.0 * rng.standard_gamma(1.5, (*lead, d)))  # |M|: chi with 3 dof
    m = np.where(rng.random((*lead, d)) < 0.5, -m, m)  # double-sided Maxwell
    z = rng.standard_normal((*lead, d))  # the scale's negative part, independent of m
    base = loc + scale * e
    f_mu_pos = replace_eval(evaluate, event, base, loc + scale * w_pos, CHUNK_ELEMENTS)
    f_mu_neg = replace_eval(evaluate, event, base, loc - scale * w_neg, CHUNK_ELEMENTS)
    f_sd_pos = replace_eval(evaluate, event, base, loc + scale * m, CHUNK_ELEMENTS)
    neg = loc + scale * z  # a N(loc, scale^2) draw
    f_sd_neg = replace_eval(evaluate, event, base, neg, CHUNK_ELEMENTS)
    g_mu = (f_mu_pos - f_mu_neg) / (scale * math.sqrt(2.0 * math.pi))
    g_sd = (f_sd_pos - f_sd_neg) / scale
    if gp.log_scale:
        g_sd = g_sd * scale
    x = base.copy()  # as in _draw: coordinate 0 at its N draw, f(x) already evaluated
    x[..., 0] = neg[..., 0]
    return Batch(
        x=x.reshape(*lead, *dist.event_shape),
        fx=f_sd_neg[..., 0],
        score=None,
        extra=np.concatenate([g_mu, g_sd], axis=-1),
        n_evals=4 * d * n,
        independent=True,
        info={"weibull_pos": w_pos, "weibull_neg": w_neg, "maxwell": m, "normal_neg": z},
    )


def _oracle_uncoupled(
    problem: Problem, est: Any, n: int, state: Any
) -> tuple[np.ndarray, np.ndarray]:
    if est.cv.name != "none":
        raise ValueError(
            f"mvd_uncoupled_moments handles plain measure-valued estimators, got {est.name}"
        )
    return mvd_uncoupled_moments(problem, n)


measure_valued_uncoupled = BaseEstimator(
    name="mvd_uncoupled",
    from_noise=_no_noise,
    draw=_draw_uncoupled,
    oracle=_oracle_uncoupled,
    doc="""Uncoupled measure-valued derivative for a diagonal Normal (Mohamed et al. 2020, sec. 6).

As ``measure_valued`` but the positive and negative parts are drawn independently
(deepmind/mc_gradients with ``coupling=False``): d/dmu_d: (f(.., mu_d + sigma_d W, ..)
- f(.., mu_d - sigma_d W', ..)) / (sigma_d sqrt(2 pi)) with W, W' independent
Weibull(2, 0.5); d/dsigma_d: (f(.., mu_d + sigma_d M, ..) - f(.., mu_d + sigma_d Z, ..)) /
sigma_d with M double-sided Maxwell and Z ~ N(0, 1) independent. Unbiased (each part
has the right expectation whatever the joint law). Its variance is
Var(f+) + Var(f-) (over the constant squared) against Var(f+ - f-) for the coupled
one: lower when f(mu + sigma W) and f(mu - sigma W) are negatively correlated (an odd
f around mu), higher when positively. Cost: as the coupled one, 4 D n evaluations.
""",
)


def mvd_uncoupled_moments(problem: Problem, n: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean and variance (each (2,)) of the n-sample uncoupled MVD, one-dimensional Normal.

    The two parts are independent, so each moment is a one-dimensional integral
    (adaptive quadrature): mean c (E f+ - E f-), variance c^2 (Var f+ + Var f-) / n with
    f+ = f(mu + sigma W), f- = f(mu - sigma W') for the mean (c = 1 / (sigma sqrt(2 pi)))
    and f+ = f(mu + sigma M), f- = f(mu + sigma Z) for the scale (c = 1 / sigma, times
    sigma for ``log_scale``).
    """
    from scipy import integrate  # on use: costs 0.2 s to import

    dist = _require_mvd(problem, "mvd_uncoupled_moments")
    gp = dist.gaussian_params()
    if math.prod(dist.event_shape) != 1:
        raise ValueError(
            f"mvd_uncoupled_moments handles a one-dimensional Normal; problem {problem.name!r} "
            f"has event shape {dist.event_shape}; measure it by Monte Carlo"
        )
    ev = dist.event_shape
    mu, sd = float(gp.loc.ravel()[0]), float(gp.scale.ravel()[0])
    chain = sd if gp.log_scale else 1.0

    def moments(point: Any, density: Any, lo: float) -> tuple[float, float]:
        def integrand(v: np.ndarray) -> np.ndarray:
            x = np.asarray(point(v[:, 0]), dtype=np.float64).reshape(-1, 1, *ev)
            fv = problem.evaluate(x)[:, 0]
            dens = density(v[:, 0])
            return np.stack([fv * dens, fv * fv * dens], axis=-1)

        res = integrate.cubature(
            integrand, [lo], [np.inf], rtol=1e-10, atol=1e-12, max_subdivisions=100_000
        )
        if res.status != "converged":
            raise OracleFailedError(
                f"mvd_uncoupled_moments quadrature did not converge for problem {problem.name!r}"
            )
        m1, m2 = (float(v) for v in res.estimate)
        return m1, m2 - m1 * m1

    def weibull(w: np.ndarray) -> np.ndarray:
        return w * np.exp(-0.5 * w * w)

    def maxwell(m: np.ndarray) -> np.ndarray:
        return m * m * np.exp(-0.5 * m * m) / math.sqrt(2.0 * math.pi)

    def normal(z: np.ndarray) -> np.ndarray:
        return np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)

    mp, vp = moments(lambda w: mu + sd * w, weibull, 0.0)
    mn, vn = moments(lambda w: mu - sd * w, weibull, 0.0)
    sp, svp = moments(lambda m: mu + sd * m, maxwell, -np.inf)
    sn, svn = moments(lambda z: mu + sd * z, normal, -np.inf)
    c_mu, c_sd = 1.0 / (sd * math.sqrt(2.0 * math.pi)), chain / sd
    mean = np.array([c_mu * (mp - mn), c_sd * (sp - sn)])
    var = np.array([c_mu**2 * (vp + vn), c_sd**2 * (svp + svn)])
    return mean, var / n
