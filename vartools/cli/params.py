"""Checked command-line values: ``--param KEY=VALUE`` for a setting, and numeric options.

``setting_kwargs(name, items)`` turns the repeated ``--param`` options of
``vartools compare`` into keyword arguments of the setting's factory, checked
against its signature before the factory runs: every key must be a parameter of
the setting (the error lists the valid keys and the nearest one), a key may be given
once, and each value must fit the type of the parameter's default: a finite number
for a float, an integer for an int (at least 1 for a size, at least 0 for ``seed``),
any text for a string.

Example:
    >>> from vartools.catalogue.settings import SETTINGS
    >>> setting_kwargs("cat_table", ["n_vars=2", "seed=7"], SETTINGS)
    {'n_vars': 2, 'seed': 7}
    >>> try:
    ...     setting_kwargs("liu_toy", ["etta=1"], SETTINGS)
    ... except ValueError as e:
    ...     print(e)
    setting 'liu_toy' has no parameter 'etta'; its parameters are ['eta']; did you mean 'eta'?
"""

from __future__ import annotations

import argparse
import ast
import difflib
import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["INT_MINIMUM", "at_least", "parse_value", "setting_kwargs"]

#: Smallest accepted value of an integer setting parameter; sizes (the default) need 1.
INT_MINIMUM = {"seed": 0}


def parse_value(text: str) -> Any:
    """A Python literal (number, string in quotes, tuple, ...) or else the text itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _check_value(setting: str, key: str, value: Any, default: Any) -> Any:
    """``value`` converted to the type of ``default``; a ValueError naming the fix if not."""
    where = f"--param {key}={value!r} of setting {setting!r}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{where}: {key} must be True or False")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: {key} must be an integer, e.g. {key}={default}")
        low = INT_MINIMUM.get(key, 1)
        if value < low:
            raise ValueError(f"{where}: {key} must be an integer >= {low}, e.g. {key}={default}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{where}: {key} must be a finite number, e.g. {key}={default:g}")
        if not math.isfinite(value):
            raise ValueError(f"{where}: {key} must be a finite number, e.g. {key}={default:g}")
        return float(value)
    if isinstance(default, str):
        return value if isinstance(value, str) else str(value)
    return value


def setting_kwargs(
    setting: str, items: Sequence[str], settings: Mapping[str, Callable[..., Any]]
) -> dict[str, Any]:
    """The checked keyword arguments of a setting from ``KEY=VALUE`` strings.

    Args:
        setting: the setting's name (a key of ``settings``; an unknown name is left
            to ``make_problem``, which names the valid ones).
        items: the ``--param`` values, each ``KEY=VALUE``.
        settings: name -> factory(**kwargs) -> Problem.

    Returns:
        The keyword arguments, converted to the types of the factory's defaults.

    Raises:
        ValueError: a malformed item, a repeated key, a key the setting does not take
            (listing the valid keys and the nearest), or a value of the wrong type or
            range (an integer size of at least 1, a finite number, ...).
    """
    out: dict[str, Any] = {}
    raw: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--param must look like NAME=VALUE (e.g. eta=-4), got {item!r}")
        if key in out:
            raise ValueError(
                f"--param {key} is given twice ({raw[key]} and {item}); give each parameter once"
            )
        raw[key] = item
        out[key] = parse_value(value.strip())
    if setting not in settings:
        return out
    params = inspect.signature(settings[setting]).parameters
    valid = [k for k, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    for key, value in out.items():
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            listed = f"its parameters are {valid}" if valid else "it takes no parameters"
            raise ValueError(f"setting {setting!r} has no parameter {key!r}; {listed}{hint}")
        default = params[key].default
        if default is not inspect.Parameter.empty:
            out[key] = _check_value(setting, key, value, default)
    return out


def at_least(low: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer >= ``low`` (argparse reports the error, exit 2).

    Example:
        >>> at_least(0)("3")
        3
    """

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {value}")
        return value

    convert.__name__ = f"integer >= {low}"
    return convert
