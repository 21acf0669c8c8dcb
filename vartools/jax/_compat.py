"""Importing JAX for the optional JAX path, and the scoped 64-bit mode.

``require_jax()`` imports jax or raises an ``ImportError`` that names the extra to
install. ``x64(enabled)`` is a context manager that turns JAX's 64-bit mode on for the
calls inside it only: the JAX path computes in float64 for float64 noise (to match the
native distributions bit for bit where the operations agree) and in float32 for
float32 noise (the opt-in fast mode), without changing the global ``jax_enable_x64``
flag that other JAX code in the same process relies on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["JAX_MISSING", "require_jax", "x64"]

JAX_MISSING = (
    'the JAX path of vartools needs JAX, an optional extra: pip install "vartools[jax]" '
    "(or: pip install jax; for a GPU, JAX's CUDA build, see the JAX installation guide)"
)


def require_jax() -> Any:
    """The ``jax`` module, or an ImportError naming ``pip install "vartools[jax]"``."""
    try:
        import jax
    except ImportError as exc:
        raise ImportError(JAX_MISSING) from exc
    return jax


@contextlib.contextmanager
def x64(enabled: bool) -> Iterator[None]:
    """JAX's 64-bit mode on (``enabled``) or unchanged, for the calls inside the block only."""
    if not enabled:
        yield
        return
    jax = require_jax()
    scope = getattr(jax, "enable_x64", None)
    if scope is not None:  # jax >= 0.6: a config context manager
        with scope(True):
            yield
        return
    from jax.experimental import enable_x64  # type: ignore[attr-defined]  # jax 0.4.x

    with enable_x64():
        yield
