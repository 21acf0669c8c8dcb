"""Exact-variance oracles registered per control variate, keyed by its factory's identity.

A control variate built by a factory (``loo_baseline()``) records that factory in
``ControlVariate.factory``; ``register_cv_oracle(factory, oracle)`` attaches an oracle
to every control variate that factory builds, whatever it is named. A hand-built
``ControlVariate`` (``factory=None``) that borrows a name such as ``"loo"`` gets no
oracle: dispatch never reads names (DESIGN.md, "Package layout"). Base estimators
carry their own oracle in ``BaseEstimator.oracle``.

An oracle is ``(problem, estimator, n, state) -> (mean (p,), variance (p,))`` and
raises ``vartools.core.errors.NoOracleError`` where it does not apply, and nothing
else (any other exception is a bug and propagates to the caller).

Example:
    >>> from vartools.control_variates.baselines import loo_baseline
    >>> from vartools.oracles.exact import exact_moments  # registers the RLOO oracle
    >>> cv_oracle(loo_baseline()) is not None
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from vartools.core.control_variate import ControlVariate

__all__ = ["OracleFn", "base_oracle", "cv_oracle", "register_base_oracle", "register_cv_oracle"]

#: (problem, estimator, n, state) -> exact (mean, variance), each (p,).
OracleFn = Callable[[Any, Any, int, Any], tuple[np.ndarray, np.ndarray]]

_CV_ORACLES: dict[Callable[..., ControlVariate], OracleFn] = {}
#: base estimator (hashed by identity: ``BaseEstimator`` has eq=False) -> closed form.
_BASE_ORACLES: dict[Any, OracleFn] = {}


def register_cv_oracle(factory: Callable[..., ControlVariate], oracle: OracleFn) -> None:
    """Attach ``oracle`` to every control variate whose ``factory`` is this very function."""
    if not callable(factory) or not callable(oracle):
        raise TypeError(
            f"factory and oracle must be callables (e.g. loo_baseline and a function "
            f"(problem, estimator, n, state) -> (mean, variance)), got {factory!r} and {oracle!r}"
        )
    _CV_ORACLES[factory] = oracle


def register_base_oracle(base: Any, oracle: OracleFn) -> None:
    """Attach a closed-form ``oracle`` to the plain chains of the base estimator ``base``.

    Keyed by the ``BaseEstimator`` object's identity (``score_function``), and consulted
    only for chains without control variates (``ControlVariate.is_identity``) when the
    enumeration of the n-sample joint exceeds its budget: unlike ``BaseEstimator.oracle``,
    which replaces enumeration, it is a fallback (``vartools.oracles.exact``).
    """
    if not callable(oracle) or not hasattr(base, "sf_terms"):
        raise TypeError(
            f"base must be a BaseEstimator (e.g. score_function) and oracle a function "
            f"(problem, estimator, n, state) -> (mean, variance), got {base!r} and {oracle!r}"
        )
    _BASE_ORACLES[base] = oracle


def base_oracle(base: Any) -> OracleFn | None:
    """The closed form registered for the base estimator ``base`` (this very object), or None."""
    return _BASE_ORACLES.get(base)


def cv_oracle(cv: ControlVariate) -> OracleFn | None:
    """The oracle registered for ``cv``'s factory, or None (always None for hand-built ones)."""
    return None if cv.factory is None else _CV_ORACLES.get(cv.factory)
