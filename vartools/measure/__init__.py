"""Replicated measurement: variance with CIs, statistics, tables and their schema."""

__all__: list[str] = []
