"""Enumeration budgets computed without overflow: counts such as 2^p are compared in logs.

An exact enumeration of p Bernoullis has 2^p joint outcomes, of n samples of M outcomes
M^n; computing those counts as floats (``2.0 ** p``) raises ``OverflowError`` from
p = 1024 on, which used to crash ``measure_variance`` on large problems instead of
skipping the oracle. ``power_exceeds`` compares ``factor * base ** exponent`` with a
limit in logarithms (exactly, by integer arithmetic, near the limit), and
``check_power_budget`` raises ``BudgetExceededError`` (a ``NoOracleError``: callers
fall back to Monte Carlo or to a closed form) with the count written as a power.

Example:
    >>> power_exceeds(2, 10_000, 1_000_000), power_exceeds(2, 19, 1_000_000)
    (True, False)
    >>> try:
    ...     check_power_budget(2, 10_000, 1_000_000, "10000 Bernoullis")
    ... except BudgetExceededError as e:
    ...     print(str(e).split(" joint")[0])
    enumerating 10000 Bernoullis needs 2^10000 (about 10^3010.3)
"""

from __future__ import annotations

import math

from vartools.core.errors import BudgetExceededError

__all__ = ["check_budget", "check_power_budget", "power_exceeds"]


def power_exceeds(base: float, exponent: int, limit: float, factor: float = 1.0) -> bool:
    """Whether ``factor * base ** exponent > limit``, without ever overflowing.

    Args:
        base: a count >= 0 (outcomes per coordinate or per sample).
        exponent: an integer >= 0 (coordinates or samples).
        limit: the budget (> 0).
        factor: a multiplier >= 0 (e.g. n * p numbers per joint outcome).
    """
    if base < 0 or exponent < 0 or factor < 0 or limit <= 0:
        raise ValueError(
            f"power_exceeds needs base, exponent, factor >= 0 and limit > 0, got "
            f"base={base}, exponent={exponent}, factor={factor}, limit={limit}"
        )
    if factor == 0 or (base == 0 and exponent > 0):
        return False
    if base <= 1:  # base in (0, 1]: base^exponent <= 1
        return factor * base**exponent > limit
    log_count = exponent * math.log(base) + math.log(factor)
    log_limit = math.log(limit)
    if abs(log_count - log_limit) > 1e-6:  # far from the limit: the logs decide
        return log_count > log_limit
    # Near the limit (so base ** exponent < 2 * limit, no overflow): compare exactly.
    if float(base).is_integer() and float(factor).is_integer():
        return int(factor) * int(base) ** exponent > limit
    return factor * float(base) ** exponent > limit


def _power_text(base: float, exponent: int) -> str:
    b = f"{base:g}"
    log10 = exponent * math.log10(base) if base > 0 else -math.inf
    if log10 < 15:
        return f"{b}^{exponent} = {float(base) ** exponent:.3g}"
    return f"{b}^{exponent} (about 10^{log10:.1f})"


def check_budget(count: float, budget: int, what: str) -> None:
    """Raise ``BudgetExceededError`` when a (finite) ``count`` of outcomes exceeds ``budget``."""
    if count > budget:
        raise BudgetExceededError(
            f"enumerating {what} needs {count:.3g} joint outcomes, more than budget={budget}; "
            "use fewer coordinates or pass a larger budget"
        )


def check_power_budget(base: float, exponent: int, budget: int, what: str) -> None:
    """Raise ``BudgetExceededError`` when ``base ** exponent`` outcomes exceed ``budget``."""
    if power_exceeds(base, exponent, budget):
        raise BudgetExceededError(
            f"enumerating {what} needs {_power_text(base, exponent)} joint outcomes, more "
            f"than budget={budget}; use fewer coordinates or pass a larger budget"
        )
