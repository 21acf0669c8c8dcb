"""Experiments: declaration, loading, cache keys, cells, runner, executors, storage."""

__all__: list[str] = []
