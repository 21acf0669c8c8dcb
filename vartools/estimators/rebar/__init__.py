"""REBAR (Tucker et al. 2017): the estimator, its relaxed noise and its quadrature oracle."""

__all__: list[str] = []
