"""Seed trees: every random draw in vartools comes from a named node of one tree.

A node is ``SeedSequence(root, spawn_key=key)`` where the key is built from
stable integers (problem names are hashed with CRC-32, not Python's salted
``hash``), so results depend only on the root seed and the node, never on the
order in which work is done, the chunking, the worker count or the executor.
Library functions take ``rng``; only entry points take a seed.

Example:
    >>> a = generator(0, "bern200", 16, 3).random()
    >>> b = generator(0, "bern200", 16, 3).random()
    >>> a == b
    True
"""

from __future__ import annotations

import secrets
import zlib
from typing import Any

import numpy as np

__all__ = ["generator", "resolve_seed", "seed_node", "stable_key"]


def resolve_seed(seed: Any) -> int:
    """A root seed: the given non-negative int, or fresh entropy when ``seed`` is None."""
    if seed is None:
        return secrets.randbits(64)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
    return int(seed)


def stable_key(part: Any) -> int:
    """A stable non-negative integer for a key part (ints kept, strings CRC-32 hashed)."""
    if isinstance(part, bool):
        return int(part)
    if isinstance(part, int | np.integer):
        if part < 0:
            raise ValueError(f"seed-tree key parts must be >= 0, got {part}")
        return int(part)
    if isinstance(part, str):
        return zlib.crc32(part.encode("utf-8"))
    raise TypeError(f"seed-tree key parts must be ints or strings, got {part!r}")


def seed_node(root: int, *key: Any) -> np.random.SeedSequence:
    """The seed-tree node ``key`` under ``root``."""
    return np.random.SeedSequence(root, spawn_key=tuple(stable_key(k) for k in key))


def generator(root: int, *key: Any) -> np.random.Generator:
    """A PCG64 generator for the node ``key`` under ``root``."""
    return np.random.Generator(np.random.PCG64(seed_node(root, *key)))
