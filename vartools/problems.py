"""Problem = (name, dist, f): the setting whose gradient d/dtheta E_p[f(x)] is estimated.

The module also holds the catalogue of named settings that the command line and
the experiments refer to (``SETTINGS``, ``make_problem``).

Example:
    >>> import numpy as np
    >>> from vartools.distributions import Bernoulli
    >>> prob = Problem("toy", Bernoulli(logits=[0.0, 0.0]), lambda b: b.sum(-1))
    >>> prob.evaluate(np.ones((4, 3, 2))).shape
    (4, 3)
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from vartools.distributions import Bernoulli, Categorical, Distribution, Normal
from vartools.objectives import (
    Objective,
    cosine,
    gaussian_bump,
    separable,
    shifted_square,
    square_distance,
)

__all__ = ["Problem", "SETTINGS", "make_problem", "nearest_name"]


@dataclass(frozen=True, eq=False)
class Problem:
    """An estimation problem: the gradient of E_{x ~ dist}[f(x)] with respect to dist.params.

    Args:
        name: label used in tables and on the command line.
        dist: the sampling distribution (its flat ``params`` are theta).
        f: vectorised objective (*R, n, *event) -> (*R, n); an ``Objective`` also
            provides its gradient.
        grad_f: df/dx, (*R, n, *event) -> same shape; taken from ``f.grad`` when f
            is an ``Objective`` and this is None. Needed by the pathwise estimator.
        description: free text for tables and metadata.
    """

    name: str
    dist: Distribution
    f: Callable[[np.ndarray], np.ndarray]
    grad_f: Callable[[np.ndarray], np.ndarray] | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.dist, Distribution):
            raise TypeError(
                f"dist must be a vartools Distribution (Bernoulli, Categorical, Normal, ...), "
                f"got {type(self.dist).__name__}"
            )
        if not callable(self.f):
            raise TypeError(f"f must be callable x -> f(x) of shape (*R, n), got {self.f!r}")
        if self.grad_f is None and isinstance(self.f, Objective) and self.f.grad is not None:
            object.__setattr__(self, "grad_f", self.f.grad)

    def with_params(self, theta: Any) -> Problem:
        """The same problem with the distribution moved to the flat parameters ``theta``."""
        return replace(self, dist=self.dist.with_params(theta))

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        """f(x), checked: shape (*R, n) for x of shape (*R, n, *event), finite values.

        Raises:
            ValueError: if f returns the wrong shape or a NaN / infinite value.
        """
        fx = np.asarray(self.f(x), dtype=np.float64)
        want = x.shape[: x.ndim - len(self.dist.event_shape)]
        if fx.shape != want:
            raise ValueError(
                f"f of problem {self.name!r} returned shape {fx.shape} for x of shape {x.shape}; "
                f"it must return one value per sample, shape {want} (reduce over the event "
                "axes, e.g. .sum(-1), and keep the leading axes)"
            )
        if not np.isfinite(fx).all():
            raise ValueError(
                f"f of problem {self.name!r} returned a NaN or infinite value; f must be finite "
                "on the whole support of dist"
            )
        return fx

    def evaluate_grad(self, x: np.ndarray) -> np.ndarray:
        """df/dx, checked for shape and finiteness; a clear error when f has no gradient."""
        if self.grad_f is None:
            raise ValueError(
                f"problem {self.name!r} has no gradient of f; the pathwise estimator needs "
                "one: pass grad_f=... to Problem or use an Objective with grad"
            )
        g = np.asarray(self.grad_f(x), dtype=np.float64)
        if g.shape != x.shape:
            raise ValueError(
                f"grad_f of problem {self.name!r} returned shape {g.shape}, expected the shape "
                f"of x, {x.shape}"
            )
        if not np.isfinite(g).all():
            raise ValueError(f"grad_f of problem {self.name!r} returned a NaN or infinite value")
        return g


def _bern200() -> Problem:
    return Problem(
        "bern200",
        Bernoulli(np.linspace(-2.0, 2.0, 200)),
        square_distance(0.45),
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
    # dependency-aware estimators (vartools.rao_blackwell) can use the structure.
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


#: Named settings: name -> factory(**kwargs) -> Problem.
SETTINGS: dict[str, Callable[..., Problem]] = {
    "bern200": _bern200,
    "liu_toy": _liu_toy,
    "rebar_toy": _rebar_toy,
    "double_cv_toy": _double_cv_toy,
    "gaussian_cost": _gaussian_cost,
    "cat_table": _cat_table,
}


# -- reinforcement learning with time (vartools.catalogue.rl, imported lazily: it imports
# this module) ------------------------------------------------------------------------------
def _rl_mdp(theta: Any = "zero", horizon: int = 4) -> Problem:
    from vartools.catalogue.rl.problems import mdp_problem

    return mdp_problem(theta, horizon)


def _rl_gym(env_id: str = "CartPole-v1", horizon: int | None = None) -> Problem:
    from vartools.catalogue.rl.gym import gym_problem

    return gym_problem(env_id, horizon=horizon)


SETTINGS["rl_mdp"] = _rl_mdp
SETTINGS["rl_gym"] = _rl_gym


def nearest_name(name: str, valid: list[str] | tuple[str, ...]) -> str:
    """A hint naming the valid entry closest to ``name`` (for error messages)."""
    close = difflib.get_close_matches(name, list(valid), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"valid names are {sorted(valid)}{hint}"


def make_problem(name: str, **kwargs: Any) -> Problem:
    """Build a named setting from the catalogue, e.g. ``make_problem("liu_toy", eta=-4)``."""
    if name not in SETTINGS:
        raise ValueError(f"unknown setting {name!r}; {nearest_name(name, tuple(SETTINGS))}")
    return SETTINGS[name](**kwargs)
