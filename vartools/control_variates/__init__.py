"""Control variates: baselines, optimal coefficients, features and fitting."""

__all__: list[str] = []
