"""Settings of the reproduced experiments that need more than a distribution and an objective.

Each module holds one family: its model, its problems and its exact oracles. A family's
distribution may live in a sibling module ``<family>_<name>.py``, whose names the family's
module re-exports.
"""

__all__: list[str] = []
