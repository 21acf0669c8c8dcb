"""Figures from result tables, shared by ``vartools plot`` and paper/."""

__all__: list[str] = []
