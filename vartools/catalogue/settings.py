"""The catalogue of named settings that the command line and the experiments refer to.

``SETTINGS`` maps a name to a factory ``(**kwargs) -> Problem``; ``make_problem`` builds one.

Example:
    >>> prob = make_problem("liu_toy", eta=-4)
    >>> prob.dist.n_params
    3
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from vartools.catalogue.rl.gym import gym_problem
from vartools.catalogue.rl.problems import mdp_problem
from vartools.core.objectives import (
    cosine,
    gaussian_bump,
    separable,
    shifted_square,
    square_distance,
)
from vartools.core.problem import Problem
from vartools.core.validation import nearest_name
from vartools.distributions.beta import Beta
from vartools.distributions.discrete.bernoulli import Bernoulli
from vartools.distributions.discrete.categorical import Categorical
from vartools.distributions.normal import Normal
from vartools.distributions.poisson import Poisson

__all__ = ["SETTINGS", "make_problem"]


def _bern200() -> Problem:
    return Problem(
        "bern200",
        Bernoulli(np.linspace(-2.0, 2.0, 200)),
        # declared separable (one term per coordinate): exact oracles by closed forms
        separable(
            lambda b: (b - 0.45) ** 2, 200, grad=lambda b: 2.0 * (b - 0.45), name="sum (x - 0.45)^2"
        ),
        description="200 Bernoullis, logits linspace(-2, 2), f = sum (b - 0.45)^2",
    )


def _liu_toy(eta: float = 0.0) -> Problem:
    # Liu et al. (2019) / Kool et al. (2020): 3 Bernoullis sharing one logit; here each
    # coordinate has its own logit (all equal to eta), so the gradient of the shared logit is
    # the sum of the per-coordinate gradients.
    p0 = np.array([0.6, 0.51, 0.48])
    return Problem(
        f"liu_toy(eta={eta:g})",
        Bernoulli(np.full(3, float(eta))),
        square_distance(p0),
        description="3 Bernoullis, f = sum (z - p0)^2, p0 = (0.6, 0.51, 0.48)",
    )


def _rebar_toy(t: float = 0.45, logit: float = 0.0) -> Problem:
    return Problem(
        f"rebar_toy(t={t:g})",
        Bernoulli(np.array([float(logit)])),
        square_distance(t),
        description=f"one Bernoulli, f = (b - {t:g})^2 (Tucker et al. 2017)",
    )


def _double_cv_toy(d: int = 200, t: float = 0.499, eta: float = 0.0) -> Problem:
    # Titsias & Shi (2022): f(b) = ||b - t||^2 / D, declared as D per-coordinate terms so that
    # dependency-aware estimators (vartools.estimators.rao_blackwell) can use the structure.
    d, t = int(d), float(t)
    return Problem(
        f"double_cv_toy(D={d},t={t:g})",
        Bernoulli(np.full(d, float(eta))),
        separable(lambda b: (b - t) ** 2 / d, d, grad=lambda b: 2.0 * (b - t) / d, name="quad"),
        description=f"{d} Bernoullis, f = ||b - {t:g}||^2 / {d} (Titsias & Shi 2022)",
    )


def _gaussian_cost(cost: str = "cos", k: float = 1.0, loc: float = 1.0, scale: float = 1.0):
    makers = {"square": shifted_square, "bump": gaussian_bump, "cos": cosine}
    if cost not in makers:
        raise ValueError(f"cost must be one of {sorted(makers)}, got {cost!r}")
    f = makers[cost](k)
    return Problem(
        f"gauss_{cost}(k={k:g})",
        Normal(np.array([float(loc)]), np.array([float(scale)])),
        f,
        description=f"x ~ N({loc:g}, {scale:g}^2), f = {f.name} (Mohamed et al. 2020)",
    )


def _cat_table(n_vars: int = 3, n_classes: int = 4, seed: int = 0) -> Problem:
    rng = np.random.default_rng(seed)
    table = rng.normal(size=(n_vars, n_classes))
    logits = rng.normal(size=(n_vars, n_classes))
    idx = np.arange(n_vars)

    def f(z: np.ndarray) -> np.ndarray:
        vals = table[idx, z]
        return vals.sum(-1) + vals[..., 0] * vals[..., -1]  # non-separable

    return Problem(
        f"cat_table({n_vars}x{n_classes})",
        Categorical(logits),
        f,
        description="independent categoricals, f = sum table[j, z_j] + interaction",
    )


def _poisson_square(rate: float = 3.0, t: float = 2.0) -> Problem:
    # d/drate E[(x - t)^2] = 1 + 2 rate - 2 t (E[x] = rate, E[x^2] = rate + rate^2)
    return Problem(
        f"poisson_square(rate={rate:g},t={t:g})",
        Poisson(np.array([float(rate)])),
        square_distance(float(t)),
        description=f"x ~ Poisson({rate:g}), f = (x - {t:g})^2",
    )


def _beta_square(a: float = 2.0, b: float = 3.0, t: float = 0.5) -> Problem:
    return Problem(
        f"beta_square(a={a:g},b={b:g},t={t:g})",
        Beta(np.array([float(a)]), np.array([float(b)])),
        square_distance(float(t)),
        description=f"x ~ Beta({a:g}, {b:g}), f = (x - {t:g})^2",
    )


#: Named settings: name -> factory(**kwargs) -> Problem.
SETTINGS: dict[str, Callable[..., Problem]] = {
    "bern200": _bern200,
    "liu_toy": _liu_toy,
    "rebar_toy": _rebar_toy,
    "double_cv_toy": _double_cv_toy,
    "gaussian_cost": _gaussian_cost,
    "cat_table": _cat_table,
    "poisson_square": _poisson_square,
    "beta_square": _beta_square,
}


# -- reinforcement learning with time (vartools.catalogue.rl) --------------------------------
def _rl_mdp(theta: Any = "zero", horizon: int = 4) -> Problem:
    return mdp_problem(theta, horizon)


def _rl_gym(env_id: str = "CartPole-v1", horizon: int | None = None) -> Problem:
    return gym_problem(env_id, horizon=horizon)


SETTINGS["rl_mdp"] = _rl_mdp
SETTINGS["rl_gym"] = _rl_gym


def make_problem(name: str, **kwargs: Any) -> Problem:
    """Build a named setting from the catalogue, e.g. ``make_problem("liu_toy", eta=-4)``."""
    if name not in SETTINGS:
        raise ValueError(f"unknown setting {name!r}; {nearest_name(name, tuple(SETTINGS))}")
    return SETTINGS[name](**kwargs)
