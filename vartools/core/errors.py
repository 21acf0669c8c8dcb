"""Exceptions that callers are expected to catch: a missing oracle, an unsupported capability.

``NoOracleError`` is the one signal that an exact oracle does not apply (no oracle
for this problem, estimator or sampler, or the enumeration exceeds its budget). Code
that falls back to Monte Carlo or to NaN when there is no oracle catches
``NoOracleError`` and nothing else, so a bug inside an oracle (a ``ValueError`` from a
NaN in f, a ``TypeError`` from a wrong shape) surfaces as an error instead of a NaN.

``NotSupportedError`` is raised by a ``Distribution`` capability (enumeration, local
expectations, relaxations, coupled samples...) that a distribution does not
implement; ``Distribution.supports(name)`` asks first.

Both also derive from the built-in exception the code raised before they existed
(``ValueError`` and ``TypeError``), as ``numpy.exceptions.AxisError`` derives from
both ``ValueError`` and ``IndexError``: code written against the old behaviour keeps
working.

Example:
    >>> issubclass(NoOracleError, LookupError), issubclass(BudgetExceededError, NoOracleError)
    (True, True)
"""

from __future__ import annotations

__all__ = [
    "BudgetExceededError",
    "NoOracleError",
    "NotSupportedError",
    "OracleFailedError",
    "OracleWarning",
]


class NoOracleError(LookupError, ValueError):
    """No exact oracle applies: measure by Monte Carlo (callers catch this and nothing else)."""


class BudgetExceededError(NoOracleError):
    """An exact enumeration would exceed its budget (of outcomes, cells or array entries)."""


class OracleFailedError(NoOracleError):
    """An oracle applies but cannot give a trustworthy value (e.g. quadrature did not converge).

    Measurements report NaN for it, with an ``OracleWarning`` that names the cause; they
    are never aborted by it.
    """


class OracleWarning(UserWarning):
    """An exact value is missing from a table because its oracle failed (see the message)."""


class NotSupportedError(TypeError):
    """A distribution does not implement a capability an estimator or sampler needs."""
