"""Core contracts: Batch, Problem, the Distribution and ControlVariate protocols.

Also objectives, seed trees, optimizers and input validation. Imports nothing else of
vartools.
"""

__all__: list[str] = []
