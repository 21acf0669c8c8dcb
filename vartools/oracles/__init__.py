"""Exact oracles: enumeration of the joint support, quadrature and closed forms."""

__all__: list[str] = []
