"""REBAR's relaxed noise and control-variate direction, dispatched by capability.

Everything here asks the distribution for the ``conditional_relaxation`` capability
(``vartools.core.capabilities``: z, b = H(z), z~ ~ p(z | b) from two uniforms, the
relaxation sigma_lam(z) and the map from the location of z to theta) and the
``relaxation`` capability (``relaxed_vjp``, the Jacobian of sigma_lam), never for a
class. Bernoulli (Tucker et al. 2017, sec. 3: logistic noise, sigma_lam(z) =
sigmoid(z / lam)) and Categorical (their appendix: Gumbel-max with the Gumbels
conditioned on their argmax, sigma_lam(z) = softmax(z / lam)) implement both; a user
distribution that implements them works too.

f at relaxed points comes from ``relaxed_objective``: the ``relaxed=`` argument, else
the problem's ``relaxed`` objective, else (when relaxed values are outcomes,
``relaxation_in_outcome_space``) the problem's own f and ``grad_f``.
"""

from __future__ import annotations

import numpy as np

from vartools.core.distribution import Distribution
from vartools.core.errors import NotSupportedError
from vartools.core.objectives import Objective
from vartools.core.problem import Problem

__all__ = ["rebar_direction", "relaxed_objective", "require_capabilities"]


def require_capabilities(problem: Problem, who: str, *capabilities: str) -> Distribution:
    """The problem's distribution if it has every capability, else an error naming all three.

    Raises:
        NotSupportedError (a TypeError): "<who> does not support <Distribution> ...: it
            needs the capabilities [...]".
    """
    dist = problem.dist
    missing = [c for c in capabilities if not dist.supports(c)]
    if missing:
        raise NotSupportedError(
            f"{who} does not support {type(dist).__name__} (problem {problem.name!r}): it "
            f"needs the distribution capabilities {missing}, which {type(dist).__name__} does "
            "not implement (Bernoulli and Categorical do; see vartools.core.capabilities)"
        )
    return dist


def relaxed_objective(problem: Problem, who: str, relaxed: Objective | None) -> Objective:
    """f with its gradient on the relaxed space (see the module docstring).

    Raises:
        TypeError: no objective on the relaxed space (categoricals without ``relaxed``),
            or one without a gradient.
        ValueError: relaxed values are outcomes but the problem has no ``grad_f``.
    """
    obj = relaxed if relaxed is not None else problem.relaxed
    dist = problem.dist
    if obj is not None:
        if obj.grad is None:
            raise TypeError(
                f"{who} needs the gradient of the relaxed objective; the Objective given for "
                f"problem {problem.name!r} has grad=None: pass Objective(value, grad)"
            )
        return obj
    if dist.relaxation_in_outcome_space:
        if problem.grad_f is None:
            raise ValueError(
                f"{who} evaluates f and its gradient at relaxed values in (0, 1); problem "
                f"{problem.name!r} has no grad_f: pass grad_f=... to Problem or use an "
                "Objective with grad (e.g. square_distance)"
            )
        return Objective(problem.evaluate, problem.evaluate_grad, name="f")
    raise TypeError(
        f"{who} on {type(dist).__name__} needs f on one-hot vectors with its gradient: pass "
        f"relaxed=Objective(value, grad) taking (*R, n, *batch, K) arrays to {who}(...) or "
        "to the Problem (Problem(..., relaxed=...))"
    )


def rebar_direction(
    problem: Problem,
    u: np.ndarray,
    v: np.ndarray,
    temperature: float,
    relaxed: Objective | None = None,
    who: str = "rebar",
) -> tuple[np.ndarray, np.ndarray]:
    """REBAR's control-variate direction C_lam (*R, n, p) for uniforms u, v.

    C_lam = -f(sigma_lam(z~)) s(b) + grad_theta f(sigma_lam(z)) - grad_theta f(sigma_lam(z~)),
    so that the estimator's terms are f(b) s(b) + eta C_lam. Also returns f(sigma_lam(z~))
    (*R, n). Two evaluations of f and its gradient at relaxed points per sample. u, v
    have the shape ``dist.relaxed_noise_shape((*R, n))``.
    """
    dist = require_capabilities(problem, who, "conditional_relaxation", "relaxation")
    obj = relaxed_objective(problem, who, relaxed)
    lam = float(temperature)
    cr = dist.conditional_relaxation(u, v)
    lead = cr.b.shape[: cr.b.ndim - len(dist.event_shape)]
    p = dist.n_params
    y, yt = dist.relax_noise(cr.z, lam), dist.relax_noise(cr.z_tilde, lam)
    grad_y = np.asarray(obj.grad(y), dtype=np.float64)  # type: ignore[misc]
    grad_yt = np.asarray(obj.grad(yt), dtype=np.float64)  # type: ignore[misc]
    gz = dist.relaxed_vjp(y, grad_y, lam)
    gzt = dist.relaxed_vjp(yt, grad_yt, lam) * cr.dz_tilde.reshape(*lead, p)
    f_zt = np.asarray(obj.value(yt), dtype=np.float64)
    s = dist.score(cr.b)
    c = -f_zt[..., None] * s + dist.location_vjp(gz) - dist.location_vjp(gzt)
    return c, f_zt
