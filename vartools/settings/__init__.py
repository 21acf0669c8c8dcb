"""Settings of the reproduced experiments that need more than a distribution and an objective.

Each module holds one family: its model, its problems and its exact oracles.
"""

__all__: list[str] = []
