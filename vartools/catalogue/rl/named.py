"""The named RL estimators of the command line and experiments (``vartools.catalogue.registry``).

Names (one-episode terms; "(s)" state baselines, "(t)" time-indexed ones):
``reinforce``, ``rtg`` (reward-to-go), ``rtg+const(1)``, ``rtg+ema(t)``, ``rtg+loo(t)``,
``rtg+V(s)`` (exact V_t), ``rtg+Vbar(s)`` (time-agnostic critic), ``rtg+b*(s)`` (optimal
state baseline), ``gae(<lam>,V*)`` and ``gae(<lam>,Vbar)`` for lam in 0, 0.5, 0.9, 0.95, 1.

Example:
    >>> sorted(RL_ESTIMATORS)[:3]
    ['gae(0,V*)', 'gae(0,Vbar)', 'gae(0.5,V*)']
"""

from __future__ import annotations

from collections.abc import Callable

from vartools.catalogue.rl.baselines import (
    constant_step_baseline,
    critic_baseline,
    optimal_state_baseline,
    state_value_baseline,
    time_ema_baseline,
    time_loo_baseline,
)
from vartools.catalogue.rl.estimators import (
    exact_critic,
    gae,
    reinforce,
    reward_to_go,
    time_agnostic_critic,
)
from vartools.core.control_variate import ControlVariate
from vartools.estimators.base import BaseEstimator
from vartools.estimators.composed import Estimator, make_estimator

__all__ = ["RL_ESTIMATORS", "rl_estimator"]


def _mk(name: str, base: Callable[[], BaseEstimator], *cvs: Callable[[], ControlVariate]):
    return lambda: make_estimator(base(), *(cv() for cv in cvs), name=name)


#: name -> factory() -> Estimator.
RL_ESTIMATORS: dict[str, Callable[[], Estimator]] = {
    "reinforce": _mk("reinforce", reinforce),
    "rtg": _mk("rtg", reward_to_go),
    "rtg+const(1)": _mk("rtg+const(1)", reward_to_go, lambda: constant_step_baseline(1.0)),
    "rtg+ema(t)": _mk("rtg+ema(t)", reward_to_go, time_ema_baseline),
    "rtg+loo(t)": _mk("rtg+loo(t)", reward_to_go, time_loo_baseline),
    "rtg+V(s)": _mk("rtg+V(s)", reward_to_go, state_value_baseline),
    "rtg+Vbar(s)": _mk(
        "rtg+Vbar(s)", reward_to_go, lambda: critic_baseline(time_agnostic_critic())
    ),
    "rtg+b*(s)": _mk("rtg+b*(s)", reward_to_go, optimal_state_baseline),
}
for _lam in (0.0, 0.5, 0.9, 0.95, 1.0):
    for _label, _critic in (("V*", exact_critic), ("Vbar", time_agnostic_critic)):
        _name = f"gae({_lam:g},{_label})"
        RL_ESTIMATORS[_name] = _mk(
            _name,
            lambda lam=_lam, critic=_critic: gae(lam, critic()),  # type: ignore[misc]
        )


def rl_estimator(name: str) -> Estimator:
    """The named RL estimator (see the module docstring)."""
    if name not in RL_ESTIMATORS:
        raise ValueError(f"unknown RL estimator {name!r}; valid names are {sorted(RL_ESTIMATORS)}")
    return RL_ESTIMATORS[name]()
