"""Named estimators, base estimators and reducers, for the command line and experiments.

Three plain dicts map names to zero-argument factories; add an entry to extend them
(the catalogue modules register theirs the same way)::

    ESTIMATORS["sf+rb"] = lambda: make_estimator(score_function, rao_blackwell(), name="sf+rb")

``get_estimator(name)`` looks ``name`` up in ``ESTIMATORS`` first; failing that it
reads ``name`` as ``base+reducer+reducer...`` with the base from ``BASES`` and
each reducer from ``REDUCERS`` (applied in order), so ``"sf+const+loo"`` works
without an entry. The estimator's table name is always the name asked for.

Example:
    >>> get_estimator("sf+loo").name
    'sf+loo'
    >>> get_estimator("pathwise").base.name
    'pathwise'
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from vartools.control_variates import (
    ControlVariate,
    constant_baseline,
    ema_baseline,
    loo_baseline,
)
from vartools.estimators import (
    BaseEstimator,
    Estimator,
    make_estimator,
    pathwise,
    score_function,
)
from vartools.problems import nearest_name

__all__ = [
    "BASES",
    "ESTIMATORS",
    "REDUCERS",
    "estimator_names",
    "get_estimator",
    "register_estimator",
]

#: Base estimators by name: name -> factory() -> BaseEstimator.
BASES: dict[str, Callable[[], BaseEstimator]] = {
    "sf": lambda: score_function,
    "pathwise": lambda: pathwise,
}

#: Variance reducers (control variates) by name: name -> factory() -> ControlVariate.
REDUCERS: dict[str, Callable[[], ControlVariate]] = {
    "loo": loo_baseline,
    "ema": lambda: ema_baseline(0.9),
    "const": lambda: constant_baseline(0.0),
}


def _composed(spec: str) -> Callable[[], Estimator]:
    def factory() -> Estimator:
        base, *reducers = spec.split("+")
        return make_estimator(BASES[base](), *(REDUCERS[r]() for r in reducers), name=spec)

    return factory


#: Named estimators: name -> factory() -> Estimator (the table name is the key).
ESTIMATORS: dict[str, Callable[[], Estimator]] = {
    name: _composed(name) for name in ("sf", "sf+loo", "sf+ema", "pathwise")
}


def register_estimator(name: str, factory: Callable[[], Estimator]) -> None:
    """Add (or replace) a named estimator; ``factory()`` must return an Estimator."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string, got {name!r}")
    if not callable(factory):
        raise TypeError(
            f"factory must be a zero-argument callable returning an Estimator, got {factory!r}"
        )
    ESTIMATORS[name] = factory


def estimator_names() -> list[str]:
    """The registered estimator names, sorted."""
    return sorted(ESTIMATORS)


def get_estimator(name: str) -> Estimator:
    """The estimator called ``name``: a registered one, or a ``base+reducer...`` composition.

    Raises:
        ValueError: for an unknown name, naming the nearest valid name.
    """
    if not isinstance(name, str):
        raise TypeError(f"estimator name must be a string, got {name!r}")
    if name in ESTIMATORS:
        est = ESTIMATORS[name]()
    else:
        base, *reducers = name.split("+")
        if base not in BASES:
            raise ValueError(
                f"unknown estimator {name!r}; {nearest_name(name, tuple(ESTIMATORS))} "
                f"(or compose base+reducer with bases {sorted(BASES)} and reducers "
                f"{sorted(REDUCERS)})"
            )
        for r in reducers:
            if r not in REDUCERS:
                close = difflib.get_close_matches(name, list(ESTIMATORS), n=1)
                also = f" (nearest registered estimator: {close[0]!r})" if close else ""
                raise ValueError(
                    f"unknown reducer {r!r} in estimator {name!r}; "
                    f"{nearest_name(r, tuple(REDUCERS))}{also}"
                )
        est = _composed(name)()
    if not isinstance(est, Estimator):
        raise TypeError(f"the factory registered as {name!r} returned {est!r}, not an Estimator")
    return est
