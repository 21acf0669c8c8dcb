"""Named problems, models and settings, and the registry of estimators by name.

Settings: bandit, finance (Black-Scholes), logistic regression, sigmoid belief net.
"""

__all__: list[str] = []
