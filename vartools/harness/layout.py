"""How the runner splits an experiment into seed blocks and cells: ``Layout``.

Part of an experiment's declaration (``Experiment(layout=Layout(...))``) but not of
what it measures. Example:
    >>> Layout(blocks_per_cell=20).block_size
    256
"""

from __future__ import annotations

from dataclasses import dataclass

from vartools.core.validation import check_positive_int

__all__ = ["Layout"]


@dataclass(frozen=True)
class Layout:
    """How the runner splits an experiment into seed blocks and cells (not what it measures).

    ``block_size`` fixes the seed blocks, so it is part of what defines the numbers
    (the same seed with another block size draws other replicates); the cell sizes
    only decide the unit of parallel work and of caching, never a number.

    Args:
        block_size: replicates per seed block (drawn in one vectorised call).
        blocks_per_cell: seed blocks per cell of a sweep.
        checkpoints_per_cell: trajectory checkpoints per measurement cell.
    """

    block_size: int = 256
    blocks_per_cell: int = 4
    checkpoints_per_cell: int = 10

    def __post_init__(self) -> None:
        check_positive_int(self.block_size, "Layout block_size")
        check_positive_int(self.blocks_per_cell, "Layout blocks_per_cell")
        check_positive_int(self.checkpoints_per_cell, "Layout checkpoints_per_cell")
