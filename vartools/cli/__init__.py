"""The ``vartools`` command line."""

__all__: list[str] = []
