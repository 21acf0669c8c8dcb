"""Names of the parameters of a pytree: ``encoder.w1[3,4]`` for leaf ``encoder.w1``.

The flat parameter vector theta of a JAX model is its pytree's leaves, flattened in
``jax.tree_util`` order and concatenated. Each leaf is a named *block* (a layer's
weights, a bias): dictionary keys and attribute names are joined by dots, sequence
positions appear as numbers (``layers.0.w``), and a pytree that is a single array is
the block ``params``. Coordinates add the index within the leaf, as the native
distributions do (``logits[2,1]``).

Example:
    >>> import numpy as np
    >>> tree_blocks({"enc": {"w": np.zeros((2, 3)), "b": np.zeros(2)}, "c": np.zeros(())})
    [('c', ()), ('enc.b', (2,)), ('enc.w', (2, 3))]
"""

from __future__ import annotations

from typing import Any

from vartools.jax._compat import require_jax

__all__ = ["path_name", "tree_blocks"]


def path_name(path: tuple[Any, ...]) -> str:
    """The dotted name of a leaf from its ``jax.tree_util`` key path."""
    parts = []
    for key in path:
        for attr in ("key", "name", "idx"):
            if hasattr(key, attr):
                parts.append(str(getattr(key, attr)))
                break
        else:
            parts.append(str(key))
    return ".".join(parts) if parts else "params"


def tree_blocks(params: Any) -> list[tuple[str, tuple[int, ...]]]:
    """(name, shape) of every leaf of ``params``, in flattening (theta) order."""
    jax = require_jax()
    leaves, _ = jax.tree_util.tree_flatten_with_path(params)
    out = [(path_name(tuple(path)), tuple(getattr(leaf, "shape", ()))) for path, leaf in leaves]
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise ValueError(
            f"params has leaves with the same name {sorted(names)}; use distinct dictionary "
            "keys so that every parameter block has its own name"
        )
    return out
