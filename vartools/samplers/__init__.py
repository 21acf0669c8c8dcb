"""Sampling strategies: iid, antithetic, stratified and randomized quasi-Monte Carlo."""

__all__: list[str] = []
